"""Refactoring trials in the results file: round trips, rows, replacing, refusing, full disks."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

import h5py
import pytest
from test_store_support import (
    AWKWARD_SOURCE,
    NOT_UTF8,
    RULES,
    T0,
    bulky_trial,
    lassi_ee_trial,
    measured_baseline,
    measurement,
    provenance,
    vanilla_trial,
)

import lassi_hpc
from lassi_hpc.errors import StoreError
from lassi_hpc.records import (
    CandidateStatus,
    EnergyMethod,
    Evaluation,
    JudgeDecision,
    JudgeVerdict,
    SourceFile,
    Strategy,
    TrialOutcome,
    TrialRecord,
)
from lassi_hpc.store import SCHEMA_VERSION, ResultsReader, ResultsWriter, StepFailureRow, TrialRow
from lassi_hpc.store.trial_codec import estimated_trial_size_bytes

REPO_ROOT = Path(lassi_hpc.__file__).resolve().parents[1]
TESTS_UNIT = Path(__file__).resolve().parent
TRIAL_GROUP = "apps/jacobi/cuda/trials/lassi-ee/0000"


def write(path: Path, *records: TrialRecord) -> None:
    with ResultsWriter.create(path, "demo-campaign", provenance()) as writer:
        writer.write_baseline(measured_baseline())
        for record in records:
            writer.write_trial(record)


def child_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), str(TESTS_UNIT)]))


# --------------------------------------------------------------------------------------------------
# Round trips


def test_lassi_ee_trial_round_trips_exactly(tmp_path: Path) -> None:
    record = lassi_ee_trial()
    # The record under test really holds what the round trip must preserve.
    kinds = [step.evaluation.status for step in record.steps if step.evaluation is not None]
    assert kinds == [
        CandidateStatus.BUILD_FAILED,
        CandidateStatus.PASSED,
        CandidateStatus.VERIFY_FAILED,
        CandidateStatus.NO_CODE,
    ]
    assert "\x00" in record.steps[2].files[0].text and "\udce9" in record.steps[2].files[0].text
    assert "\udcff" in record.steps[5].response.text
    assert record.steps[0].request.stop == ("</s>",) and record.steps[1].request.stop == ()
    assert record.steps[0].files == () and record.steps[0].evaluation is None
    assert record.steps[6].judge is not None and record.judge is not None
    best = record.steps[record.best_step].evaluation
    assert record.rescore is not None and best is not None
    assert [v.input_name for v in best.verdicts] == ["small", "large", "small"]
    path = tmp_path / "results.h5"
    write(path, record)

    with ResultsReader(path) as reader:
        assert reader.read_trial("jacobi", "cuda", "lassi-ee", 0) == record
        assert reader.read_trial("jacobi", "cuda", Strategy.LASSI_EE, 0) == record
        assert reader.read_baseline("jacobi", "cuda") == measured_baseline()


def test_vanilla_trial_with_an_llm_error_round_trips(tmp_path: Path) -> None:
    record = vanilla_trial()
    assert record.steps[2].response.error and not record.steps[2].response.ok
    assert record.best_step == -1 and record.judge is None and record.rescore is None
    path = tmp_path / "results.h5"
    write(path, record)

    with ResultsReader(path) as reader:
        back = reader.read_trial("jacobi", "cuda", "vanilla", 1)
    assert back == record
    assert back.steps[0].evaluation is None and back.steps[0].files == ()
    assert back.steps[2].evaluation is None and back.steps[2].files == ()
    evaluation = back.steps[1].evaluation
    assert evaluation is not None and evaluation.measurement is None
    assert evaluation.runs[0].command.returncode == -11 and evaluation.verdicts == ()


def test_trial_layout_is_readable_with_plain_h5py(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    write(path, lassi_ee_trial(method=EnergyMethod.ESTIMATE))

    with h5py.File(path, "r") as file:
        assert file.attrs["schema_version"] == SCHEMA_VERSION == 2
        assert list(file["apps/jacobi/cuda"]) == ["baseline", "trials"]
        trial = file[TRIAL_GROUP]
        assert trial.attrs["outcome"] == "accepted" and trial.attrs["strategy"] == "lassi-ee"
        assert int(trial.attrs["trial"]) == 0 and int(trial.attrs["best_step"]) == 3
        assert trial.attrs["ended_at_s"] == T0 + 1234.5
        assert list(trial) == ["judge", "rescore", "steps", "summary"]
        assert json.loads(trial["summary"].asstr()[()])["trial"]["best_step"] == 3
        assert list(trial["steps"]) == [f"{i:04d}" for i in range(7)]
        summary = trial["steps/0000"]
        assert summary.attrs["purpose"] == "summary" and int(summary.attrs["iteration"]) == 0
        assert list(summary["request"].attrs["stop"]) == ["</s>"]
        assert summary["request/messages/0000"].attrs["role"] == "system"
        assert summary["request/messages/0000/content"].asstr()[()].startswith("You are")
        prompt = summary["request/messages/0001/content"]  # quotes the awkward source
        assert prompt.attrs["encoding"] == "utf-8"
        assert prompt[()].tobytes().decode("utf-8", "surrogatepass").startswith("Summarise")
        assert summary["response"].attrs["model"] == "Qwen/Qwen2.5-Coder-32B-Instruct"
        assert summary["response/error"].asstr()[()] == ""
        assert bool(summary["response"].attrs["ok"]) is True
        assert "evaluation" not in summary and list(summary["files"]) == []
        best = trial["steps/0003"]
        assert sorted(best["files"]) == ["kernels%2Fstencil.cuh", "main.cu"]
        assert best["files/kernels%2Fstencil.cuh"].attrs["name"] == "kernels/stencil.cuh"
        source = best["files/main.cu"]  # NUL and a surrogate: stored as UTF-8 bytes
        assert source.attrs["encoding"] == "utf-8"
        assert AWKWARD_SOURCE in source[()].tobytes().decode("utf-8", "surrogatepass")
        evaluation = best["evaluation"]
        assert evaluation.attrs["status"] == "passed"
        assert list(evaluation["screen"].attrs["rules_checked"]) == list(RULES)
        # An input judged twice: a candidate's runs and verdicts are named by position.
        assert list(evaluation["verdicts"]) == ["0000", "0001", "0002"]
        assert [v.attrs["input_name"] for v in evaluation["verdicts"].values()] == [
            "small",
            "large",
            "small",
        ]
        assert evaluation["runs/0001"].attrs["input_name"] == "large"
        assert evaluation["runs/0001/files/field.bin"][()].tobytes() == NOT_UTF8
        # An estimate stays marked as one, in a candidate's measurement and in the rescore.
        for where in (evaluation["measurement"], trial["rescore"]):
            assert where.attrs["method"] == "estimate"
            assert bool(where.attrs["is_estimate"]) is True
            assert where["repetitions/energy_j"].attrs["units"] == "J"
        assert trial["judge"].attrs["decision"] == "valid"
        assert trial["judge/reason"].asstr()[()].startswith("fuses kernels")

        units: dict[str, str] = {}

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "iufb":
                units[name] = obj.attrs.get("units", "<missing>")

        trial.visititems(visit)
    assert units and set(units.values()) <= {"J", "W", "s", "1"}, units


def test_names_with_slashes_round_trip(tmp_path: Path) -> None:
    record = dataclasses.replace(lassi_ee_trial("hecbench/jacobi", "cuda/sm_80"), trial=12345)
    path = tmp_path / "results.h5"
    with ResultsWriter.create(path, "demo-campaign", provenance()) as writer:
        writer.write_trial(record)
        assert writer.has_trial("hecbench/jacobi", "cuda/sm_80", "lassi-ee", 12345)
    with h5py.File(path, "r") as file:
        assert list(file["apps/hecbench%2Fjacobi/cuda%2Fsm_80/trials/lassi-ee"]) == ["12345"]
    with ResultsReader(path) as reader:
        assert reader.read_trial("hecbench/jacobi", "cuda/sm_80", "lassi-ee", 12345) == record
        assert reader.trial_keys() == [("hecbench/jacobi", "cuda/sm_80", "lassi-ee", 12345)]


# --------------------------------------------------------------------------------------------------
# Writer: has_trial, replacing, refusing


def test_has_trial_before_and_after(tmp_path: Path) -> None:
    with ResultsWriter.create(tmp_path / "results.h5", "demo-campaign", provenance()) as writer:
        assert not writer.has_trial("jacobi", "cuda", "lassi-ee", 0)
        writer.write_trial(lassi_ee_trial())
        assert writer.has_trial("jacobi", "cuda", "lassi-ee", 0)
        assert writer.has_trial("jacobi", "cuda", Strategy.LASSI_EE, 0)
        assert not writer.has_trial("jacobi", "cuda", "lassi-ee", 1)
        assert not writer.has_trial("jacobi", "cuda", "vanilla", 0)
        assert not writer.has_trial("jacobi", "omp", "lassi-ee", 0)
        assert not writer.has_baseline("jacobi", "cuda")  # a trial is not a baseline
        with pytest.raises(StoreError, match="strategy 'lassi' is unknown; must be one of"):
            writer.has_trial("jacobi", "cuda", "lassi", 0)
        with pytest.raises(StoreError, match="trial numbers start at 0"):
            writer.has_trial("jacobi", "cuda", "lassi-ee", -1)


def test_rewriting_a_trial_replaces_it(tmp_path: Path) -> None:
    first = lassi_ee_trial()
    second = dataclasses.replace(
        first,
        outcome=TrialOutcome.REJECTED_BY_JUDGE,
        reason="the judge found output special-casing",
        steps=first.steps[:4],
        judge=JudgeVerdict(JudgeDecision.INVALID, "prints the reference output"),
    )
    path = tmp_path / "results.h5"
    write(path, first, vanilla_trial(), second)

    with ResultsReader(path) as reader:
        assert reader.read_trial("jacobi", "cuda", "lassi-ee", 0) == second
        assert reader.read_trial("jacobi", "cuda", "vanilla", 1) == vanilla_trial()
        assert [(row.strategy, row.trial, row.outcome) for row in reader.trials()] == [
            ("lassi-ee", 0, "rejected-by-judge"),
            ("vanilla", 1, "llm-failed"),
        ]
    with h5py.File(path, "r") as file:
        assert list(file["apps/jacobi/cuda/trials/lassi-ee"]) == ["0000"]
        assert list(file[f"{TRIAL_GROUP}/steps"]) == ["0000", "0001", "0002", "0003"]
        hidden: list[str] = []
        file.visit(lambda name: hidden.append(name) if "/." in f"/{name}" else None)
    assert hidden == []


def _with_best(record: TrialRecord, evaluation: Evaluation | None) -> TrialRecord:
    steps = list(record.steps)
    steps[record.best_step] = dataclasses.replace(steps[record.best_step], evaluation=evaluation)
    return dataclasses.replace(record, steps=tuple(steps))


def _with_files(record: TrialRecord, *files: SourceFile) -> TrialRecord:
    steps = list(record.steps)
    steps[2] = dataclasses.replace(steps[2], files=files)
    return dataclasses.replace(record, steps=tuple(steps))


def _with_seed(record: TrialRecord, seed: int) -> TrialRecord:
    steps = list(record.steps)
    steps[0] = dataclasses.replace(
        steps[0], request=dataclasses.replace(steps[0].request, seed=seed)
    )
    return dataclasses.replace(record, steps=tuple(steps))


GOOD = lassi_ee_trial()
PASSED = GOOD.steps[GOOD.best_step].evaluation
assert PASSED is not None


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            dataclasses.replace(GOOD, strategy=cast(Strategy, "lassi-ee")),
            "strategy 'lassi-ee' is not a Strategy; must be one of: vanilla, lassi-ee",
        ),
        (
            dataclasses.replace(GOOD, outcome=cast(TrialOutcome, "improved")),
            "outcome 'improved' is not a TrialOutcome",
        ),
        (dataclasses.replace(GOOD, trial=-1), "trial numbers start at 0"),
        (dataclasses.replace(GOOD, app=""), "app name is empty"),
        (dataclasses.replace(GOOD, best_step=7), r"best_step 7 is out of range: -1 or 0 to 6"),
        (dataclasses.replace(GOOD, best_step=-2), "best_step -2 is out of range"),
        (
            dataclasses.replace(GOOD, best_step=2),
            "best_step 2 has status build-failed; the best step must have passed",
        ),
        (dataclasses.replace(GOOD, best_step=0), "best_step 0 has no evaluation"),
        (
            _with_best(GOOD, dataclasses.replace(PASSED, measurement=None)),
            "best_step 3 passed but has no energy measurement",
        ),
        (
            dataclasses.replace(GOOD, best_step=-1, rescore=None),
            "outcome is accepted but best_step is -1",
        ),
        (
            dataclasses.replace(GOOD, outcome=TrialOutcome.NO_PASSING_CANDIDATE),
            "outcome is no-passing-candidate but best_step is 3; must be -1",
        ),
        (
            dataclasses.replace(vanilla_trial(), rescore=measurement()),
            "has a rescore but no best step",
        ),
        (
            _with_files(GOOD, SourceFile("main.cu", "a"), SourceFile("main.cu", "b")),
            "step 2: two source files named main.cu",
        ),
        (_with_files(GOOD, SourceFile("", "a")), "step 2: source file name is empty"),
        (_with_seed(GOOD, 2**64), "step 0: request seed is 18446744073709551616"),
        (
            dataclasses.replace(GOOD, judge=JudgeVerdict(cast(JudgeDecision, "valid"), "")),
            "judge decision 'valid' is not a JudgeDecision",
        ),
    ],
    ids=[
        "strategy-not-enum",
        "unknown-outcome",
        "negative-trial",
        "empty-app",
        "best-past-end",
        "best-below-minus-one",
        "best-failed",
        "best-unevaluated",
        "best-unmeasured",
        "accepted-without-best",
        "no-passing-with-best",
        "rescore-without-best",
        "duplicate-source",
        "empty-source-name",
        "seed-too-large",
        "judge-not-enum",
    ],
)
def test_inconsistent_trials_are_refused_before_writing(
    tmp_path: Path, record: TrialRecord, message: str
) -> None:
    path = tmp_path / "results.h5"
    with ResultsWriter.create(path, "demo-campaign", provenance()) as writer:
        with pytest.raises(StoreError, match=message) as caught:
            writer.write_trial(record)
        if record.app:
            assert str(caught.value).startswith(f"trial 'jacobi'/'cuda' {record.strategy} ")
        writer.write_trial(vanilla_trial())  # the writer is still usable
    with ResultsReader(path) as reader:
        assert reader.trial_keys() == [("jacobi", "cuda", "vanilla", 1)]


def test_a_write_failing_partway_keeps_earlier_trials(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    good = lassi_ee_trial()
    assert good.rescore is not None
    # A value h5py cannot convert, in the rescore: every step is written before it.
    broken = dataclasses.replace(
        good,
        partition="mi100",
        rescore=dataclasses.replace(good.rescore, energy_j_mean=cast(float, "lots")),
    )
    with ResultsWriter.create(path, "demo-campaign", provenance()) as writer:
        writer.write_trial(good)
        with pytest.raises(StoreError) as caught:
            writer.write_trial(broken)
        assert str(path) in str(caught.value)
        assert "cannot write trial 'jacobi'/'cuda' lassi-ee 0" in str(caught.value)
        writer.write_trial(vanilla_trial())
    with ResultsReader(path) as reader:
        assert reader.read_trial("jacobi", "cuda", "lassi-ee", 0) == good
        assert reader.read_trial("jacobi", "cuda", "vanilla", 1) == vanilla_trial()


FULL_DISK_CHILD = """
import resource, signal, sys
from lassi_hpc.errors import StoreError
from lassi_hpc.store import ResultsWriter
from test_store_support import bulky_trial, vanilla_trial
path, limit = sys.argv[1], int(sys.argv[2])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
writer = ResultsWriter.open_existing(path)
try:
    writer.write_trial(bulky_trial("huge"))
