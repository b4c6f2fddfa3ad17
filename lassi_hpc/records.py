"""Typed records passed between stages.

Every stage is a plain function that takes and returns these. They are frozen, hold only plain data
(str, numbers, tuples, nested records) so that Parsl can pickle them between processes, and carry
their units in field names.
"""

from __future__ import annotations

import enum
import math
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
    # What else the vendor library said, as (key, value) text pairs with units in the keys:
    # ("pci_bus_id", ...), ("driver", ...), ("power_limit_w", "400"), ("sm_clock_mhz", ...),
    # ("temperature_c", ...), and flags such as ("power_reported_by", "<partner uid>").
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PowerTrace:
    """Power samples of one repetition; times are host seconds relative to the window start.

    `power_w` is the measured devices' summed power at each sample. Where the sampler watched the
    node's devices one by one, `device_uids` names them (measured and context devices alike) and
    `device_power_w[d]` holds device d's watts at the same times (NaN: no valid reading).
    """

    time_s: tuple[float, ...]
    power_w: tuple[float, ...]
    device_uids: tuple[str, ...] = ()
    device_power_w: tuple[tuple[float, ...], ...] = ()


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
    # The measured window itself: seconds from the first run's start to the last run's end, and
    # its total energy (idle included) by the measurement's method.
    window_s: float = math.nan
    window_energy_j: float = math.nan
    # The cross-check, over the window plus its settle margins: the counter difference and the
    # integral of the power samples, each NaN when the meter has no counter / no samples.
    counter_energy_j: float = math.nan
    integrated_energy_j: float = math.nan
    start_delay_s: float = math.nan


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
    # Devices sampled alongside the measured ones (the node's other GPUs, its CPU), for the record.
    context_devices: tuple[DeviceIdentity, ...] = ()
    sample_period_s: float = math.nan  # the sampler's configured period; NaN: nothing sampled
    problems: tuple[str, ...] = ()  # readings the backend rejected, one line per kind

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
    # Where it ran: host, Slurm job and partition, Parsl worker, visible GPU (flow/worker_env.py).
    placement: tuple[tuple[str, str], ...] = ()


# ------------------------------------------------------------------------------------------------
# LLM exchanges


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system", "user" or "assistant"
    content: str


@dataclass(frozen=True)
class LLMRequest:
    """One request to an OpenAI-compatible server; `n` > 1 asks for that many independent choices.

    `purpose` says which step asked ("summary", "plan", "refactor", "fix", "no-code", "judge").
    `seed` is the seed of the first choice; when a server ignores `n`, choice i is asked for again
    with seed + i.
    """

    purpose: str
    messages: tuple[ChatMessage, ...]
    max_tokens: int
    temperature: float
    seed: int
    n: int = 1
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class LLMResponse:
    """One choice returned by a server, or the error that ended the request after its retries.

    `latency_s` is the wall time of the HTTP exchange that produced this choice (shared by the
    choices of one `n` request). `error` is "" on success; then `text` holds the answer.
    """

    text: str
    finish_reason: str  # "stop", "length", ... as the server said; "" on error
    model: str  # as the server reported it
    endpoint: str  # base URL; never a key
    seed: int
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    attempts: int  # HTTP attempts made (1 = no retry)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


# ------------------------------------------------------------------------------------------------
# Candidates and trials


class Strategy(enum.StrEnum):
    VANILLA = "vanilla"  # one zero-shot refactoring prompt, then self-correction only
    LASSI_EE = "lassi-ee"  # summary, plan, then one measured change per iteration


class CandidateStatus(enum.StrEnum):
    """How far a candidate got; every gate it failed is a result, never an exception."""

    PASSED = "passed"  # built, ran, matched the original on every input, measured
    NO_CODE = "no-code"  # the answer held no usable code
    SCREEN_FAILED = "screen-failed"  # edit scope or deny-list
    BUILD_FAILED = "build-failed"
    RUN_FAILED = "run-failed"  # crash, non-zero exit, timeout, limit
    VERIFY_FAILED = "verify-failed"  # output differs from the original's, or self-check failed
    MEASURE_FAILED = "measure-failed"


