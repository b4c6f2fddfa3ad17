"""ResultsReader: read-only access to a results file, as records and as plain columns."""

from __future__ import annotations

import math
import os
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from lassi_hpc.errors import StoreError
from lassi_hpc.records import BaselineRecord, Strategy, TrialRecord
from lassi_hpc.store.baseline_codec import read_baseline_group
from lassi_hpc.store.encoding import (
    children,
    enum_value,
    get_bool_attr,
    get_float_attr,
    get_int_attr,
    get_text_attr,
    get_text_list_attr,
    group_at,
    read_column,
    read_json,
    read_pairs,
    read_text,
)
from lassi_hpc.store.file_access import open_results
from lassi_hpc.store.provenance_codec import read_provenance, read_resumes
from lassi_hpc.store.schema import (
    APPS,
    ATTR_CAMPAIGN_NAME,
    ATTR_CREATED_UTC,
    ATTR_LASSI_HPC_VERSION,
    BASELINE,
    BUILD,
    DEVICES,
    EXTRA,
    MEASUREMENT,
    PROVENANCE,
    PROVENANCE_RESUMES,
    REPETITION_COLUMNS,
    REPETITIONS,
    RESCORE,
    RUNS,
    STDERR,
    STDOUT,
    SUMMARY,
    TRACE_COLUMNS,
    TRIALS,
    baseline_path,
    escape_name,
    index_name,
    trace_name,
    trial_path,
)
from lassi_hpc.store.stage_codec import MEASUREMENT_NUMBERS, is_estimate
from lassi_hpc.store.tables import (
    WEAK_CHECK_EXTRA_KEY,
    BaselineRow,
    CandidateRow,
    StepFailureRow,
    TrialRow,
)
from lassi_hpc.store.trial_codec import read_trial_group
from lassi_hpc.store.trial_rows import (
    candidate_rows,
    rows_from_summary,
    step_failure_row,
    trial_row,
)


