"""Records and provenance for the store tests, built by hand to look like real campaign output.

No tests here: the test_store_* modules (and the crash test's child process) import these builders.
"""

from __future__ import annotations

from lassi_hpc.records import (
    BaselineRecord,
    BuildResult,
    CommandResult,
    DeviceIdentity,
    EnergyMeasurement,
    EnergyMethod,
    FailureKind,
    OutputFile,
    PowerTrace,
    RepetitionEnergy,
    RunResult,
    StageStatus,
    Verdict,
)
from lassi_hpc.store import Provenance

T0 = 1_732_190_000.125  # host wall-clock seconds, as time.time() returns them

CPU = DeviceIdentity(
    backend="estimate", kind="cpu", name="AMD EPYC 7763 64-Core", uid="node17:cpu", host="node17"
)
A100 = DeviceIdentity(
    backend="nvml",
    kind="gpu",
    name="NVIDIA A100-SXM4-80GB",
    uid="GPU-5f3c1a2e-9b7d-4c1e-8a55-0d1e2f3a4b5c",
    host="node17",
)
# Bytes that are not UTF-8 (a lone continuation byte, an invalid pair, NUL) as binary outputs hold.
NOT_UTF8 = b"\x00\x01\xff\xfe\x80JACOBI\xc3\x28\x00" + bytes(range(256))


def command(
    argv: tuple[str, ...],
    stdout: str = "",
    stderr: str = "",
    *,
    cwd: str = "/scratch/lassi/jacobi-cuda",
    returncode: int | None = 0,
    failure: FailureKind | None = None,
    failure_detail: str = "",
    wall_s: float = 1.2345678901234,
    start_s: float = T0,
) -> CommandResult:
    return CommandResult(
        argv=argv,
        cwd=cwd,
        returncode=returncode,
        stdout=stdout,
        stderr=stderr,
        wall_s=wall_s,
        cpu_s=wall_s * 0.97,
        started_at_s=start_s,
        ended_at_s=start_s + wall_s,
        failure=failure,
        failure_detail=failure_detail,
        isolation="bwrap+rlimits",
    )


def build(app: str, variant: str, *, ok: bool = True) -> BuildResult:
    if ok:
        cmd = command(
            ("nvcc", "-O3", "-arch=sm_80", "-o", "main", "main.cu"),
            stderr='main.cu(41): warning #177-D: variable "tmp" was declared but never used\n',
            wall_s=3.21,
        )
    else:
        cmd = command(
            ("nvcc", "-O3", "-arch=sm_80", "-o", "main", "main.cu"),
            stderr='main.cu(12): error: identifier "blockDimx" is undefined\n1 error detected\n',
            returncode=2,
            failure=FailureKind.EXIT_CODE,
            failure_detail="exit status 2",
            wall_s=0.87,
        )
    return BuildResult(
        app=app,
        variant=variant,
        toolchain="nvcc",
        ok=ok,
        command=cmd,
        build_dir=f"/scratch/lassi/{app}-{variant}",
        binary="main" if ok else "",
        sources_sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    )


def run(app: str, variant: str, input_name: str, seconds: float) -> RunResult:
    return RunResult(
        app=app,
        variant=variant,
        input_name=input_name,
        command=command(
            ("./main", "-n", "4096", "-i", "100", input_name),
            stdout=f"Average kernel time: {seconds:.6f} (s)\nresidual = 1.234e-07\nPASS\n",
            wall_s=seconds,
            start_s=T0 + 10.0,
        ),
        output_files=(
            OutputFile(name="field.bin", content=NOT_UTF8),
            OutputFile(name="summary.txt", content=b"max error 1.2e-7\n"),
        ),
    )


def trace(samples: int, watts: float) -> PowerTrace:
    """A power trace sampled every 0.1 s (s, W)."""
    return PowerTrace(
        time_s=tuple(i * 0.1 for i in range(samples)),
        power_w=tuple(watts + (i % 7) * 0.31 for i in range(samples)),
    )