except StoreError as exc:
    print(exc)
writer.write_trial(vanilla_trial())  # a small trial still fits
writer.close()
"""


def test_a_full_disk_on_write_trial_raises_and_keeps_earlier_trials(tmp_path: Path) -> None:
    # RLIMIT_FSIZE makes writes fail with EFBIG where a full disk fails with ENOSPC and an exhausted
    # quota with EDQUOT; it applies to the child process only.
    path = tmp_path / "results.h5"
    write(path, lassi_ee_trial())
    limit = path.stat().st_size + 2048 * 1024
    assert estimated_trial_size_bytes(bulky_trial("huge")) > 2048 * 1024
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK_CHILD, str(path), str(limit)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done
    assert done.stdout.startswith(f"{path}: no room for trial 'huge'/'cuda' lassi-ee 0 (up to "), (
        done
    )
    assert "nothing was written" in done.stdout

    with ResultsReader(path) as reader:
        assert reader.trial_keys() == [
            ("jacobi", "cuda", "lassi-ee", 0),
            ("jacobi", "cuda", "vanilla", 1),
        ]
        assert reader.read_trial("jacobi", "cuda", "lassi-ee", 0) == lassi_ee_trial()
        assert reader.read_trial("jacobi", "cuda", "vanilla", 1) == vanilla_trial()


@pytest.mark.parametrize("record", [lassi_ee_trial(), vanilla_trial(), bulky_trial("big")])
def test_the_size_estimate_bounds_what_a_trial_adds(tmp_path: Path, record: TrialRecord) -> None:
    # The writer reserves the estimate before writing: an estimate below the real size would let a
    # full disk strike in the middle of a write.
    path = tmp_path / "results.h5"
    write(path)
    before_bytes = path.stat().st_size
    with ResultsWriter.open_existing(path) as writer:
        writer.write_trial(record)
    added_bytes = path.stat().st_size - before_bytes
    assert 0 < added_bytes <= estimated_trial_size_bytes(record)


KILLED_CHILD = """
import sys
from lassi_hpc.store import ResultsWriter
from test_store_support import bulky_trial
record = bulky_trial("third")
writer = ResultsWriter.open_existing(sys.argv[1])
print("writing", flush=True)
while True:
    writer.write_trial(record)
