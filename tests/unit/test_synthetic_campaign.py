"""Synthetic campaign files: real results files, marked fake, reproducible from their seed, and
holding trials that a campaign could have produced."""

from __future__ import annotations

import collections
import os
from pathlib import Path

import pytest

from lassi_hpc.records import (
    CandidateStatus,
    EnergyMeasurement,
    EnergyMethod,
    JudgeDecision,
    TrialOutcome,
    TrialRecord,
)
from lassi_hpc.store import ResultsReader, ResultsWriter
from lassi_hpc.store.trial_codec import validate_trial
from lassi_hpc.testing.synthetic_campaign import (
    SyntheticCampaign,
    SyntheticCampaignError,
    write_synthetic_campaign,
)
from lassi_hpc.testing.synthetic_model import (
    SYNTHETIC_FLAG,
    SyntheticSettings,
    TraceShape,
    draw_app,
)
from lassi_hpc.testing.synthetic_trials import synthetic_trial

STRATEGIES = ("lassi-ee", "vanilla")
TARGETS = (("cuda", "a100"), ("hip", "mi100"))


def write(path: Path, *, seed: int = 0, **options: object) -> SyntheticCampaign:
    arguments: dict[str, object] = {"apps": 3, "trials": 2, "repetitions": 3, "trace_samples": 20}
    arguments.update(options)
    return write_synthetic_campaign(path, seed=seed, **arguments)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> SyntheticCampaign:
    return write(tmp_path_factory.mktemp("synthetic") / "campaign.h5")


def all_trials(path: Path) -> list[TrialRecord]:
    with ResultsReader(path) as reader:
        return [reader.read_trial(*key) for key in reader.trial_keys()]


def measurements(record: TrialRecord) -> list[EnergyMeasurement]:
    found = [s.evaluation.measurement for s in record.steps if s.evaluation is not None]
    return [m for m in (*found, record.rescore) if m is not None]


def drawn_trials(apps: int, trials: int, seed: int = 0) -> list[TrialRecord]:
    """Trial records as the generator draws them, without writing a file."""
    settings = SyntheticSettings(STRATEGIES, TARGETS, 3, 20, seed)
    shape = TraceShape.of(20)
    return [
        synthetic_trial(draw_app(settings, index), settings, shape, strategy, trial)
        for index in range(apps)
        for strategy in STRATEGIES
        for trial in range(trials)
    ]


# ------------------------------------------------------------------------------------------------
# The file


def test_the_file_holds_a_baseline_per_app_and_the_trials_of_every_strategy(
    campaign: SyntheticCampaign,
) -> None:
    assert campaign.trials_written == 3 * 2 * 2
    with ResultsReader(campaign.path) as reader:
        baselines = reader.baselines()
        keys = reader.trial_keys()
        assert reader.campaign_name == "synthetic"
        assert "nothing was built, run or measured" in reader.provenance()["campaign_config"]
    assert [(row.app, row.variant, row.partition) for row in baselines] == [
        ("synthetic-0000", "cuda", "a100"),
        ("synthetic-0001", "hip", "mi100"),
        ("synthetic-0002", "cuda", "a100"),
    ]
    assert len(keys) == campaign.trials_written
    assert collections.Counter(key[2] for key in keys) == {"lassi-ee": 6, "vanilla": 6}
    assert {key[3] for key in keys} == {0, 1}


def test_every_measurement_is_marked_fake_and_synthetic(campaign: SyntheticCampaign) -> None:
    with ResultsReader(campaign.path) as reader:
        found = [
            reader.read_baseline(row.app, row.variant).measurement for row in reader.baselines()
        ]
    baselines = [m for m in found if m is not None]
    assert len(baselines) == 3
    trial_measurements = [m for r in all_trials(campaign.path) for m in measurements(r)]
    assert trial_measurements, "no candidate passed in the fixture's trials"
    for measurement in baselines + trial_measurements:
        assert measurement.method is EnergyMethod.COUNTER
        assert measurement.backend == "fake"
        assert SYNTHETIC_FLAG in measurement.flags
        assert [d.is_fake for d in measurement.devices] == [True]
        assert len(measurement.repetitions) == 3
        for repetition in measurement.repetitions:
            assert repetition.trace is not None
            assert len(repetition.trace.power_w) == 20
            assert repetition.trace.time_s[1] == pytest.approx(0.01)


