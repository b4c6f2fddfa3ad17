"""How well predictions match labels: accuracy, per-class recall, confusion matrix and
Matthews correlation (MCC), each with a percentile bootstrap interval over kernels.

An unparsed answer counts as wrong everywhere: in the MCC it is taken as the class opposite to
the truth. The confusion matrix keeps it in its own column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from lassi_hpc.analysis.intervals import bootstrap_mean_ci
from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.records import BOUNDEDNESS, Prediction

PREDICTED_COLUMNS = ("Compute", "Bandwidth", "unparsed")

Interval = tuple[float, float]


@dataclass(frozen=True)
class ClassificationScores:
    """Scores of one model in one scenario (fractions in [0, 1]; MCC in [-1, 1]).

    `confusion[i][j]` counts kernels of true class BOUNDEDNESS[i] predicted as
    PREDICTED_COLUMNS[j]. Intervals are (low, high) at the stated confidence; NaN when there are
    too few kernels to resample.
    """

    model: str
    scenario: str
    kernels: int
    unparsed: int
    accuracy: float
    accuracy_ci: Interval
    recall: dict[str, float]  # per true class; NaN for a class with no kernel
    recall_ci: dict[str, Interval]
    mcc: float
    mcc_ci: Interval
    confusion: tuple[tuple[int, int, int], tuple[int, int, int]]


def confusion_matrix(
    predictions: Sequence[Prediction],
) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Rows: true Compute, Bandwidth; columns: PREDICTED_COLUMNS."""
    counts = [[0, 0, 0], [0, 0, 0]]
    for p in predictions:
        column = 2 if p.predicted is None else BOUNDEDNESS.index(p.predicted)
        counts[BOUNDEDNESS.index(p.truth)][column] += 1
    return (counts[0][0], counts[0][1], counts[0][2]), (counts[1][0], counts[1][1], counts[1][2])


def matthews_correlation(true_compute: NDArray[np.bool_], correct: NDArray[np.bool_]) -> float:
    """MCC with Compute as the positive class; an unparsed answer is a wrong one.

    0 when a margin is empty (the usual convention: no correlation can be measured).
    """
    predicted_compute = np.where(correct, true_compute, ~true_compute)
    tp = float(np.sum(true_compute & predicted_compute))
    tn = float(np.sum(~true_compute & ~predicted_compute))
    fp = float(np.sum(~true_compute & predicted_compute))
    fn = float(np.sum(true_compute & ~predicted_compute))
    denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return 0.0 if denominator == 0 else (tp * tn - fp * fn) / denominator


def score_predictions(
    predictions: Sequence[Prediction], samples: int = 2000, seed: int = 0, confidence: float = 0.95
) -> ClassificationScores:
    """Scores of predictions that share one model and one scenario."""
    if not predictions:
        raise RooflineError("no predictions to score")
    pairs = {(p.model, p.scenario) for p in predictions}
    if len(pairs) != 1:
        raise RooflineError(f"predictions mix models or scenarios: {sorted(pairs)}")
    model, scenario = next(iter(pairs))
    correct = np.array([p.correct for p in predictions], dtype=bool)
    true_compute = np.array([p.truth == "Compute" for p in predictions], dtype=bool)
    columns = np.column_stack(
        [
            correct.astype(np.float64),
            np.where(true_compute, correct, np.nan),
            np.where(~true_compute, correct, np.nan),
        ]
    )
    low, high = bootstrap_mean_ci(columns, samples, seed, confidence)
    means = [float(np.nanmean(c)) if np.isfinite(c).any() else math.nan for c in columns.T]
    return ClassificationScores(
        model=model,
        scenario=scenario,
        kernels=len(predictions),
        unparsed=sum(p.predicted is None for p in predictions),
        accuracy=means[0],
        accuracy_ci=(float(low[0]), float(high[0])),
        recall={"Compute": means[1], "Bandwidth": means[2]},
        recall_ci={
            "Compute": (float(low[1]), float(high[1])),
            "Bandwidth": (float(low[2]), float(high[2])),
        },
        mcc=matthews_correlation(true_compute, correct),
        mcc_ci=_bootstrap_mcc(true_compute, correct, samples, seed, confidence),
        confusion=confusion_matrix(predictions),
    )


def score_by_model_and_scenario(
    predictions: Sequence[Prediction], samples: int = 2000, seed: int = 0
) -> list[ClassificationScores]:
    """score_predictions for each (model, scenario), in first-seen order."""
    groups: dict[tuple[str, str], list[Prediction]] = {}
    for p in predictions:
        groups.setdefault((p.model, p.scenario), []).append(p)
    return [score_predictions(group, samples, seed) for group in groups.values()]


def _bootstrap_mcc(
    true_compute: NDArray[np.bool_],
    correct: NDArray[np.bool_],
    samples: int,
    seed: int,
    confidence: float,
) -> Interval:
    # MCC is not a mean of per-kernel values, so analysis.intervals cannot resample it: the
    # kernels are resampled here the same way (with replacement, seeded, percentile bounds).
    size = true_compute.size
    if size < 2:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, size, size=(samples, size))
    values = [matthews_correlation(true_compute[row], correct[row]) for row in draws]
    tail_percent = 50.0 * (1.0 - confidence)
    low, high = np.percentile(values, [tail_percent, 100.0 - tail_percent])
    return (float(low), float(high))