@dataclass(frozen=True)
class ScreenResult:
    """Deterministic checks on a candidate's source before any build."""

    ok: bool
    reason: str  # "" when ok; else which rule, in which file, at which line
    rules_checked: tuple[str, ...] = ()


@dataclass(frozen=True)
class Evaluation:
    """A candidate after screen → build → run every input → verify → measure.

    `failed_command` is the exact command line of the failing step (shown to the LLM when asking
    for a fix) and `log` its trimmed output; both "" when the candidate passed.
    """

    status: CandidateStatus
    reason: str
    failed_command: str = ""
    log: str = ""
    screen: ScreenResult | None = None
    build: BuildResult | None = None
    runs: tuple[RunResult, ...] = ()
    verdicts: tuple[Verdict, ...] = ()
    measurement: EnergyMeasurement | None = None
    # Host wall-clock times (time.time()) on the worker: the device time this evaluation took.
    started_at_s: float = 0.0
    ended_at_s: float = 0.0
    # Where it ran: host, Slurm job and partition, Parsl worker, visible GPU (flow/worker_env.py).
    placement: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SourceFile:
    name: str  # relative to the variant directory, one of the manifest's editable files
    text: str


class JudgeDecision(enum.StrEnum):
    VALID = "valid"
    INVALID = "invalid"  # the judge rejects a candidate the harness accepted
    UNDECIDED = "undecided"  # no parsable verdict after a retry; does not reject


@dataclass(frozen=True)
class JudgeVerdict:
    decision: JudgeDecision
    reason: str


@dataclass(frozen=True)
class TrialStep:
    """One exchange of a trial: the prompt, the answer, and what became of the code it held.

    `iteration` is 0 for the steps before the first code change (summary, plan), then 1, 2, ...;
    `attempt` counts answers within an iteration (0 = first, 1.. = fixes and corrective prompts).
    `files` is empty when the step asked for text (summary, plan, judge) or the answer held no
    usable code; `evaluation` is None when nothing was evaluated.
    """

    iteration: int
    attempt: int
    purpose: str
    request: LLMRequest
    response: LLMResponse
    files: tuple[SourceFile, ...] = ()
    extraction_note: str = ""  # how code was found, or why none was
    evaluation: Evaluation | None = None
    judge: JudgeVerdict | None = None


class TrialOutcome(enum.StrEnum):
    # A passing candidate, not rejected by the judge; its energy may still be above the baseline's
    # (then its reduction counts as 0).
    ACCEPTED = "accepted"
    NO_PASSING_CANDIDATE = "no-passing-candidate"
    REJECTED_BY_JUDGE = "rejected-by-judge"
    LLM_FAILED = "llm-failed"  # the server could not answer (after retries); the trial stopped


@dataclass(frozen=True)
class TrialRecord:
    """One of an app's k independent refactoring trials.

    `best_step` indexes `steps` (the passing candidate with the lowest energy), -1 when none passed.
    `rescore` is an independent second measurement of that candidate: select on one measurement,
    score on the other. Energies compare with the baseline of the same app variant.
    """

    app: str
    variant: str
    strategy: Strategy
    trial: int  # 0-based index among the app's trials of this strategy
    partition: str
    generator_model: str
    judge_model: str  # "" when no judge ran
    outcome: TrialOutcome
    reason: str
    steps: tuple[TrialStep, ...]
    best_step: int = -1
    judge: JudgeVerdict | None = None
    rescore: EnergyMeasurement | None = None
    started_at_s: float = 0.0
    ended_at_s: float = 0.0
    # Text facts about how the trial was run, as (key, value) pairs: the roofline guidance
    # ("roofline_guidance" on/off, "roofline_label", "roofline_label_source", "roofline_kernel").
    extra: tuple[tuple[str, str], ...] = ()