def test_statistics_agree_with_the_repetitions(campaign: SyntheticCampaign) -> None:
    for record in all_trials(campaign.path):
        for measurement in measurements(record):
            energies_j = [r.energy_j for r in measurement.repetitions]
            mean_j = sum(energies_j) / len(energies_j)
            assert measurement.energy_j_mean == pytest.approx(mean_j)
            assert measurement.energy_cv == pytest.approx(measurement.energy_j_sd / mean_j)
            for repetition in measurement.repetitions:
                # Energy per run is above idle: E = (P - P_idle) * T.
                above_idle_w = repetition.average_power_w - repetition.idle_power_w
                assert repetition.energy_j == pytest.approx(above_idle_w * repetition.duration_s)


def test_the_same_seed_gives_the_same_records_and_another_seed_others(tmp_path: Path) -> None:
    first = write(tmp_path / "first.h5", seed=7, apps=2, trials=1)
    again = write(tmp_path / "again.h5", seed=7, apps=2, trials=1)
    other = write(tmp_path / "other.h5", seed=8, apps=2, trials=1)
    assert all_trials(first.path) == all_trials(again.path)
    assert all_trials(first.path) != all_trials(other.path)
    with ResultsReader(first.path) as a, ResultsReader(other.path) as b:
        assert a.read_baseline("synthetic-0000", "cuda") != b.read_baseline(
            "synthetic-0000", "cuda"
        )


def test_a_trial_does_not_depend_on_the_size_of_the_campaign() -> None:
    small = drawn_trials(apps=1, trials=1)
    large = drawn_trials(apps=3, trials=4)
    assert small[0] == large[0]


def test_a_durable_file_is_written_with_fsync_and_a_fast_one_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(descriptor: int) -> None:
        calls.append(descriptor)
        real_fsync(descriptor)

    # file_access.sync_to_disk calls os.fsync; the writer never calls it otherwise.
    monkeypatch.setattr(os, "fsync", counting_fsync)
    fast = write(tmp_path / "fast.h5", apps=1, trials=1, durable=False)
    assert calls == []
    durable = write(tmp_path / "durable.h5", apps=1, trials=1, durable=True)
    assert len(calls) >= 2 * (1 + durable.trials_written)  # staged and linked, per record
    assert all_trials(fast.path) == all_trials(durable.path)


def test_a_writer_opened_without_durability_still_resumes_durably(tmp_path: Path) -> None:
    campaign = write(tmp_path / "resumed.h5", apps=1, trials=1)
    with ResultsWriter.open_existing(campaign.path, durable=False) as writer:
        assert writer.has_trial("synthetic-0000", "cuda", "vanilla", 0)
    with ResultsReader(campaign.path) as reader:
        assert len(reader.trial_keys()) == campaign.trials_written


