"""The records that analysis passes between its steps: trial scores, app summaries, campaign curves,
and the Report that the HTML and CSV writers render.

Conventions: energies in J, durations in s, power in W; gains, reductions and pass rates are
fractions (0.29 is 29%). NaN marks a number that does not exist (no passing candidate, k above the
trial count). Every energy figure travels with how it was obtained (`method`, an EnergyMethod value,
and `is_estimate`): an estimate must be labelled as one wherever it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lassi_hpc.records import PowerTrace


@dataclass(frozen=True, order=True)
class GroupKey:
    """One line of results: an app variant refactored with one strategy on one partition."""

    app: str
    variant: str
    strategy: str  # a Strategy value
    partition: str

    @property
    def label(self) -> str:
        return f"{self.app}/{self.variant} {self.strategy} on {self.partition}"


@dataclass(frozen=True)
class ReportOptions:
    """How a report is computed.

    `noise_sds`: a gain no larger than this many of the baseline's run-to-run standard deviations
    (relative to its mean, i.e. noise_sds × CV) counts as zero; 0 turns the floor off.
    `bootstrap_samples` and `seed`: the app-level bootstrap of campaign figures. `highlight_ks`: the
    k values that tables show as columns. `max_bar_apps` and `max_trace_apps`: how many apps the
    per-app bar chart and the power-trace figure show (the CSV files hold them all).
    """

    noise_sds: float = 1.0
    bootstrap_samples: int = 2000
    seed: int = 0
    confidence: float = 0.95
    highlight_ks: tuple[int, ...] = (1, 3, 5)
    max_bar_apps: int = 40
    max_trace_apps: int = 12


@dataclass(frozen=True)
class TrialScore:
    """One trial's contribution to ER@k, pass@k and speedup@k.

    `gain` is g_i = max(0, 1 - E/E_baseline) when the trial passed every gate and its gain lies
    above the noise floor, else 0. E is the scored measurement: the trial's independent second
    measurement (`scored_on` "rescore") where one exists, else the measurement the best step was
    selected on ("selection"); "" when the trial did not pass. `raw_gain` is 1 - E/E_baseline
    before clipping and the floor (NaN when not passed); `inside_noise` says the floor zeroed it.
    `speedup` is max(1, T_baseline/T) when passed, else 1 (the original is kept).
    """

    key: GroupKey
    trial: int
    outcome: str  # a TrialOutcome value
    passed: bool
    gain: float
    raw_gain: float
    inside_noise: bool
    speedup: float
    selection_energy_j: float
    score_energy_j: float
    score_duration_s: float
    score_power_w: float
    scored_on: str
    method: str  # EnergyMethod of the scored measurement, "" when none
    is_estimate: bool
    # As stored with the trial (store.tables.TrialRow), so that guided and unguided trials can be
    # told apart in trials.csv; "" for trials stored before roofline guidance existed.
    roofline_guidance: str = ""
    roofline_label: str = ""
    roofline_label_source: str = ""


@dataclass(frozen=True)
class AppSummary:
    """One GroupKey's figures. Tuples are indexed by k - 1 for k = 1..trials.

    `er_ci95_low/high` come from a jackknife over the app's trials (NaN where it is undefined,
    k = trials). Baseline medians are over the baseline's repetitions; best-candidate medians over
    the scored repetitions of the trial with the largest gain (`best_trial`, -1 when none passed;
    then NaN). `energy_method` is one EnergyMethod value when baseline and scored candidates agree,
    "mixed" otherwise; `is_estimate` is True when any energy in the row is an estimate.
    `noise_floor` is the gain at or below which gains counted as zero.
    """

    key: GroupKey
    device: str  # the baseline measurement's device names, joined by ", "; "" when unknown
    trials: int
    passes: int
    pass_at_k: tuple[float, ...]
    er_at_k: tuple[float, ...]
    er_ci95_low: tuple[float, ...]
    er_ci95_high: tuple[float, ...]
    speedup_at_k: tuple[float, ...]
    baseline_energy_j_median: float
    baseline_duration_s_median: float
    baseline_power_w_median: float
    best_trial: int
    best_energy_j_median: float
    best_duration_s_median: float
    best_power_w_median: float
    baseline_method: str
    energy_method: str
    is_estimate: bool
    scored_on: str  # "rescore", "selection", "mixed", or "" when none passed
    noise_floor: float


@dataclass(frozen=True)
class CurvePoint:
    """The campaign figure at one k for one strategy on one partition: means over apps with an
    app-level bootstrap confidence interval. `apps` counts the apps averaged (those with at least
    k trials)."""

    strategy: str
    partition: str
    k: int
    apps: int
    er_mean: float
    er_ci95_low: float
    er_ci95_high: float
    pass_mean: float
    pass_ci95_low: float
    pass_ci95_high: float
    speedup_mean: float
    speedup_ci95_low: float
    speedup_ci95_high: float


@dataclass(frozen=True)
class StageFailureCount:
    """How many candidates stopped at `stage` in `iteration` (0 for answers before any code
    change: summary, plan). Stages: "no-code", "screen", "compile", "runtime", "oracle",
    "measure", "judge"."""

    strategy: str
    iteration: int
    stage: str
    count: int


@dataclass(frozen=True)
class CandidatePoint:
    """One evaluated candidate that was measured, relative to its baseline (E/E_b, T/T_b).
    `on_front`: on the Pareto front (no other candidate of the same strategy is both cheaper and
    faster). `is_best`: the best step of its trial."""

    key: GroupKey
    trial: int
    step: int
    energy_ratio: float
    time_ratio: float
    is_best: bool
    on_front: bool
    is_estimate: bool


@dataclass(frozen=True)
class TracePair:
    """The power trace of a baseline and of its app's best candidate (None when none passed), each
    the median-energy repetition: seconds from the window start, W."""

    key: GroupKey
    baseline: PowerTrace | None
    best: PowerTrace | None
    best_trial: int
    method: str
    is_estimate: bool


@dataclass(frozen=True)
class ReferenceCurve:
    """Published figures drawn as reference lines: (k, value as a fraction) pairs."""

    label: str
    metric: str  # "er" or "pass"
    points: tuple[tuple[int, float], ...]
    source: str


@dataclass(frozen=True)
class Report:
    """Everything the HTML and CSV writers show, computed from one results file.

    `notes`: warnings a reader must see (estimates, selection and scoring on the same
    measurement, apps left out and why). `provenance`: ResultsReader.provenance() as read.
    """

    campaign: str
    results_path: str
    generated_utc: str
    options: ReportOptions
    apps: tuple[AppSummary, ...]
    curves: tuple[CurvePoint, ...]
    scores: tuple[TrialScore, ...]
    candidates: tuple[CandidatePoint, ...]
    failures: tuple[StageFailureCount, ...]
    traces: tuple[TracePair, ...]
    references: tuple[ReferenceCurve, ...]
    notes: tuple[str, ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict)
