"""The warnings a report's reader must see: estimates, biased scoring, apps left out, noise."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from lassi_hpc.analysis.model import AppSummary, GroupKey, ReportOptions, TrialScore
from lassi_hpc.store.tables import BaselineRow, TrialRow

_LISTED = 20  # groups named one by one in a note; the rest are counted


def report_notes(
    baselines: Iterable[BaselineRow],
    scores: Sequence[TrialScore],
    apps: Sequence[AppSummary],
    left_out: Mapping[GroupKey, str],
    options: ReportOptions,
) -> tuple[str, ...]:
    """The notes of a report, most important first."""
    notes: list[str] = []
    baselines = list(baselines)
    if not scores and not left_out:
        notes.append("The file holds no refactoring trials: only baselines are shown.")
    notes.extend(_estimate_notes(baselines, scores))
    passed = [score for score in scores if score.passed]
    unrescored = [score for score in passed if score.scored_on == "selection"]
    if unrescored:
        notes.append(
            f"{len(unrescored)} of {len(passed)} passing trials had no independent second "
            "measurement and are scored on the measurement their best candidate was selected on: "
            "best-of-k gains computed from them are biased upward."
        )
    mixed = [app.key.label for app in apps if app.energy_method == "mixed"]
    if mixed:
        notes.append(
            f"{len(mixed)} groups compare energies obtained by different methods (baseline and "
            f"candidates): {_listed(mixed)}."
        )
    within = sum(score.inside_noise for score in passed)
    if within:
        notes.append(
            f"{within} passing trials saved energy within the baseline's run-to-run noise "
            f"(at most {options.noise_sds:g} × its CV) and count as 0 (option --noise-sds)."
        )
    weak = [f"{row.app}/{row.variant} ({row.weak_check})" for row in baselines if row.weak_check]
    if weak:
        notes.append(
            f"{len(weak)} app variants have a weak correctness check, so a passing candidate is "
            f"less certain to be correct: {_listed(weak)}."
        )
    noisy = [f"{row.app}/{row.variant}" for row in baselines if "cv>5%" in row.flags]
    if noisy:
        notes.append(
            f"{len(noisy)} baselines vary by more than 5% from run to run: {_listed(noisy)}."
        )
    for k in options.highlight_ks:
        short = [app.key.label for app in apps if app.trials < k]
        if short:
            notes.append(
                f"{len(short)} groups have fewer than {k} trials: ER@{k} and pass@{k} are not "
                f"defined for them and they are left out of the campaign means at k = {k}."
            )
    if left_out:
        listed = [f"{key.label} ({why})" for key, why in sorted(left_out.items())]
        notes.append(f"Left out, no usable baseline: {_listed(listed)}.")
    return tuple(notes)


def roofline_notes(trials: Sequence[TrialRow]) -> tuple[str, ...]:
    """Whether roofline guidance steered the lassi-ee plans, and where the labels came from, so
    that a guided and an unguided campaign are told apart; nothing for trials stored before
    guidance existed."""
    known = [row for row in trials if row.roofline_guidance]
    if not known:
        return ()
    guided = [row for row in known if row.roofline_guidance == "on"]
    if not guided:
        return (f"Roofline guidance was off for all {len(known)} trials.",)
    sources = Counter(row.roofline_label_source or "none" for row in guided)
    counted = ", ".join(f"{count} {source}" for source, count in sorted(sources.items()))
    return (
        f"Roofline guidance was on for {len(guided)} of {len(known)} trials (their labels: "
        f"{counted}); a trial with no label (none) got the unguided plan prompt.",
    )


def _estimate_notes(baselines: Sequence[BaselineRow], scores: Sequence[TrialScore]) -> list[str]:
    estimated_baselines = sum(row.is_estimate for row in baselines)
    scored = [score for score in scores if score.passed]
    estimated_scores = sum(score.is_estimate for score in scored)
    if not estimated_baselines and not estimated_scores:
        return []
    return [
        f"ESTIMATED energy: {estimated_baselines} of {len(baselines)} baselines and "
        f"{estimated_scores} of {len(scored)} scored candidates have energies from a model (no "
        "energy meter where they ran), not from a measurement. Reductions computed from them are "
        "not measured savings."
    ]


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    more = len(items) - _LISTED
    return f"{shown} and {more} more" if more > 0 else shown