"""


@pytest.mark.slow
@pytest.mark.parametrize("delay_s", [0.05, 0.29])
def test_a_killed_writer_loses_only_the_trial_in_flight(tmp_path: Path, delay_s: float) -> None:
    path = tmp_path / "results.h5"
    write(path, lassi_ee_trial(), vanilla_trial())
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_CHILD, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"writing\n", child.stderr
        time.sleep(delay_s)
        assert child.poll() is None, "the writer ended before it was killed"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
        assert child.stdout is not None and child.stderr is not None
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    with ResultsReader(path) as reader:
        assert reader.read_trial("jacobi", "cuda", "lassi-ee", 0) == lassi_ee_trial()
        assert reader.read_trial("jacobi", "cuda", "vanilla", 1) == vanilla_trial()
        keys = reader.trial_keys()
        assert keys[:2] == [("jacobi", "cuda", "lassi-ee", 0), ("jacobi", "cuda", "vanilla", 1)]
        assert keys[2:] in ([], [("third", "cuda", "lassi-ee", 0)])
        if keys[2:]:
            assert reader.read_trial("third", "cuda", "lassi-ee", 0) == bulky_trial("third")


# --------------------------------------------------------------------------------------------------
# Reader: rows, keys, failures


def test_trial_rows_sum_the_steps(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    lassi, vanilla = lassi_ee_trial(), vanilla_trial()
    write(path, vanilla, lassi)
    with ResultsReader(path) as reader:
        rows = reader.trials()
    assert [(row.strategy, row.trial) for row in rows] == [("lassi-ee", 0), ("vanilla", 1)]
    first, second = rows

    best = measurement(EnergyMethod.COUNTER)
    assert first == TrialRow(
        app="jacobi",
        variant="cuda",
        strategy="lassi-ee",
        trial=0,
        partition="a100",
        generator_model="Qwen/Qwen2.5-Coder-32B-Instruct",
        outcome="accepted",
        reason="",
        steps=7,
        iterations=2,
        llm_requests=7,
        llm_attempts=9,  # the fix took 3 HTTP attempts
        llm_errors=0,
        prompt_tokens=7 * 812,
        completion_tokens=6 * 377 + 2048,
        llm_latency_s=sum(step.response.latency_s for step in lassi.steps),
        candidates_evaluated=4,
        candidates_passed=1,
        no_code=1,
        screen_failed=0,
        build_failed=1,
        run_failed=0,
        verify_failed=1,
        measure_failed=0,
        best_step=3,
        best_energy_j_mean=best.energy_j_mean,
        best_energy_j_ci95=best.energy_j_ci95,
        best_duration_s_mean=best.duration_s_mean,
        best_average_power_w_mean=best.average_power_w_mean,
        best_method="counter",
        best_is_estimate=False,
        rescore_energy_j_mean=best.energy_j_mean,
        rescore_energy_j_ci95=best.energy_j_ci95,
        rescore_is_estimate=False,
        rescore_duration_s_mean=best.duration_s_mean,
        rescore_average_power_w_mean=best.average_power_w_mean,
        rescore_method="counter",
        best_iteration=1,
        judge="valid",
        started_at_s=T0 + 100.0,
        ended_at_s=T0 + 1234.5,
    )
    assert first.llm_latency_s == pytest.approx(5 * 12.3456789 + 40.5 + 7.25)

    nan_fields = [
        "best_energy_j_mean",
        "best_energy_j_ci95",
        "best_duration_s_mean",
        "best_average_power_w_mean",
        "rescore_energy_j_mean",
        "rescore_energy_j_ci95",
        "rescore_duration_s_mean",
        "rescore_average_power_w_mean",
    ]
    assert all(math.isnan(getattr(second, name)) for name in nan_fields)
    counted = {k: v for k, v in dataclasses.asdict(second).items() if k not in nan_fields}
    assert counted == {
        "app": "jacobi",
        "variant": "cuda",
        "strategy": "vanilla",
        "trial": 1,
        "partition": "a100",
        "generator_model": "Qwen/Qwen2.5-Coder-32B-Instruct",
        "outcome": "llm-failed",
        "reason": "the LLM server did not answer the fix request: HTTP 503",
        "steps": 3,
        "iterations": 1,
        "llm_requests": 3,
        "llm_attempts": 6,
        "llm_errors": 1,
        "prompt_tokens": 2 * 812,
        "completion_tokens": 2 * 377,
        "llm_latency_s": 12.3456789 + 12.3456789 + 600.0,
        "candidates_evaluated": 1,
        "candidates_passed": 0,
        "no_code": 1,  # the refactor answered without code, stored without an evaluation
        "screen_failed": 0,
        "build_failed": 0,
        "run_failed": 1,
        "verify_failed": 0,
        "measure_failed": 0,
        "best_step": -1,
        "best_method": "",
        "best_is_estimate": False,
        "rescore_is_estimate": False,
        "rescore_method": "",
        "best_iteration": -1,
        "judge": "",
        "started_at_s": T0 + 200.0,
        "ended_at_s": T0 + 900.0,
        "roofline_guidance": "",
        "roofline_label": "",
        "roofline_label_source": "",
    }


def test_rows_never_pass_an_estimate_off_as_a_measurement(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    write(path, lassi_ee_trial(method=EnergyMethod.ESTIMATE))
    with ResultsReader(path) as reader:
        (row,) = reader.trials()
        back = reader.read_trial("jacobi", "cuda", "lassi-ee", 0)
    assert row.best_method == "estimate" and row.best_is_estimate and row.rescore_is_estimate
    assert back.rescore is not None and back.rescore.is_estimate


def test_step_failures_and_trial_keys(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    write(path, vanilla_trial(), lassi_ee_trial(), lassi_ee_trial("lulesh", trial=2))
    with ResultsReader(path) as reader:
        keys = reader.trial_keys()
        failures = reader.step_failures()
    assert keys == [
        ("jacobi", "cuda", "lassi-ee", 0),
        ("jacobi", "cuda", "vanilla", 1),
        ("lulesh", "cuda", "lassi-ee", 2),
    ]
    lassi_failures = [
        (1, 0, "refactor", "build-failed"),
        (2, 0, "refactor", "verify-failed"),
        (2, 1, "fix", "no-code"),
    ]
    assert failures == [
        *(StepFailureRow("jacobi", "cuda", "lassi-ee", 0, *f) for f in lassi_failures),
        StepFailureRow("jacobi", "cuda", "vanilla", 1, 1, 0, "refactor", "no-code"),
        StepFailureRow("jacobi", "cuda", "vanilla", 1, 1, 1, "no-code", "run-failed"),
        *(StepFailureRow("lulesh", "cuda", "lassi-ee", 2, *f) for f in lassi_failures),
    ]


def test_rows_without_a_summary_are_computed_from_the_whole_trial(tmp_path: Path) -> None:
    # Schema version 1 stored no summary; a summary with other fields (another version) is ignored.
    path = tmp_path / "results.h5"
    write(path, vanilla_trial(), lassi_ee_trial())
    with ResultsReader(path) as reader:
        expected = reader.trial_tables()
    with h5py.File(path, "r+") as file:
        del file[TRIAL_GROUP + "/summary"]
        vanilla = file["apps/jacobi/cuda/trials/vanilla/0001"]
        stale = json.loads(vanilla["summary"].asstr()[()])
        stale["trial"]["a_field_from_another_version"] = 1
        del vanilla["summary"]
        vanilla["summary"] = json.dumps(stale)
    with ResultsReader(path) as reader:
        assert reader.trial_tables() == expected
    trials, _ = expected
    assert [row.best_iteration for row in trials] == [1, -1]
    assert math.isnan(trials[1].best_energy_j_mean)  # NaN survives the JSON summary (as null)


def test_candidate_rows_and_the_best_steps_measurements(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    lassi = lassi_ee_trial()
    write(path, lassi, vanilla_trial())
    with ResultsReader(path) as reader:
        candidates = [row for row in reader.candidates() if row.strategy == "lassi-ee"]
        best_columns = reader.trial_repetitions("jacobi", "cuda", "lassi-ee", 0)
        rescore_columns = reader.trial_repetitions("jacobi", "cuda", "lassi-ee", 0, rescore=True)
        time_s, power_w = reader.trial_trace("jacobi", "cuda", "lassi-ee", 0, 0)
        with pytest.raises(StoreError, match="vanilla trial 1 of 'jacobi'/'cuda' has no best step"):
            reader.trial_repetitions("jacobi", "cuda", "vanilla", 1)
        with pytest.raises(StoreError, match="has no rescore"):
            reader.trial_repetitions("jacobi", "cuda", "vanilla", 1, rescore=True)
    assert [(row.step, row.status, row.is_best) for row in candidates] == [
        (2, "build-failed", False),
        (3, "passed", True),
        (4, "verify-failed", False),
        (5, "no-code", False),
    ]
    best = candidates[1]
    measured = lassi.steps[3].evaluation.measurement if lassi.steps[3].evaluation else None
    assert measured is not None
    assert best.energy_j_mean == measured.energy_j_mean and best.method == "counter"
    assert math.isnan(candidates[0].energy_j_mean) and candidates[0].method == ""
    energies = [repetition.energy_j for repetition in measured.repetitions]
    assert best_columns["energy_j"].tolist() == energies
    assert rescore_columns["energy_j"].tolist() == energies  # the fixture rescore repeats it
    first_trace = measured.repetitions[0].trace
    assert first_trace is not None and power_w.tolist() == list(first_trace.power_w)
    assert len(time_s) == len(power_w)


def test_a_file_without_trials_reads_as_none(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    write(path)  # a baseline only, as files written before trials existed
    with h5py.File(path, "r") as file:
        assert "trials" not in file["apps/jacobi/cuda"]
    with ResultsReader(path) as reader:
        assert reader.trials() == []
        assert reader.trial_keys() == []
        assert reader.step_failures() == []
        with pytest.raises(StoreError, match="no trial lassi-ee 0 for app 'jacobi'") as caught:
            reader.read_trial("jacobi", "cuda", "lassi-ee", 0)
        assert str(path) in str(caught.value) and "stored for it: none" in str(caught.value)


def test_reading_a_missing_trial_lists_the_stored_ones(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    write(path, lassi_ee_trial(), vanilla_trial())
    with ResultsReader(path) as reader:
        with pytest.raises(StoreError, match="stored for it: lassi-ee 0, vanilla 1"):
            reader.read_trial("jacobi", "cuda", "lassi-ee", 4)
        with pytest.raises(StoreError, match="strategy 'lassi' is unknown"):
            reader.read_trial("jacobi", "cuda", "lassi", 0)
