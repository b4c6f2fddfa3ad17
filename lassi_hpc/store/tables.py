"""Flat rows that the reader returns for analysis, and turning rows into columns."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BaselineRow:
    """One app variant's baseline, flattened.

    Energy in J, power in W, times in s, `energy_cv` as a fraction. Where the baseline has no
    measurement (a failed build or run) the numbers are NaN, `method` and `backend` are "",
    `is_estimate` is False and `repetitions` is 0. `is_estimate` is True when the energy comes from
    a model rather than a meter: such figures must be labelled as estimates wherever shown.
    """

    app: str
    variant: str
    partition: str
    status: str  # a StageStatus value
    reason: str
    build_ok: bool
    build_wall_s: float
    energy_j_mean: float
    energy_j_sd: float
    energy_j_ci95: float
    energy_cv: float
    duration_s_mean: float
    average_power_w_mean: float
    method: str  # an EnergyMethod value, or ""
    backend: str
    is_estimate: bool
    repetitions: int
    flags: tuple[str, ...]


def as_columns(rows: Sequence[Any], row_type: type[Any] | None = None) -> dict[str, list[Any]]:
    """Rows of one dataclass type as {field name: list of values}, in field order.

    `row_type` gives the columns when `rows` may be empty (without it, no rows give {}).
    """
    if row_type is None:
        if not rows:
            return {}
        row_type = type(rows[0])
    if not dataclasses.is_dataclass(row_type):
        raise TypeError(f"as_columns needs dataclass rows, got {row_type.__name__}")
    names = [f.name for f in dataclasses.fields(row_type)]
    for row in rows:
        if type(row) is not row_type:
            raise TypeError(
                f"as_columns needs rows of one type: {row_type.__name__} and {type(row).__name__}"
            )
    return {name: [getattr(row, name) for row in rows] for name in names}
