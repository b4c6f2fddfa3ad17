"""BaselineRecord <-> the HDF5 group /apps/<app>/<variant>/baseline.

The writer and the reader both go through this module, so the layout in docs/hdf5-schema.md lives in
one place; builds, runs, verdicts and measurements are stored by stage_codec, as in trials.
"""

from __future__ import annotations

from typing import Any

from lassi_hpc.records import BaselineRecord, StageStatus
from lassi_hpc.store.encoding import (
    get_enum_attr,
    get_text_attr,
    group_at,
    read_pairs,
    set_text_attr,
    write_json,
)
from lassi_hpc.store.h5_direct import new_group
from lassi_hpc.store.schema import (
    BUILD,
    EXTRA,
    MEASUREMENT,
    PLACEMENT,
    RUNS,
    VERDICTS,
    escape_name,
)
from lassi_hpc.store.stage_codec import (
    DATASET_OVERHEAD_BYTES,
    GROUP_OVERHEAD_BYTES,
    build_size_bytes,
    measurement_size_bytes,
    read_build,
    read_measurement,
    read_runs,
    read_verdicts,
    runs_size_bytes,
    text_size_bytes,
    validate_input_names,
    validate_measurement,
    validate_output_files,
    verdicts_size_bytes,
    write_build,
    write_measurement,
    write_runs,
    write_verdicts,
)


def validate_baseline(record: BaselineRecord) -> None:
    """Raise StoreError if `record` cannot be stored under unambiguous names."""
    label = f"baseline {record.app!r}/{record.variant!r}"
    escape_name(record.app, "app")
    escape_name(record.variant, "variant")
    validate_input_names(label, record.runs, record.verdicts)
    validate_output_files(label, record.runs)
    if record.measurement is not None:
        validate_measurement(label, record.measurement)


def estimated_size_bytes(record: BaselineRecord) -> int:
    """An upper bound of the bytes write_baseline_group adds to a file for `record`.

    The writer reserves this much disk space before writing, so that a full disk is found before
    HDF5 has written anything (compression only makes the real size smaller).
    """
    pairs = (*record.extra, *record.placement)
    texts = [record.reason, record.partition, *(value for pair in pairs for value in pair)]
    size = GROUP_OVERHEAD_BYTES + 2 * DATASET_OVERHEAD_BYTES + text_size_bytes(texts)
    size += build_size_bytes(record.build)
    size += runs_size_bytes(record.runs) + verdicts_size_bytes(record.verdicts)
    if record.measurement is not None:
        size += measurement_size_bytes(record.measurement)
    return size


def write_baseline_group(group: Any, record: BaselineRecord, written_utc: str) -> None:
    """Fill an empty group with `record` (validate_baseline must have passed)."""
    for name, text in (
        ("app", record.app),
        ("variant", record.variant),
        ("partition", record.partition),
        ("status", record.status.value),
        ("reason", record.reason),
        ("written_utc", written_utc),
    ):
        set_text_attr(group, name, text)
    write_json(group, EXTRA, [list(pair) for pair in record.extra])
    write_json(group, PLACEMENT, [list(pair) for pair in record.placement])
    write_build(new_group(group, BUILD), record.build)
    write_runs(new_group(group, RUNS), record.runs)
    write_verdicts(new_group(group, VERDICTS), record.verdicts)
    if record.measurement is not None:
        write_measurement(new_group(group, MEASUREMENT), record.measurement)


def read_baseline_group(group: Any) -> BaselineRecord:
    """The BaselineRecord stored in `group` by write_baseline_group."""
    measurement_group = group.get(MEASUREMENT)
    return BaselineRecord(
        app=get_text_attr(group, "app"),
        variant=get_text_attr(group, "variant"),
        partition=get_text_attr(group, "partition"),
        status=get_enum_attr(group, "status", StageStatus),
        reason=get_text_attr(group, "reason"),
        build=read_build(group_at(group, BUILD)),
        runs=read_runs(group_at(group, RUNS)),
        verdicts=read_verdicts(group_at(group, VERDICTS)),
        measurement=None if measurement_group is None else read_measurement(measurement_group),
        extra=read_pairs(group, EXTRA),
        placement=read_pairs(group, PLACEMENT),
    )