class ResultsReader:
    """Opens a results file read-only; use as a context manager or call close().

    A file that a running driver holds open for writing cannot be opened (HDF5 locks it) and is
    refused with a StoreError saying so.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._file, self._schema_version = open_results(self._path, for_writing=False)

    @property
    def path(self) -> Path:
        """The results file."""
        return self._path

    @property
    def schema_version(self) -> int:
        """The layout version the file was written with."""
        return self._schema_version

    @property
    def campaign_name(self) -> str:
        """The campaign name given when the file was created."""
        return get_text_attr(self._file, ATTR_CAMPAIGN_NAME)

    @property
    def created_utc(self) -> str:
        """When the file was created (ISO 8601, UTC)."""
        return get_text_attr(self._file, ATTR_CREATED_UTC)

    @property
    def lassi_hpc_version(self) -> str:
        """The lassi_hpc version that created the file."""
        return get_text_attr(self._file, ATTR_LASSI_HPC_VERSION)

    def provenance(self) -> dict[str, Any]:
        """How the file was made: campaign_config, site_config, versions, host, devices,
        git_revision, collected_utc, and `resumes`, a list of the same for each resumed session."""
        group = group_at(self._file, PROVENANCE)
        found = read_provenance(group)
        found[PROVENANCE_RESUMES] = read_resumes(group)
        return found

    # ----------------------------------------------------------------------------------------------
    # Tables

    def baselines(self) -> list[BaselineRow]:
        """One row per stored baseline, sorted by app then variant."""
        rows = [_baseline_row(group) for group in self._baseline_groups()]
        return sorted(rows, key=lambda row: (row.app, row.variant))

    def _baseline_groups(self) -> list[Any]:
        found = []
        for app_group in children(group_at(self._file, APPS)):
            for variant_group in children(app_group):
                baseline = variant_group.get(BASELINE)
                if baseline is not None:
                    found.append(baseline)
        return found

    def trials(self) -> list[TrialRow]:
        """One row per stored trial, sorted by app, variant, strategy and trial number; a file
        without trials (one written before trials existed, too) gives []."""
        return self.trial_tables()[0]

    def candidates(self) -> list[CandidateRow]:
        """One row per step that produced a candidate (or was asked for code and held none),
        sorted by app, variant, strategy, trial and step."""
        return self.trial_tables()[1]

    def step_failures(self) -> list[StepFailureRow]:
        """One row per step whose candidate failed a gate or whose answer held no code (status
        "no-code"), sorted by app, variant, strategy, trial, then step order."""
        failures = (step_failure_row(row) for row in self.candidates())
        return [row for row in failures if row is not None]

    def trial_tables(self) -> tuple[list[TrialRow], list[CandidateRow]]:
        """trials() and candidates() from one pass over the file: each trial's `summary` dataset,
        or, where a trial has none (schema version 1), the whole trial."""
        trials, candidates = [], []
        for group in self._trial_groups():
            row, rows = _trial_rows(group)
            trials.append(row)
            candidates.extend(rows)
        trials.sort(key=lambda row: (row.app, row.variant, row.strategy, row.trial))
        candidates.sort(key=lambda row: (row.app, row.variant, row.strategy, row.trial, row.step))
        return trials, candidates

    def trial_keys(self) -> list[tuple[str, str, str, int]]:
        """(app, variant, strategy, trial) of every stored trial, sorted."""
        return sorted(
            (
                get_text_attr(group, "app"),
                get_text_attr(group, "variant"),
                get_text_attr(group, "strategy"),
                get_int_attr(group, "trial"),
            )
            for group in self._trial_groups()
        )

    def _trial_groups(self) -> list[Any]:
        found = []
        for app_group in children(group_at(self._file, APPS)):
            for variant_group in children(app_group):
                trials = variant_group.get(TRIALS)
                if trials is None:
                    continue
                for strategy_group in children(trials):
                    found.extend(children(strategy_group))
        return found

    def repetitions(self, app: str, variant: str) -> dict[str, npt.NDArray[Any]]:
        """Per-repetition columns of a baseline's measurement: energy_j (J, per run), duration_s (s,
        per run), average_power_w (W), idle_power_w (W), runs_in_window (count)."""
        return _repetition_columns(self._baseline_repetitions(app, variant))

    def trace(
        self, app: str, variant: str, repetition: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(time_s, power_w) of one repetition's power trace: seconds from the window start, W."""
        group = self._baseline_repetitions(app, variant)
        return self._trace(group, repetition, f"baseline {app!r}/{variant!r}")

    def trial_repetitions(
        self, app: str, variant: str, strategy: str, trial: int, *, rescore: bool = False
    ) -> dict[str, npt.NDArray[Any]]:
        """Per-repetition columns (as repetitions()) of a trial's best step's measurement, or of
        its independent second measurement when `rescore`."""
        return _repetition_columns(self._trial_repetitions(app, variant, strategy, trial, rescore))

    def trial_trace(
        self,
        app: str,
        variant: str,
        strategy: str,
        trial: int,
        repetition: int,
        *,
        rescore: bool = False,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(time_s, power_w) of one repetition of a trial's best-step measurement (or rescore)."""
        group = self._trial_repetitions(app, variant, strategy, trial, rescore)
        which = "rescore" if rescore else "best step"
        return self._trace(
            group, repetition, f"{strategy} trial {trial} of {app!r}/{variant!r} ({which})"
        )

    def _trace(
        self, repetitions: Any, repetition: int, label: str
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        trace = repetitions.get(trace_name(repetition))
        if trace is None:
            count = len(repetitions[REPETITION_COLUMNS[0][0]])
            raise StoreError(
                f"{self._path}: {label} has no power trace for repetition {repetition} "
                f"({count} repetitions, numbered from 0)"
            )
        time_s, power_w = (read_column(trace, name).astype(np.float64) for name, _ in TRACE_COLUMNS)
        return time_s, power_w

    def run_output(self, app: str, variant: str, input_name: str) -> str:
        """The stdout of a baseline's run on `input_name`."""
        runs = group_at(self._baseline(app, variant), RUNS)
        run = runs.get(escape_name(input_name, "input"))
        if run is None:
            names = sorted(get_text_attr(group, "input_name") for group in runs.values())
            raise StoreError(
                f"{self._path}: baseline {app!r}/{variant!r} has no run on input {input_name!r}; "
                f"inputs: {', '.join(names) or 'none'}"
            )
        return read_text(run, STDOUT)

    def build_log(self, app: str, variant: str) -> str:
        """The build's stdout followed by its stderr (where compilers write their diagnostics)."""
        build = group_at(self._baseline(app, variant), BUILD)
        stdout, stderr = read_text(build, STDOUT), read_text(build, STDERR)
        if stdout and stderr and not stdout.endswith("\n"):
            stdout += "\n"
        return stdout + stderr

    def read_baseline(self, app: str, variant: str) -> BaselineRecord:
        """The full BaselineRecord of `app`/`variant`, as it was written."""
        return read_baseline_group(self._baseline(app, variant))

    def read_trial(self, app: str, variant: str, strategy: str, trial: int) -> TrialRecord:
        """The full TrialRecord of trial `trial` (0-based) of `strategy` (a Strategy value) for
        `app`/`variant`, as it was written."""
        return read_trial_group(self._trial_group(app, variant, strategy, trial))

    def _trial_group(self, app: str, variant: str, strategy: str, trial: int) -> Any:
        path = trial_path(app, variant, enum_value(strategy, Strategy, "strategy"), trial)
        group = self._file.get(path)
        if group is None:
            stored = [key for key in self.trial_keys() if key[:2] == (app, variant)]
            listed = ", ".join(f"{key[2]} {key[3]}" for key in stored) or "none"
            raise StoreError(
                f"{self._path}: no trial {strategy} {trial} for app {app!r} variant {variant!r}; "
                f"stored for it: {listed}"
            )
        return group

    def _baseline(self, app: str, variant: str) -> Any:
        group = self._file.get(baseline_path(app, variant))
        if group is None:
            stored = ", ".join(f"{row.app}/{row.variant}" for row in self.baselines()) or "none"
            raise StoreError(
                f"{self._path}: no baseline for app {app!r} variant {variant!r}; stored: {stored}"
            )
        return group

    def _baseline_repetitions(self, app: str, variant: str) -> Any:
        baseline = self._baseline(app, variant)
        measurement = baseline.get(MEASUREMENT)
        if measurement is None:
            status = get_text_attr(baseline, "status")
            raise StoreError(
                f"{self._path}: baseline {app!r}/{variant!r} has no energy measurement "
                f"(status {status})"
            )
        return group_at(measurement, REPETITIONS)

    def _trial_repetitions(
        self, app: str, variant: str, strategy: str, trial: int, rescore: bool
    ) -> Any:
        group = self._trial_group(app, variant, strategy, trial)
        label = f"{self._path}: {strategy} trial {trial} of {app!r}/{variant!r}"
        if rescore:
            measurement = group.get(RESCORE)
            if measurement is None:
                raise StoreError(f"{label} has no rescore (second measurement)")
        else:
            best_step = get_int_attr(group, "best_step")
            if best_step < 0:
                outcome, reason = get_text_attr(group, "outcome"), get_text_attr(group, "reason")
                raise StoreError(f"{label} has no best step ({outcome}: {reason})")
            measurement = group_at(group, f"steps/{index_name(best_step)}/evaluation/measurement")
        return group_at(measurement, REPETITIONS)

    # ----------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the file; closing twice is harmless."""
        if self._file.id.valid:
            self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResultsReader({str(self._path)!r})"


def _baseline_row(group: Any) -> BaselineRow:
    build = group_at(group, BUILD)
    measurement = group.get(MEASUREMENT)
    numbers = dict.fromkeys(MEASUREMENT_NUMBERS, math.nan)
    method = backend = ""
    estimate = False
    repetitions = 0
    flags: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    if measurement is not None:
        numbers = {name: get_float_attr(measurement, name) for name in MEASUREMENT_NUMBERS}
        method = get_text_attr(measurement, "method")
        backend = get_text_attr(measurement, "backend")
        estimate = is_estimate(measurement)
        repetitions = len(group_at(measurement, REPETITIONS)[REPETITION_COLUMNS[0][0]])
        flags = get_text_list_attr(measurement, "flags")
        devices = tuple(str(entry.get("name", "")) for entry in read_json(measurement, DEVICES))
    return BaselineRow(
        app=get_text_attr(group, "app"),
        variant=get_text_attr(group, "variant"),
        partition=get_text_attr(group, "partition"),
        status=get_text_attr(group, "status"),
        reason=get_text_attr(group, "reason"),
        build_ok=get_bool_attr(build, "ok"),
        build_wall_s=get_float_attr(build, "wall_s"),
        energy_j_mean=numbers["energy_j_mean"],
        energy_j_sd=numbers["energy_j_sd"],
        energy_j_ci95=numbers["energy_j_ci95"],
        energy_cv=numbers["energy_cv"],
        duration_s_mean=numbers["duration_s_mean"],
        average_power_w_mean=numbers["average_power_w_mean"],
        method=method,
        backend=backend,
        is_estimate=estimate,
        repetitions=repetitions,
        flags=flags,
        devices=devices,
        weak_check=dict(read_pairs(group, EXTRA)).get(WEAK_CHECK_EXTRA_KEY, ""),
    )


def _trial_rows(group: Any) -> tuple[TrialRow, list[CandidateRow]]:
    """The rows of the trial in `group`: from its summary, else from the whole record."""
    if SUMMARY in group:
        rows = rows_from_summary(read_text(group, SUMMARY))
        if rows is not None:
            return rows
    record = read_trial_group(group)
    return trial_row(record), candidate_rows(record)


def _repetition_columns(repetitions: Any) -> dict[str, npt.NDArray[Any]]:
    return {name: read_column(repetitions, name) for name, _ in REPETITION_COLUMNS}
