"""Records and provenance for the store tests, built by hand to look like real campaign output.

No tests here: the test_store_* modules (and the crash test's child process) import these builders.
"""

from __future__ import annotations

import dataclasses

from lassi_hpc.records import (
    BaselineRecord,
    BuildResult,
    CandidateStatus,
    ChatMessage,
    CommandResult,
    DeviceIdentity,
    EnergyMeasurement,
    EnergyMethod,
    Evaluation,
    FailureKind,
    JudgeDecision,
    JudgeVerdict,
    LLMRequest,
    LLMResponse,
    OutputFile,
    PowerTrace,
    RepetitionEnergy,
    RunResult,
    ScreenResult,
    SourceFile,
    StageStatus,
    Strategy,
    TrialOutcome,
    TrialRecord,
    TrialStep,
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
        placement=PLACEMENT,
    )


PLACEMENT = (
    ("host", "gpu017"),
    ("slurm_job_id", "81234"),
    ("slurm_partition", "a100"),
    ("parsl_worker", "1"),
    ("cuda_visible_devices", "1"),
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


# --------------------------------------------------------------------------------------------------
# Trials

# Source text as an LLM may write it: non-ASCII, a NUL, and an unpaired surrogate (how Python
# spells a non-UTF-8 byte read with errors="surrogateescape").
AWKWARD_SOURCE = (
    "// \u2207\u00b7u = 0, \u0394t \u2264 1e-3 \U0001f680\n"
    "__global__ void jacobi(float* u) { /* \x00 */ }\n"
    "// latin-1 byte: \udce9\n"
)
RULES = ("edit-scope", "deny-list:omp_get_wtime", "deny-list:hard-coded-output")


def request(
    purpose: str, prompt: str, *, seed: int = 1234, stop: tuple[str, ...] = ()
) -> LLMRequest:
    return LLMRequest(
        purpose=purpose,
        messages=(
            ChatMessage("system", "You are an HPC performance engineer. Reduce GPU energy."),
            ChatMessage("user", prompt),
        ),
        max_tokens=4096,
        temperature=0.7,
        seed=seed,
        n=1,
        stop=stop,
    )


def response(
    text: str,
    *,
    seed: int = 1234,
    prompt_tokens: int = 812,
    completion_tokens: int = 377,
    latency_s: float = 12.3456789,
    attempts: int = 1,
    error: str = "",
) -> LLMResponse:
    return LLMResponse(
        text=text,
        finish_reason="" if error else "stop",
        model="Qwen/Qwen2.5-Coder-32B-Instruct",
        endpoint="http://gpu-node03:8000/v1",
        seed=seed,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        latency_s=latency_s,
        attempts=attempts,
        error=error,
    )


def candidate_sources(note: str) -> tuple[SourceFile, ...]:
    return (
        SourceFile(name="main.cu", text=f"// {note}\n{AWKWARD_SOURCE}"),
        SourceFile(name="kernels/stencil.cuh", text="#pragma once\n"),
    )


def passed_evaluation(method: EnergyMethod = EnergyMethod.COUNTER) -> Evaluation:
    base = measured_baseline(method=method)
    return Evaluation(
        status=CandidateStatus.PASSED,
        reason="",
        screen=ScreenResult(ok=True, reason="", rules_checked=RULES),
        build=base.build,
        runs=base.runs,
        # As the evaluate stage makes them: each input against the original, then the first input
        # against a repeat of the candidate itself (self-consistency), so "small" is judged twice.
        verdicts=(
            *base.verdicts,
            Verdict(True, "small", "", self_check=True, compared_values=4096),
        ),
        measurement=measurement(method),
        placement=PLACEMENT,
    )


def build_failed_evaluation() -> Evaluation:
    failed = build("jacobi", "cuda", ok=False)
    return Evaluation(
        status=CandidateStatus.BUILD_FAILED,
        reason="build failed: exit status 2",
        failed_command="nvcc -O3 -arch=sm_80 -o main main.cu",
        log=failed.command.stderr,
        screen=ScreenResult(ok=True, reason="", rules_checked=RULES),
        build=failed,
    )


def verify_failed_evaluation() -> Evaluation:
    base = measured_baseline()
    return Evaluation(
        status=CandidateStatus.VERIFY_FAILED,
        reason="output on 'small' differs from the original's",
        failed_command="./main -n 4096 -i 100 small",
        log="field.bin: value 17 of 4096 differs: 0.25 vs 0.2500004 (rtol 1e-6)\n",
        screen=ScreenResult(ok=True, reason="", rules_checked=RULES),
        build=base.build,
        runs=base.runs[:1],
        verdicts=(
            Verdict(
                ok=False,
                input_name="small",
                reason="value 17 differs",
                self_check=False,
                compared_values=4096,
            ),
        ),
    )


def lassi_ee_trial(
    app: str = "jacobi",
    variant: str = "cuda",
    trial: int = 0,
    method: EnergyMethod = EnergyMethod.COUNTER,
) -> TrialRecord:
    """Summary, plan, a refactor that fails to build, a fix that passes (the best step), a second
    change that fails verification, a fix that holds no code, and the judge's step."""
    steps = (
        TrialStep(
            iteration=0,
            attempt=0,
            purpose="summary",
            request=request("summary", f"Summarise this code:\n{AWKWARD_SOURCE}", stop=("</s>",)),
            response=response("The kernel is a 5-point Jacobi stencil \u2014 memory bound."),
        ),
        TrialStep(
            iteration=0,
            attempt=1,
            purpose="plan",
            request=request("plan", "Plan energy-saving changes, one per iteration."),
            response=response("1. Fuse the two kernels.\n2. Use shared memory tiles."),
        ),
        TrialStep(
            iteration=1,
            attempt=0,
            purpose="refactor",
            request=request("refactor", "Apply change 1."),
            response=response("```cuda\n...\n```", completion_tokens=2048, latency_s=40.5),
            files=candidate_sources("fused, does not compile"),
            extraction_note="one fenced cuda block per file",
            evaluation=build_failed_evaluation(),
        ),
        TrialStep(
            iteration=1,
            attempt=1,
            purpose="fix",
            request=request("fix", 'The build failed:\nidentifier "blockDimx" is undefined'),
            response=response("```cuda\n...\n```", attempts=3, latency_s=7.25),
            files=candidate_sources("fused"),
            extraction_note="one fenced cuda block per file",
            evaluation=passed_evaluation(method),
        ),
        TrialStep(
            iteration=2,
            attempt=0,
            purpose="refactor",
            request=request("refactor", "Apply change 2."),
            response=response("```cuda\n...\n```"),
            files=candidate_sources("tiled"),
            extraction_note="one fenced cuda block per file",
            evaluation=verify_failed_evaluation(),
        ),
        TrialStep(
            iteration=2,
            attempt=1,
            purpose="fix",
            request=request("fix", "Output differs on 'small'."),
            response=response("I cannot see why; the code looks right to me.\udcff"),
            extraction_note="no fenced code block in the answer",
            evaluation=Evaluation(CandidateStatus.NO_CODE, "the answer held no code"),
        ),
        TrialStep(
            iteration=2,
            attempt=2,
            purpose="judge",
            request=request("judge", "Is this change a legitimate optimisation?", seed=99),
            response=response("VALID: fuses kernels; no output special-casing.", seed=99),
            judge=JudgeVerdict(JudgeDecision.VALID, "fuses kernels; no output special-casing"),
        ),
    )
    return TrialRecord(
        app=app,
        variant=variant,
        strategy=Strategy.LASSI_EE,
        trial=trial,
        partition="a100",
        generator_model="Qwen/Qwen2.5-Coder-32B-Instruct",
        judge_model="meta-llama/Llama-3.3-70B-Instruct",
        outcome=TrialOutcome.ACCEPTED,
        reason="",
        steps=steps,
        best_step=3,
        judge=JudgeVerdict(JudgeDecision.VALID, "fuses kernels; no output special-casing"),
        rescore=measurement(method),
        started_at_s=T0 + 100.0,
        ended_at_s=T0 + 1234.5,
    )


def vanilla_trial(app: str = "jacobi", variant: str = "cuda", trial: int = 1) -> TrialRecord:
    """A refactor answered without code (stored, as the driver does, without an evaluation), a
    corrected answer that crashes at run time, then a fix the server never answered."""
    base = measured_baseline(app, variant)
    crashed = dataclasses.replace(
        base.runs[0].command,
        returncode=-11,
        failure=FailureKind.SIGNAL,
        failure_detail="killed by SIGSEGV",
    )
    steps = (
        TrialStep(
            iteration=1,
            attempt=0,
            purpose="refactor",
            request=request("refactor", "Refactor this code to use less energy.", seed=7),
            response=response("I would fuse the kernels.", seed=7),
            extraction_note="no code block found and the answer does not look like source",
        ),
        TrialStep(
            iteration=1,
            attempt=1,
            purpose="no-code",
            request=request("no-code", "Your previous answer had no usable code.", seed=7),
            response=response("```cuda\n...\n```", seed=7),
            files=candidate_sources("vanilla"),
            extraction_note="one fenced cuda block per file",
            evaluation=Evaluation(
                status=CandidateStatus.RUN_FAILED,
                reason="run on 'small' was killed by SIGSEGV",
                failed_command="./main -n 4096 -i 100 small",
                log="Segmentation fault\n",
                screen=ScreenResult(ok=True, reason=""),
                build=base.build,
                runs=(dataclasses.replace(base.runs[0], command=crashed, output_files=()),),
            ),
        ),
        TrialStep(
            iteration=1,
            attempt=2,
            purpose="fix",
            request=request("fix", "The program crashed: Segmentation fault", seed=7),
            response=response(
                "",
                seed=7,
                prompt_tokens=0,
                completion_tokens=0,
                latency_s=600.0,
                attempts=4,
                error="HTTP 503 after 4 attempts: model is overloaded",
            ),
        ),
    )
    return TrialRecord(
        app=app,
        variant=variant,
        strategy=Strategy.VANILLA,
        trial=trial,
        partition="a100",
        generator_model="Qwen/Qwen2.5-Coder-32B-Instruct",
        judge_model="",
        outcome=TrialOutcome.LLM_FAILED,
        reason="the LLM server did not answer the fix request: HTTP 503",
        steps=steps,
        started_at_s=T0 + 200.0,
        ended_at_s=T0 + 900.0,
    )


def bulky_trial(app: str) -> TrialRecord:
    """A trial whose candidates carry large sources, logs and traces (several MB)."""
    record = lassi_ee_trial(app)
    big_sources = (SourceFile(name="main.cu", text="float x = 1.0f; // padding\n" * 40_000),)
    steps = tuple(
        dataclasses.replace(step, files=big_sources) if step.files else step
        for step in record.steps
    )
    heavy = bulky_baseline(app).measurement
    assert heavy is not None
    best = steps[record.best_step]
    assert best.evaluation is not None
    steps = (
        *steps[: record.best_step],
        dataclasses.replace(
            best, evaluation=dataclasses.replace(best.evaluation, measurement=heavy)
        ),
        *steps[record.best_step + 1 :],
    )
    return dataclasses.replace(record, steps=steps, rescore=heavy)


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
