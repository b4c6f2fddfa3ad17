"""Every table of a report as a CSV file, for users' own analysis.

One header row of column names (units in the names, as everywhere), then one row per record. A
GroupKey becomes the columns app, variant, strategy, partition. Missing numbers (NaN) are empty
cells; fractions stay fractions (0.29, not 29%).
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from lassi_hpc.analysis.model import (
    AppSummary,
    CandidatePoint,
    CurvePoint,
    GroupKey,
    Report,
    StageFailureCount,
    TrialScore,
)

_KEY_COLUMNS = tuple(field.name for field in dataclasses.fields(GroupKey))
_CURVE_FIELDS = ("pass_at_k", "er_at_k", "er_ci95_low", "er_ci95_high", "speedup_at_k")


def write_tables(report: Report, directory: Path) -> list[Path]:
    """Write every table of `report` into `directory` (created if needed); the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    tables: dict[str, tuple[Sequence[str], Iterable[Sequence[Any]]]] = {
        "apps": _apps_table(report.apps, report.options.highlight_ks),
        "app_curves": _app_curves_table(report.apps),
        "campaign_curves": _records_table(CurvePoint, report.curves),
        "trials": _records_table(TrialScore, report.scores),
        "candidates": _records_table(CandidatePoint, report.candidates),
        "failures": _records_table(StageFailureCount, report.failures),
        "references": _references_table(report),
    }
    written = []
    for name, (header, rows) in tables.items():
        path = directory / f"{name}.csv"
        partial = path.with_name(f".{path.name}.partial")
        with partial.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            writer.writerow(header)
            writer.writerows([_cell(value) for value in row] for row in rows)
        partial.replace(path)
        written.append(path)
    return written


def _records_table(record_type: type, records: Sequence[Any]) -> tuple[list[str], list[list[Any]]]:
    """Rows of one dataclass type, with a `key` field expanded into the GroupKey columns. The
    header comes from the type, so that a table without rows (a campaign where no candidate
    passed) still says what its columns are."""
    names = [field.name for field in dataclasses.fields(record_type)]
    header = [column for name in names for column in (_KEY_COLUMNS if name == "key" else (name,))]
    rows = []
    for record in records:
        row: list[Any] = []
        for name in names:
            value = getattr(record, name)
            row.extend(dataclasses.astuple(value) if name == "key" else (value,))
        rows.append(row)
    return header, rows


def _apps_table(
    apps: Sequence[AppSummary], highlight_ks: Sequence[int]
) -> tuple[list[str], list[list[Any]]]:
    """AppSummary with its curves cut to the highlighted k as columns `<field>@<k>`."""
    scalar = [
        field.name
        for field in dataclasses.fields(AppSummary)
        if field.name != "key" and field.name not in _CURVE_FIELDS
    ]
    curve_columns = [(name, k) for k in highlight_ks for name in _CURVE_FIELDS]
    header = [*_KEY_COLUMNS, *scalar, *(f"{name}@{k}" for name, k in curve_columns)]
    rows = []
    for app in apps:
        values = [getattr(app, name) for name in scalar]
        curves = [_at(getattr(app, name), k) for name, k in curve_columns]
        rows.append([*dataclasses.astuple(app.key), *values, *curves])
    return header, rows


def _app_curves_table(apps: Sequence[AppSummary]) -> tuple[list[str], list[list[Any]]]:
    """Every app's curves in long form: one row per group and k."""
    header = [*_KEY_COLUMNS, "k", *_CURVE_FIELDS]
    rows = [
        [*dataclasses.astuple(app.key), k, *(getattr(app, name)[k - 1] for name in _CURVE_FIELDS)]
        for app in apps
        for k in range(1, app.trials + 1)
    ]
    return header, rows


def _references_table(report: Report) -> tuple[list[str], list[list[Any]]]:
    header = ["label", "metric", "k", "value", "source"]
    rows = [
        [reference.label, reference.metric, k, value, reference.source]
        for reference in report.references
        for k, value in reference.points
    ]
    return header, rows


def _at(curve: Sequence[float], k: int) -> float:
    return curve[k - 1] if k <= len(curve) else math.nan


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return value
