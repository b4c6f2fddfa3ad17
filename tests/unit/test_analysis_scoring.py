"""Trial scores: gains, the noise floor, selection versus scoring, speedups, unusable baselines."""

from __future__ import annotations

import dataclasses
import math

import pytest
from analysis_rows import BASELINE, failed_trial, passed_trial

from lassi_hpc.analysis.scoring import noise_floor, score_trial, score_trials, usable_baseline


def test_a_rescored_trial_is_scored_on_its_second_measurement() -> None:
    # Selected on 70 J (a lucky draw), measured again at 80 J: the gain is 20%, not 30%.
    score = score_trial(passed_trial(0, 70.0, rescore_energy_j=80.0), BASELINE, noise_sds=1.0)
    assert score.passed and score.scored_on == "rescore"
    assert score.gain == pytest.approx(0.2) and score.raw_gain == pytest.approx(0.2)
    assert score.selection_energy_j == 70.0 and score.score_energy_j == 80.0


def test_without_a_second_measurement_the_selection_is_scored() -> None:
    score = score_trial(passed_trial(0, 70.0), BASELINE, noise_sds=1.0)
    assert score.scored_on == "selection" and score.gain == pytest.approx(0.3)


def test_a_costlier_candidate_gains_nothing() -> None:
    score = score_trial(passed_trial(0, 90.0, rescore_energy_j=110.0), BASELINE, noise_sds=0.0)
    assert score.passed and score.gain == 0.0 and score.raw_gain == pytest.approx(-0.1)
    assert not score.inside_noise


@pytest.mark.parametrize(
    ("energy_j", "noise_sds", "gain", "inside"),
    [
        (99.0, 1.0, 0.0, True),  # 1% saved, baseline CV 2%: noise
        (98.0, 1.0, 0.0, True),  # exactly at the floor counts as noise
        (97.0, 1.0, 0.03, False),
        (97.0, 2.0, 0.0, True),  # a wider floor
        (99.0, 0.0, 0.01, False),  # floor off
    ],
)
def test_gains_inside_the_baselines_noise_count_as_zero(
    energy_j: float, noise_sds: float, gain: float, inside: bool
) -> None:
    score = score_trial(passed_trial(0, energy_j), BASELINE, noise_sds=noise_sds)
    assert score.gain == pytest.approx(gain) and score.inside_noise is inside


def test_noise_floor_is_sds_times_the_baselines_cv() -> None:
    assert noise_floor(BASELINE, 1.5) == pytest.approx(0.03)
    assert noise_floor(dataclasses.replace(BASELINE, energy_cv=math.nan), 1.0) == 0.0


def test_failed_and_rejected_trials_score_zero_and_keep_the_original_speed() -> None:
    rejected = passed_trial(1, 50.0, rescore_energy_j=50.0, outcome="rejected-by-judge")
    for trial in (failed_trial(0), rejected):
        score = score_trial(trial, BASELINE, noise_sds=1.0)
        assert not score.passed and score.gain == 0.0 and score.speedup == 1.0
        assert math.isnan(score.raw_gain) and score.scored_on == "" and score.method == ""


def test_speedup_is_at_least_one_and_uses_the_scored_duration() -> None:
    faster = passed_trial(0, 80.0, duration_s=1.5, rescore_energy_j=80.0, rescore_duration_s=1.0)
    slower = passed_trial(1, 80.0, duration_s=3.0)
    assert score_trial(faster, BASELINE, 1.0).speedup == pytest.approx(2.0)
    assert score_trial(slower, BASELINE, 1.0).speedup == 1.0


def test_an_estimate_stays_marked() -> None:
    trial = passed_trial(0, 80.0, rescore_energy_j=80.0, rescore_is_estimate=True)
    trial = dataclasses.replace(trial, rescore_method="estimate")
    score = score_trial(trial, BASELINE, 1.0)
    assert score.is_estimate and score.method == "estimate"


def test_trials_without_a_usable_baseline_are_left_out_with_the_reason() -> None:
    failed = dataclasses.replace(
        BASELINE, variant="hip", status="build-failed", reason="hipcc exited with status 1"
    )
    trials = [
        passed_trial(0, 80.0),
        passed_trial(0, 80.0, variant="hip"),
        passed_trial(0, 80.0, app="lulesh"),
    ]
    baselines = {("jacobi", "cuda"): BASELINE, ("jacobi", "hip"): failed}
    scores, left_out = score_trials(trials, baselines, noise_sds=1.0)
    assert [(s.key.app, s.key.variant) for s in scores] == [("jacobi", "cuda")]
    assert {(k.app, k.variant): why for k, why in left_out.items()} == {
        ("jacobi", "hip"): "baseline build-failed: hipcc exited with status 1",
        ("lulesh", "cuda"): "no baseline stored",
    }
    assert usable_baseline(dataclasses.replace(BASELINE, energy_j_mean=math.nan)).startswith(
        "baseline energy is nan"
    )


def test_scores_carry_the_trials_roofline_guidance_for_the_trials_table() -> None:
    for plain in (passed_trial(0, 80.0), failed_trial(1)):
        trial = dataclasses.replace(
            plain,
            roofline_guidance="on",
            roofline_label="bandwidth-bound",
            roofline_label_source="predicted",
        )
        score = score_trial(trial, BASELINE, 1.0)
        assert (score.roofline_guidance, score.roofline_label, score.roofline_label_source) == (
            "on",
            "bandwidth-bound",
            "predicted",
        )
    assert score_trial(failed_trial(2), BASELINE, 1.0).roofline_guidance == ""
