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
    MEASUREMENT,
    PROVENANCE,
    PROVENANCE_RESUMES,
    REPETITION_COLUMNS,
    REPETITIONS,
    RUNS,
    STDERR,
    STDOUT,
    TRACE_COLUMNS,
    TRIALS,
    baseline_path,
    escape_name,
    trace_name,
    trial_path,
)
from lassi_hpc.store.stage_codec import MEASUREMENT_NUMBERS, is_estimate
from lassi_hpc.store.tables import BaselineRow, StepFailureRow, TrialRow
from lassi_hpc.store.trial_codec import read_trial_group
from lassi_hpc.store.trial_rows import step_failure_rows, trial_row


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
        rows = [trial_row(group) for group in self._trial_groups()]
        return sorted(rows, key=lambda row: (row.app, row.variant, row.strategy, row.trial))

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

    def step_failures(self) -> list[StepFailureRow]:
        """One row per step whose candidate failed a gate or whose answer held no code (status
        "no-code"), sorted by app, variant, strategy, trial, then step order."""
        groups = sorted(
            self._trial_groups(),
            key=lambda group: (
                get_text_attr(group, "app"),
                get_text_attr(group, "variant"),
                get_text_attr(group, "strategy"),
                get_int_attr(group, "trial"),
            ),
        )
        return [row for group in groups for row in step_failure_rows(group)]

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
        group = self._repetitions_group(app, variant)
        return {name: read_column(group, name) for name, _ in REPETITION_COLUMNS}

    def trace(
        self, app: str, variant: str, repetition: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(time_s, power_w) of one repetition's power trace: seconds from the window start, W."""
        group = self._repetitions_group(app, variant)
        trace = group.get(trace_name(repetition))
        if trace is None:
            count = len(group[REPETITION_COLUMNS[0][0]])
            raise StoreError(
                f"{self._path}: baseline {app!r}/{variant!r} has no power trace for repetition "
                f"{repetition} ({count} repetitions, numbered from 0)"
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
        path = trial_path(app, variant, enum_value(strategy, Strategy, "strategy"), trial)
        group = self._file.get(path)
        if group is None:
            stored = [key for key in self.trial_keys() if key[:2] == (app, variant)]
            listed = ", ".join(f"{key[2]} {key[3]}" for key in stored) or "none"
            raise StoreError(
                f"{self._path}: no trial {strategy} {trial} for app {app!r} variant {variant!r}; "
                f"stored for it: {listed}"
            )
        return read_trial_group(group)

    def _baseline(self, app: str, variant: str) -> Any:
        group = self._file.get(baseline_path(app, variant))
        if group is None:
            stored = ", ".join(f"{row.app}/{row.variant}" for row in self.baselines()) or "none"
            raise StoreError(
                f"{self._path}: no baseline for app {app!r} variant {variant!r}; stored: {stored}"
            )
        return group

    def _repetitions_group(self, app: str, variant: str) -> Any:
        baseline = self._baseline(app, variant)
        measurement = baseline.get(MEASUREMENT)
        if measurement is None:
            status = get_text_attr(baseline, "status")
            raise StoreError(
                f"{self._path}: baseline {app!r}/{variant!r} has no energy measurement "
                f"(status {status})"
            )
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
    if measurement is not None:
        numbers = {name: get_float_attr(measurement, name) for name in MEASUREMENT_NUMBERS}
        method = get_text_attr(measurement, "method")
        backend = get_text_attr(measurement, "backend")
        estimate = is_estimate(measurement)
        repetitions = len(group_at(measurement, REPETITIONS)[REPETITION_COLUMNS[0][0]])
        flags = get_text_list_attr(measurement, "flags")
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
    )