def measurement(method: EnergyMethod = EnergyMethod.ESTIMATE) -> EnergyMeasurement:
    """Three repetitions with traces; the third trace is long enough to be stored compressed."""
    estimate = method is EnergyMethod.ESTIMATE
    repetitions = (
        RepetitionEnergy(123.456789012345, 2.5, 49.3827156, 12.5, 3, trace(60, 61.0)),
        RepetitionEnergy(125.0, 2.53, 49.4071146, 12.4, 3, trace(61, 61.5)),
        RepetitionEnergy(121.5, 2.47, 49.1902834, 12.6, 3, trace(5000, 60.5)),
    )
    return EnergyMeasurement(
        method=method,
        backend="estimate" if estimate else "nvml",
        devices=(CPU,) if estimate else (A100, CPU),
        repetitions=repetitions,
        energy_j_mean=123.318929670782,
        energy_j_sd=1.7568,
        energy_j_ci95=4.364,
        energy_cv=0.014246,
        duration_s_mean=2.5,
        average_power_w_mean=49.3267045,
        flags=("estimate",) if estimate else (),
    )


def measured_baseline(
    app: str = "jacobi",
    variant: str = "cuda",
    method: EnergyMethod = EnergyMethod.ESTIMATE,
) -> BaselineRecord:
    """A baseline that built, ran on two inputs, passed its checks and was measured."""
    return BaselineRecord(
        app=app,
        variant=variant,
        partition="a100",
        status=StageStatus.OK,
        reason="",
        build=build(app, variant),
        runs=(run(app, variant, "small", 0.25), run(app, variant, "large", 2.5)),
        verdicts=(
            Verdict(ok=True, input_name="small", reason="", self_check=True, compared_values=4096),
            Verdict(ok=True, input_name="large", reason="", self_check=None, compared_values=65536),
        ),
        measurement=measurement(method),
        extra=(("hecbench_commit", "3f2a9c1"), ("note", "clock locked at 1410 MHz")),
    )


def failed_build_baseline(app: str = "lulesh", variant: str = "cuda") -> BaselineRecord:
    """A baseline whose build failed: no runs, no verdicts, no measurement."""
    return BaselineRecord(
        app=app,
        variant=variant,
        partition="a100",
        status=StageStatus.BUILD_FAILED,
        reason="nvcc exited with status 2",
        build=build(app, variant, ok=False),
    )


def bulky_baseline(app: str) -> BaselineRecord:
    """A baseline large enough that writing it takes a noticeable fraction of a second."""
    runs = tuple(
        RunResult(
            app=app,
            variant="cuda",
            input_name=f"input-{i:03d}",
            command=command(("./main", str(i)), stdout=f"step {i}\n" * 8000),
            output_files=(OutputFile(name="field.bin", content=NOT_UTF8 * 1000),),
        )
        for i in range(40)
    )
    base = measured_baseline(app)
    long = RepetitionEnergy(120.0, 2.5, 48.0, 12.0, 3, trace(50_000, 60.0))
    assert base.measurement is not None
    heavy = EnergyMeasurement(
        method=base.measurement.method,
        backend=base.measurement.backend,
        devices=base.measurement.devices,
        repetitions=(long, long, long),
        energy_j_mean=120.0,
        energy_j_sd=0.0,
        energy_j_ci95=0.0,
        energy_cv=0.0,
        duration_s_mean=2.5,
        average_power_w_mean=48.0,
        flags=("estimate",),
    )
    return BaselineRecord(
        app=app,
        variant="cuda",
        partition="a100",
        status=StageStatus.OK,
        reason="",
        build=build(app, "cuda"),
        runs=runs,
        measurement=heavy,
    )


def provenance() -> Provenance:
    return Provenance(
        campaign_config='name = "demo"\napps = ["jacobi", "lulesh"]\nk = 5\n',
        site_config='{"name": "local", "partitions": {"a100": {"gpus": 4}}}',
        python="3.11.7 (main) [GCC 12.2.0]",
        packages={"lassi_hpc": "0.1.0", "h5py": "3.16.0", "numpy": "2.4.6"},
        compilers={"g++": "g++ (Debian 12.2.0-14) 12.2.0", "hipcc": "not found"},
        drivers={"nvidia": "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15"},
        host={"hostname": "node17", "cpus_total": 128, "memory_bytes": 540_000_000_000},
        devices=(A100, CPU),
        git_revision="0123456789abcdef0123456789abcdef01234567-dirty",
        collected_utc="2025-11-21T21:00:00Z",
    )
