"""BaselineRecord <-> the HDF5 group /apps/<app>/<variant>/baseline.

The writer and the reader both go through this module, so the layout in docs/hdf5-schema.md lives in
one place. Floats are float64, counts int64; numbers with a unit carry it in the attribute name
(`wall_s`, `energy_j_mean`) or, for datasets, in a `units` attribute.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from lassi_hpc.errors import StoreError
from lassi_hpc.records import (
    BaselineRecord,
    BuildResult,
    CommandResult,
    DeviceIdentity,
    EnergyMeasurement,
    EnergyMethod,
    FailureKind,
    OutputFile,
    PowerTrace,
    RepetitionEnergy,
    RunResult,
    StageStatus,
    Verdict,
)
from lassi_hpc.store.encoding import (
    get_bool_attr,
    get_enum_attr,
    get_float_attr,
    get_int_attr,
    get_text_attr,
    get_text_list_attr,
    group_at,
    read_bytes,
    read_column,
    read_json,
    read_text,
    set_text_attr,
    set_text_list_attr,
    where,
    write_bytes,
    write_column,
    write_json,
    write_text,
)
from lassi_hpc.store.schema import (
    ATTR_INDEX,
    ATTR_NAME,
    BUILD,
    DEVICES,
    EXTRA,
    FILES,
    MEASUREMENT,
    REPETITION_COLUMNS,
    REPETITIONS,
    RUNS,
    STDERR,
    STDOUT,
    TRACE_COLUMNS,
    VERDICTS,
    escape_name,
    trace_name,
)

# Verdict.self_check as a number: the app printed FAIL / PASS, or printed no check line at all.
SELF_CHECK_NONE = -1
SELF_CHECK_FAIL = 0
SELF_CHECK_PASS = 1

_FLOAT_COLUMNS = {"energy_j", "duration_s", "average_power_w", "idle_power_w"}
# Measurement attributes that are numbers (J, s, W, or the dimensionless cv).
MEASUREMENT_NUMBERS = (
    "energy_j_mean",
    "energy_j_sd",
    "energy_j_ci95",
    "energy_cv",
    "duration_s_mean",
    "average_power_w_mean",
)


# --------------------------------------------------------------------------------------------------
# Checks made before anything is written, so that a bad record never leaves half a group behind


def _duplicates(names: Iterable[str]) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)


def validate_baseline(record: BaselineRecord) -> None:
    """Raise StoreError if `record` cannot be stored under unambiguous names."""
    label = f"baseline {record.app!r}/{record.variant!r}"
    escape_name(record.app, "app")
    escape_name(record.variant, "variant")
    for kind, names in (
        ("runs", [run.input_name for run in record.runs]),
        ("verdicts", [verdict.input_name for verdict in record.verdicts]),
    ):
        for name in names:
            escape_name(name, f"{label}: {kind}: input")
        if duplicated := _duplicates(names):
            raise StoreError(f"{label}: two {kind} for the same input: {', '.join(duplicated)}")
    for run in record.runs:
        names = [output.name for output in run.output_files]
        for name in names:
            escape_name(name, f"{label}: run {run.input_name!r}: output file")
        if duplicated := _duplicates(names):
            raise StoreError(
                f"{label}: run {run.input_name!r} has two output files named "
                f"{', '.join(duplicated)}"
            )
    if record.measurement is not None:
        for i, repetition in enumerate(record.measurement.repetitions):
            trace = repetition.trace
            if trace is not None and len(trace.time_s) != len(trace.power_w):
                raise StoreError(
                    f"{label}: repetition {i}: trace has {len(trace.time_s)} times but "
                    f"{len(trace.power_w)} power samples"
                )


# Upper bounds of what HDF5 (earliest file format) spends per object beyond its data: an object
# header with a few attributes, and for a group its link B-tree node and name heap; per text, a
# global-heap entry.
_GROUP_OVERHEAD_BYTES = 4096
_DATASET_OVERHEAD_BYTES = 2048
_TEXT_OVERHEAD_BYTES = 64


def estimated_size_bytes(record: BaselineRecord) -> int:
    """An upper bound of the bytes write_baseline_group adds to a file for `record`.

    The writer reserves this much disk space before writing, so that a full disk is found before
    HDF5 has written anything (compression only makes the real size smaller).
    """
    groups, datasets, data = 5, 1, 0  # baseline, build, runs, verdicts, measurement; extra
    texts = [record.reason, record.partition, *(value for pair in record.extra for value in pair)]
    for command in (record.build.command, *(run.command for run in record.runs)):
        datasets += 2
        texts += [command.stdout, command.stderr, command.cwd, command.failure_detail]
        texts += command.argv
    for run in record.runs:
        groups += 2
        datasets += len(run.output_files)
        data += sum(len(output.content) for output in run.output_files)
    groups += len(record.verdicts)
    texts += [verdict.reason for verdict in record.verdicts]
    if record.measurement is not None:
        repetitions = record.measurement.repetitions
        groups += 1
        datasets += 6
        data += 8 * len(REPETITION_COLUMNS) * len(repetitions)
        data += 512 * len(record.measurement.devices)
        for repetition in repetitions:
            if repetition.trace is not None:
                groups += 1
                datasets += 2
                data += 8 * (len(repetition.trace.time_s) + len(repetition.trace.power_w))
    data += sum(len(text.encode("utf-8", "surrogatepass")) + _TEXT_OVERHEAD_BYTES for text in texts)
    return data + groups * _GROUP_OVERHEAD_BYTES + datasets * _DATASET_OVERHEAD_BYTES


# --------------------------------------------------------------------------------------------------
# Writing


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
    _write_build(group.create_group(BUILD), record.build)
    runs = group.create_group(RUNS)
    for index, run in enumerate(record.runs):
        _write_run(runs.create_group(escape_name(run.input_name, "input")), run, index)
    verdicts = group.create_group(VERDICTS)
    for index, verdict in enumerate(record.verdicts):
        _write_verdict(
            verdicts.create_group(escape_name(verdict.input_name, "input")), verdict, index
        )
    if record.measurement is not None:
        _write_measurement(group.create_group(MEASUREMENT), record.measurement)


def _write_command(group: Any, command: CommandResult) -> None:
    set_text_list_attr(group, "argv", command.argv)
    set_text_attr(group, "cwd", command.cwd)
    if command.returncode is not None:  # absent: the process never exited by itself
        group.attrs["returncode"] = np.int64(command.returncode)
    for name in ("wall_s", "cpu_s", "started_at_s", "ended_at_s"):
        group.attrs[name] = np.float64(getattr(command, name))
    set_text_attr(group, "failure", command.failure.value if command.failure is not None else "")
    set_text_attr(group, "failure_detail", command.failure_detail)
    set_text_attr(group, "isolation", command.isolation)
    write_text(group, STDOUT, command.stdout)
    write_text(group, STDERR, command.stderr)


def _write_build(group: Any, build: BuildResult) -> None:
    for name in ("app", "variant", "toolchain", "build_dir", "binary", "sources_sha256"):
        set_text_attr(group, name, getattr(build, name))
    group.attrs["ok"] = np.bool_(build.ok)
    _write_command(group, build.command)


def _write_run(group: Any, run: RunResult, index: int) -> None:
    group.attrs[ATTR_INDEX] = np.int64(index)
    for name in ("app", "variant", "input_name"):
        set_text_attr(group, name, getattr(run, name))
    _write_command(group, run.command)
    files = group.create_group(FILES)
    for file_index, output in enumerate(run.output_files):
        dataset = write_bytes(files, escape_name(output.name, "output file"), output.content)
        dataset.attrs[ATTR_INDEX] = np.int64(file_index)
        set_text_attr(dataset, ATTR_NAME, output.name)


def _write_verdict(group: Any, verdict: Verdict, index: int) -> None:
    group.attrs[ATTR_INDEX] = np.int64(index)
    set_text_attr(group, "input_name", verdict.input_name)
    group.attrs["ok"] = np.bool_(verdict.ok)
    set_text_attr(group, "reason", verdict.reason)
    if verdict.self_check is None:
        self_check = SELF_CHECK_NONE
    else:
        self_check = SELF_CHECK_PASS if verdict.self_check else SELF_CHECK_FAIL
    group.attrs["self_check"] = np.int8(self_check)
    group.attrs["compared_values"] = np.int64(verdict.compared_values)


def _write_measurement(group: Any, measurement: EnergyMeasurement) -> None:
    set_text_attr(group, "method", measurement.method.value)
    set_text_attr(group, "backend", measurement.backend)
    for name in MEASUREMENT_NUMBERS:
        group.attrs[name] = np.float64(getattr(measurement, name))
    set_text_list_attr(group, "flags", measurement.flags)
    # Derived from `method`; stored so that a plain-h5py reader cannot miss a modelled figure.
    group.attrs["is_estimate"] = np.bool_(measurement.is_estimate)
    write_json(group, DEVICES, [dataclasses.asdict(device) for device in measurement.devices])
    repetitions = group.create_group(REPETITIONS)
    for name, units in REPETITION_COLUMNS:
        values = [getattr(repetition, name) for repetition in measurement.repetitions]
        dtype = np.float64 if name in _FLOAT_COLUMNS else np.int64
        write_column(repetitions, name, values, dtype, units)
    for i, repetition in enumerate(measurement.repetitions):
        if repetition.trace is None:
            continue
        trace = repetitions.create_group(trace_name(i))
        for name, units in TRACE_COLUMNS:
            write_column(trace, name, getattr(repetition.trace, name), np.float64, units)


# --------------------------------------------------------------------------------------------------
# Reading


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
        runs=tuple(_read_run(run) for run in _in_index_order(group_at(group, RUNS).values())),
        verdicts=tuple(
            _read_verdict(verdict)
            for verdict in _in_index_order(group_at(group, VERDICTS).values())
        ),
        measurement=None if measurement_group is None else read_measurement(measurement_group),
        extra=_read_extra(group),
    )


def _in_index_order(items: Iterable[Any]) -> list[Any]:
    return sorted(items, key=lambda item: get_int_attr(item, ATTR_INDEX))


def _read_extra(group: Any) -> tuple[tuple[str, str], ...]:
    pairs = read_json(group, EXTRA)
    if not isinstance(pairs, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) for v in pair)
        for pair in pairs
    ):
        raise StoreError(f"{where(group, child=EXTRA)} should be a JSON list of [key, value] pairs")
    return tuple((key, value) for key, value in pairs)


def read_command(group: Any) -> CommandResult:
    """The CommandResult whose fields are attributes and datasets of `group`."""
    failure = get_text_attr(group, "failure")
    return CommandResult(
        argv=get_text_list_attr(group, "argv"),
        cwd=get_text_attr(group, "cwd"),
        returncode=get_int_attr(group, "returncode") if "returncode" in group.attrs else None,
        stdout=read_text(group, STDOUT),
        stderr=read_text(group, STDERR),
        wall_s=get_float_attr(group, "wall_s"),
        cpu_s=get_float_attr(group, "cpu_s"),
        started_at_s=get_float_attr(group, "started_at_s"),
        ended_at_s=get_float_attr(group, "ended_at_s"),
        failure=get_enum_attr(group, "failure", FailureKind) if failure else None,
        failure_detail=get_text_attr(group, "failure_detail"),
        isolation=get_text_attr(group, "isolation"),
    )


def read_build(group: Any) -> BuildResult:
    """The BuildResult stored in a baseline's `build` group."""
    return BuildResult(
        app=get_text_attr(group, "app"),
        variant=get_text_attr(group, "variant"),
        toolchain=get_text_attr(group, "toolchain"),
        ok=get_bool_attr(group, "ok"),
        command=read_command(group),
        build_dir=get_text_attr(group, "build_dir"),
        binary=get_text_attr(group, "binary"),
        sources_sha256=get_text_attr(group, "sources_sha256"),
    )


