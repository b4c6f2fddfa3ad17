"""`lassi-hpc status`: where a running or finished campaign stands, as plain text."""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path

from lassi_hpc.errors import LassiError, StoreError
from lassi_hpc.flow.campaign_status import STATUS_NAME, driver_alive, read_status
from lassi_hpc.flow.progress import format_duration, how_obtained
from lassi_hpc.records import TrialOutcome
from lassi_hpc.store import ResultsReader, TrialRow
from lassi_hpc.store.roofline_codec import ROOFLINE_FILE_NAME

ACCEPTED = TrialOutcome.ACCEPTED.value


def results_path(path: Path) -> Path:
    """The .h5 file named by `path`: the file itself, or the campaign directory holding one
    (besides a roofline.h5)."""
    if path.is_dir():
        # `roofline profile` writes its roofline.h5 beside the results file by default.
        found = sorted(p for p in path.glob("*.h5") if p.name != ROOFLINE_FILE_NAME)
        if len(found) != 1:
            raise LassiError(
                f"{path}: expected one results file (*.h5) in this directory, found {len(found)}"
            )
        return found[0]
    if not path.exists():
        raise LassiError(f"{path}: no such results file or campaign directory")
    if path.suffix == ".toml":
        # `run` takes the campaign file, so users hand it to `status` and `report` as well.
        raise LassiError(
            f"{path}: a config file, not results; give the campaign's results file or the folder "
            "holding it, <results_dir>/<campaign name>/ (the last line `lassi-hpc run` prints)"
        )
    return path


def describe_campaign(path: Path) -> str:
    """The driver's live state (status.json) and the stored baselines and trials."""
    results = results_path(path)
    lines = [f"results: {results}"]
    state = read_status(results.parent / STATUS_NAME)
    if state is not None:
        lines.append(_driver_line(state))
    try:
        with ResultsReader(results) as reader:
            lines += _stored(reader)
    except StoreError as error:
        lines.append(f"stored results not readable now: {error}")
    return "\n".join(lines)


def _driver_line(state: dict[str, object]) -> str:
    phase = str(state.get("phase", "?"))
    alive = driver_alive(state)
    updated = time.time() - float(str(state.get("updated_at_s", 0)))
    who = f"driver pid {state.get('pid')} on {state.get('host')}"
    if phase in ("baseline", "trials"):
        who += " (running)" if alive else " (NOT running: stopped or killed; run again to resume)"
    text = f"phase: {phase}; {who}; updated {format_duration(updated)} ago"
    if "trials_total" in state:
        text += f"\ntrials: {state.get('trials_done', 0)} of {state['trials_total']} stored"
        if alive and phase == "trials":
            text += (
                f"; in flight: {state.get('trials_running', 0)} trials, "
                f"{state.get('llm_requests_in_flight', 0)} LLM requests, "
                f"{state.get('evaluations_in_flight', 0)} evaluations"
            )
        faults = state.get("harness_faults", 0)
        if faults:
            text += f"; {faults} harness faults (those trials are redone on the next run)"
    return text


def _stored(reader: ResultsReader) -> list[str]:
    lines = [f"campaign {reader.campaign_name!r}, created {reader.created_utc}"]
    baselines = reader.baselines()
    lines.append(f"baselines: {len(baselines)}")
    for row in baselines:
        if math.isnan(row.energy_j_mean):
            energy = "not measured"
        else:
            how = how_obtained(row.is_estimate, row.method)
            energy = f"{row.energy_j_mean:.4g} J ± {row.energy_j_ci95:.2g} (95% CI, {how})"
        reason = f" ({row.reason})" if row.reason else ""
        lines.append(f"  {row.app}/{row.variant}: {row.status}{reason}, {energy}")
    trials = reader.trials()
    lines.append(f"trials: {len(trials)} stored")
    groups: dict[tuple[str, str, str], list[TrialRow]] = {}
    for trial in trials:
        groups.setdefault((trial.app, trial.variant, trial.strategy), []).append(trial)
    baseline_j = {(r.app, r.variant): r.energy_j_mean for r in baselines}
    for (app, variant, strategy), rows in sorted(groups.items()):
        outcomes = Counter(row.outcome for row in rows)
        text = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
        accepted = [
            r for r in rows if r.outcome == ACCEPTED and not math.isnan(r.best_energy_j_mean)
        ]
        if accepted:
            best = min(accepted, key=lambda r: r.best_energy_j_mean)
            how = how_obtained(best.best_is_estimate, best.best_method)
            text += f"; best accepted {best.best_energy_j_mean:.4g} J ({how})"
            reference_j = baseline_j.get((app, variant), math.nan)
            if reference_j > 0:
                text += f", {100 * (1 - best.best_energy_j_mean / reference_j):.1f}% below baseline"
        lines.append(f"  {app}/{variant} {strategy}: {len(rows)} trials: {text}")
    return lines
