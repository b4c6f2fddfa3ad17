"""Typed records passed between stages.

Every stage is a plain function that takes and returns these. They are frozen, hold only plain data
(str, numbers, tuples, nested records) so that Parsl can pickle them between processes, and carry
their units in field names.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# ------------------------------------------------------------------------------------------------
# Sandboxed commands


class FailureKind(enum.StrEnum):
    """Why a sandboxed command did not succeed. `None` on a record means it did."""

    TIMEOUT = "timeout"  # wall-clock limit reached; the whole process tree was killed
    CPU_LIMIT = "cpu-limit"  # RLIMIT_CPU exceeded (SIGXCPU / SIGKILL)
    MEMORY_LIMIT = "memory-limit"  # allocation refused or killed under the address-space limit
    FILE_SIZE_LIMIT = "file-size-limit"  # a write beyond RLIMIT_FSIZE (SIGXFSZ)
    PROCESS_LIMIT = "process-limit"  # fork refused under the process limit
    OUTPUT_LIMIT = "output-limit"  # stdout or stderr beyond the capture limit
    SIGNAL = "signal"  # killed by another signal (segfault, abort, ...)
    EXIT_CODE = "exit-code"  # exited with a non-zero status
    SANDBOX = "sandbox"  # the sandbox itself could not start the command


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits applied to one sandboxed command."""

    wall_s: float = 120.0
    cpu_s: float = 600.0
    memory_bytes: int = 8 * 2**30
    file_size_bytes: int = 512 * 2**20
    processes: int = 256
    output_bytes: int = 4 * 2**20
    network: bool = False


@dataclass(frozen=True)
class CommandResult:
    """What happened when one command ran in the sandbox.

    `stdout` and `stderr` are decoded (UTF-8, errors replaced) and cut at the output limit.
    `started_at_s` / `ended_at_s` are host wall-clock times (time.time()), so that an energy sampler
    on the same host can place the run inside its samples.
    """

    argv: tuple[str, ...]
    cwd: str
    returncode: int | None
    stdout: str
    stderr: str
    wall_s: float
    cpu_s: float
    started_at_s: float
    ended_at_s: float
    failure: FailureKind | None
    failure_detail: str
    isolation: str  # which layers were in force, e.g. "bwrap+rlimits" or "rlimits"

    @property
    def ok(self) -> bool:
        return self.failure is None


# ------------------------------------------------------------------------------------------------
# Build, run, verify


@dataclass(frozen=True)
class BuildResult:
    """A build of one app variant in its own scratch copy."""

    app: str
    variant: str
    toolchain: str
    ok: bool
    command: CommandResult
    build_dir: str  # scratch copy holding sources and the built binary
    binary: str  # path of the executable relative to build_dir; "" when the build failed
    sources_sha256: str  # hash over all source files, in a stable order


@dataclass(frozen=True)
class OutputFile:
    """A file an app writes that the oracle compares; `content` is capped by the manifest."""

    name: str
    content: bytes


@dataclass(frozen=True)
class RunResult:
    """One run of a built binary on one named input."""

    app: str
    variant: str
    input_name: str
    command: CommandResult
    output_files: tuple[OutputFile, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """The harness's correctness decision for one run against its reference.

    `self_check` is the app's own PASS/FAIL line (True/False) or None when it prints none; it can
    only make a verdict fail, never pass one the comparison rejected.
    """

    ok: bool
    input_name: str
    reason: str  # "" when ok
    self_check: bool | None = None
    compared_values: int = 0  # numbers compared, so a vacuous "ok" is visible


# ------------------------------------------------------------------------------------------------
# Energy


class EnergyMethod(enum.StrEnum):
    """How an energy figure was obtained. Only COUNTER and SAMPLED_POWER are measurements."""

    COUNTER = "counter"  # hardware energy counter difference (NVML total energy, AMD SMI, RAPL)
    SAMPLED_POWER = "sampled-power"  # integrated power samples
    ESTIMATE = "estimate"  # a model (e.g. CPU time x nominal watts); never a measurement


@dataclass(frozen=True)
class DeviceIdentity:
    """A device that energy was measured on, named by a stable id (UUID, PCI id), never an index."""

    backend: str  # "nvml", "amdsmi", "rapl", "estimate", "fake"
    kind: str  # "gpu" or "cpu"
    name: str  # e.g. "NVIDIA A100-SXM4-80GB" or the CPU model
    uid: str  # UUID, PCI bus id, or "<hostname>:cpu"
    host: str
    is_fake: bool = False


@dataclass(frozen=True)
class PowerTrace:
    """Power samples of one measured window; times are host seconds relative to the window start."""

    time_s: tuple[float, ...]
    power_w: tuple[float, ...]


@dataclass(frozen=True)
class RepetitionEnergy:
    """One repetition: one measured window in which the executable ran `runs_in_window` times.

    `energy_j` is per run (window energy above idle divided by runs_in_window); so is `duration_s`.
    """

    energy_j: float
    duration_s: float
    average_power_w: float
    idle_power_w: float
    runs_in_window: int
    trace: PowerTrace | None = None


@dataclass(frozen=True)
class EnergyMeasurement:
    """Repeated energy measurement of one executable on one input.

    Statistics are over repetitions: mean, sample standard deviation, half-width of the 95% CI of
    the mean (Student t), coefficient of variation (sd / mean). `flags` lists validity warnings
    such as "cv>5%" or "estimate".
    """

    method: EnergyMethod
    backend: str
    devices: tuple[DeviceIdentity, ...]
    repetitions: tuple[RepetitionEnergy, ...]
    energy_j_mean: float
    energy_j_sd: float
    energy_j_ci95: float
    energy_cv: float
    duration_s_mean: float
    average_power_w_mean: float
    flags: tuple[str, ...] = ()

    @property
    def is_estimate(self) -> bool:
        return self.method is EnergyMethod.ESTIMATE


# ------------------------------------------------------------------------------------------------
# Baseline (profile of the original)


class StageStatus(enum.StrEnum):
    OK = "ok"
    BUILD_FAILED = "build-failed"
    RUN_FAILED = "run-failed"
    VERIFY_FAILED = "verify-failed"
    MEASURE_FAILED = "measure-failed"


@dataclass(frozen=True)
class BaselineRecord:
    """The profile of an app's original version: build, reference runs, checks and energy."""

    app: str
    variant: str
    partition: str
    status: StageStatus
    reason: str
    build: BuildResult
    runs: tuple[RunResult, ...] = ()
    verdicts: tuple[Verdict, ...] = ()
    measurement: EnergyMeasurement | None = None
    extra: tuple[tuple[str, str], ...] = field(default=())