def _read_run(group: Any) -> RunResult:
    files = group_at(group, FILES)
    return RunResult(
        app=get_text_attr(group, "app"),
        variant=get_text_attr(group, "variant"),
        input_name=get_text_attr(group, "input_name"),
        command=read_command(group),
        output_files=tuple(
            OutputFile(name=get_text_attr(dataset, ATTR_NAME), content=read_bytes(files, key))
            for key, dataset in sorted(
                files.items(), key=lambda item: get_int_attr(item[1], ATTR_INDEX)
            )
        ),
    )


def _read_verdict(group: Any) -> Verdict:
    self_check = get_int_attr(group, "self_check")
    if self_check not in (SELF_CHECK_NONE, SELF_CHECK_FAIL, SELF_CHECK_PASS):
        raise StoreError(f"{where(group, 'self_check')} is {self_check}; must be -1, 0 or 1")
    return Verdict(
        ok=get_bool_attr(group, "ok"),
        input_name=get_text_attr(group, "input_name"),
        reason=get_text_attr(group, "reason"),
        self_check=None if self_check == SELF_CHECK_NONE else self_check == SELF_CHECK_PASS,
        compared_values=get_int_attr(group, "compared_values"),
    )


def read_measurement(group: Any) -> EnergyMeasurement:
    """The EnergyMeasurement stored in a baseline's `measurement` group."""
    repetitions_group = group_at(group, REPETITIONS)
    columns = {name: read_column(repetitions_group, name) for name, _ in REPETITION_COLUMNS}
    counts = {len(column) for column in columns.values()}
    if len(counts) != 1:
        raise StoreError(f"{where(repetitions_group)}: repetition columns differ in length")
    repetitions = []
    for i in range(counts.pop()):
        trace_group = repetitions_group.get(trace_name(i))
        trace = None
        if trace_group is not None:
            time_s, power_w = (read_column(trace_group, name) for name, _ in TRACE_COLUMNS)
            trace = PowerTrace(
                time_s=tuple(float(v) for v in time_s), power_w=tuple(float(v) for v in power_w)
            )
        repetitions.append(
            RepetitionEnergy(
                energy_j=float(columns["energy_j"][i]),
                duration_s=float(columns["duration_s"][i]),
                average_power_w=float(columns["average_power_w"][i]),
                idle_power_w=float(columns["idle_power_w"][i]),
                runs_in_window=int(columns["runs_in_window"][i]),
                trace=trace,
            )
        )
    return EnergyMeasurement(
        method=get_enum_attr(group, "method", EnergyMethod),
        backend=get_text_attr(group, "backend"),
        devices=_read_devices(group),
        repetitions=tuple(repetitions),
        energy_j_mean=get_float_attr(group, "energy_j_mean"),
        energy_j_sd=get_float_attr(group, "energy_j_sd"),
        energy_j_ci95=get_float_attr(group, "energy_j_ci95"),
        energy_cv=get_float_attr(group, "energy_cv"),
        duration_s_mean=get_float_attr(group, "duration_s_mean"),
        average_power_w_mean=get_float_attr(group, "average_power_w_mean"),
        flags=get_text_list_attr(group, "flags"),
    )


def _read_devices(group: Any) -> tuple[DeviceIdentity, ...]:
    entries = read_json(group, DEVICES)
    try:
        return tuple(DeviceIdentity(**entry) for entry in entries)
    except TypeError as exc:
        raise StoreError(
            f"{where(group, child=DEVICES)} does not hold DeviceIdentity objects: {exc}; "
            f"found {json.dumps(entries)[:200]}"
        ) from None


def is_estimate(measurement_group: Any) -> bool:
    """Whether a stored measurement is a model, not a measurement (from `method`)."""
    return get_enum_attr(measurement_group, "method", EnergyMethod) is EnergyMethod.ESTIMATE