def test_progress_is_reported_up_to_the_total(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    write(tmp_path / "progress.h5", apps=1, trials=2, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(4, 4)]


def test_an_unknown_strategy_is_refused_with_the_choices(tmp_path: Path) -> None:
    with pytest.raises(SyntheticCampaignError, match=r"'lassi'.*lassi-ee") as raised:
        write(tmp_path / "bad.h5", strategies=("lassi",))
    assert "vanilla" in str(raised.value)
    with pytest.raises(SyntheticCampaignError, match="repetitions is 1"):
        write(tmp_path / "bad.h5", repetitions=1)
    assert not (tmp_path / "bad.h5").exists()


# ------------------------------------------------------------------------------------------------
# The trials, drawn without a file (fast at moderate sizes)


@pytest.fixture(scope="module")
def moderate() -> list[TrialRecord]:
    return drawn_trials(apps=30, trials=10)


def test_every_drawn_trial_is_storable(moderate: list[TrialRecord]) -> None:
    for record in moderate:
        validate_trial(record)


def test_outcomes_include_all_four_kinds(moderate: list[TrialRecord]) -> None:
    assert {record.outcome for record in moderate} == set(TrialOutcome)


def test_outcomes_are_consistent_with_the_steps(moderate: list[TrialRecord]) -> None:
    for record in moderate:
        if record.outcome is TrialOutcome.ACCEPTED:
            assert record.rescore is not None
            assert record.judge is not None and record.judge.decision is JudgeDecision.VALID
        elif record.outcome is TrialOutcome.REJECTED_BY_JUDGE:
            assert record.rescore is not None
            assert record.judge is not None and record.judge.decision is JudgeDecision.INVALID
        else:
            assert record.best_step == -1 and record.rescore is None
        if record.outcome is TrialOutcome.LLM_FAILED:
            assert any(not step.response.ok for step in record.steps)
        if record.best_step >= 0:
            best = record.steps[record.best_step].evaluation
            assert best is not None and best.status is CandidateStatus.PASSED
            # Selected on one measurement, scored on an independent one.
            assert record.rescore is not None and best.measurement is not None
            assert record.rescore.repetitions != best.measurement.repetitions


def test_trials_have_the_steps_of_their_strategy(moderate: list[TrialRecord]) -> None:
    for record in moderate:
        purposes = [step.purpose for step in record.steps]
        if record.strategy.value == "lassi-ee":
            assert purposes[:1] == ["summary"]
            iterations = {s.iteration for s in record.steps if s.purpose == "refactor"}
            assert iterations <= {1, 2, 3, 4}
        else:
            assert purposes[0] == "refactor"
            assert {step.iteration for step in record.steps} == {1}
        assert set(purposes) <= {"summary", "plan", "refactor", "fix", "no-code", "judge"}


def test_every_failed_gate_occurs(moderate: list[TrialRecord]) -> None:
    statuses = {
        step.evaluation.status for r in moderate for step in r.steps if step.evaluation is not None
    }
    assert statuses == {
        CandidateStatus.PASSED,
        CandidateStatus.SCREEN_FAILED,
        CandidateStatus.BUILD_FAILED,
        CandidateStatus.RUN_FAILED,
        CandidateStatus.VERIFY_FAILED,
    }
    no_code = [s for r in moderate for s in r.steps if s.purpose == "no-code"]
    assert no_code, "no answer without code was drawn"


def test_lassi_ee_does_better_than_vanilla(moderate: list[TrialRecord]) -> None:
    settings = SyntheticSettings(STRATEGIES, TARGETS, 3, 20, 0)
    for index in range(30):
        app = draw_app(settings, index)
        lassi, vanilla = app.truth("lassi-ee"), app.truth("vanilla")
        assert lassi.true_gain > vanilla.true_gain
        assert lassi.pass_probability > vanilla.pass_probability
    accepted = collections.Counter(
        r.strategy.value for r in moderate if r.outcome is TrialOutcome.ACCEPTED
    )
    assert accepted["lassi-ee"] > accepted["vanilla"]


def test_some_passing_candidates_cost_more_than_the_baseline(moderate: list[TrialRecord]) -> None:
    settings = SyntheticSettings(STRATEGIES, TARGETS, 3, 20, 0)
    baseline_j = {
        draw_app(settings, i).name: draw_app(settings, i).baseline_energy_j for i in range(30)
    }
    gains = [
        1.0 - r.rescore.energy_j_mean / baseline_j[r.app] for r in moderate if r.rescore is not None
    ]
    assert any(gain < 0 for gain in gains)
    assert any(gain > 0.1 for gain in gains)
    # Within the run-to-run noise (CV at most 6 %).
    assert any(abs(gain) < 0.02 for gain in gains)
