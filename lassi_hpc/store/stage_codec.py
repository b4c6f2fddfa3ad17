"""The records that baselines and candidates share <-> HDF5 groups: commands, builds, runs, verdicts
and energy measurements.

baseline_codec and trial_codec both store these through this module, so that a build, a run or a
measurement has one layout wherever it appears (docs/hdf5-schema.md). Floats are float64, counts
int64; numbers with a unit carry it in the attribute name (`wall_s`, `energy_j_mean`) or, for
datasets, in a `units` attribute.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from lassi_hpc.errors import StoreError
from lassi_hpc.records import (
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
    Verdict,
)
from lassi_hpc.store.encoding import (
    dataset_at,
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
from lassi_hpc.store.h5_direct import new_group, set_attr
from lassi_hpc.store.schema import (
    ATTR_INDEX,
    ATTR_NAME,
    CONTEXT_DEVICES,
    DEVICES,
    FILES,
    REPETITION_COLUMNS,
    REPETITION_OPTIONAL_COLUMNS,
    REPETITIONS,
    STDERR,
    STDOUT,
    TRACE_COLUMNS,
    TRACE_DEVICE_POWER,
    TRACE_DEVICE_UIDS,
    escape_name,
    index_name,
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


def duplicates(names: Iterable[str]) -> list[str]:
    """The names that occur more than once, sorted."""
    return sorted(name for name, count in Counter(names).items() if count > 1)


def check_enum(label: str, what: str, value: object, kind: type[enum.Enum]) -> None:
    """Raise StoreError (starting with `label`) unless `value` is a member of `kind`: the writer
    stores members' values, and a plain string would pass for one only by luck."""
    if not isinstance(value, kind):
        allowed = ", ".join(str(member.value) for member in kind)
        raise StoreError(
            f"{label}: {what} {value!r} is not a {kind.__name__}; must be one of: {allowed}"
        )


def validate_input_names(
    label: str, runs: Sequence[RunResult], verdicts: Sequence[Verdict]
) -> None:
    """Raise StoreError (starting with `label`) unless runs and verdicts have non-empty input names,
    unique among the runs and among the verdicts (a baseline's link names)."""
    for kind, names in (
        ("runs", [run.input_name for run in runs]),
        ("verdicts", [verdict.input_name for verdict in verdicts]),
    ):
        for name in names:
            escape_name(name, f"{label}: {kind}: input")
        if duplicated := duplicates(names):
            raise StoreError(f"{label}: two {kind} for the same input: {', '.join(duplicated)}")


def validate_output_files(label: str, runs: Sequence[RunResult]) -> None:
    """Raise StoreError (starting with `label`) unless each run's output files have non-empty names,
    unique within the run."""
    for run in runs:
        names = [output.name for output in run.output_files]
        for name in names:
            escape_name(name, f"{label}: run {run.input_name!r}: output file")
        if duplicated := duplicates(names):
            raise StoreError(
                f"{label}: run {run.input_name!r} has two output files named "
                f"{', '.join(duplicated)}"
            )


def validate_measurement(label: str, measurement: EnergyMeasurement) -> None:
    """Raise StoreError (starting with `label`) for a measurement that cannot be stored as it is."""
    check_enum(label, "energy method", measurement.method, EnergyMethod)
    for i, repetition in enumerate(measurement.repetitions):
        trace = repetition.trace
        if trace is not None and len(trace.time_s) != len(trace.power_w):
            raise StoreError(
                f"{label}: repetition {i}: trace has {len(trace.time_s)} times but "
                f"{len(trace.power_w)} power samples"
            )
        if trace is not None and (
            len(trace.device_power_w) != len(trace.device_uids)
            or any(len(row) != len(trace.time_s) for row in trace.device_power_w)
        ):
            raise StoreError(
                f"{label}: repetition {i}: trace has {len(trace.device_uids)} device uids and "
                f"{len(trace.device_power_w)} device rows; each row needs one value per time"
            )


# --------------------------------------------------------------------------------------------------
# Upper bounds of the bytes a record adds to a file

# What HDF5 (earliest file format) spends per object beyond its data: an object header with a few
# attributes, and for a group its link B-tree node and name heap; per text, a global-heap entry.
GROUP_OVERHEAD_BYTES = 4096
DATASET_OVERHEAD_BYTES = 2048
TEXT_OVERHEAD_BYTES = 64


def text_size_bytes(texts: Iterable[str]) -> int:
    """Upper bound of the bytes that storing `texts` (as attributes or datasets) takes as data."""
    return sum(len(text.encode("utf-8", "surrogatepass")) + TEXT_OVERHEAD_BYTES for text in texts)


def command_size_bytes(command: CommandResult) -> int:
    """Upper bound of the bytes the command fields (stdout, stderr, attributes) add to a group."""
    texts = [command.stdout, command.stderr, command.cwd, command.failure_detail, *command.argv]
    return 2 * DATASET_OVERHEAD_BYTES + text_size_bytes(texts)


def build_size_bytes(build: BuildResult) -> int:
    """Upper bound of the bytes of a `build` group, the group included."""
    texts = [build.app, build.variant, build.toolchain, build.build_dir, build.binary]
    return GROUP_OVERHEAD_BYTES + command_size_bytes(build.command) + text_size_bytes(texts)


def runs_size_bytes(runs: Sequence[RunResult]) -> int:
    """Upper bound of the bytes of a `runs` group holding `runs`, the group included."""
    size = GROUP_OVERHEAD_BYTES
    for run in runs:
        size += 2 * GROUP_OVERHEAD_BYTES + command_size_bytes(run.command)
        size += text_size_bytes([run.app, run.variant, run.input_name])
        for output in run.output_files:
            size += DATASET_OVERHEAD_BYTES + len(output.content) + text_size_bytes([output.name])
    return size


def verdicts_size_bytes(verdicts: Sequence[Verdict]) -> int:
    """Upper bound of the bytes of a `verdicts` group holding `verdicts`, the group included."""
    return (GROUP_OVERHEAD_BYTES * (1 + len(verdicts))) + text_size_bytes(
        text for verdict in verdicts for text in (verdict.input_name, verdict.reason)
    )


def measurement_size_bytes(measurement: EnergyMeasurement) -> int:
    """Upper bound of the bytes of a `measurement` group, the group included."""
    repetitions = measurement.repetitions
    size = 2 * GROUP_OVERHEAD_BYTES + (1 + len(REPETITION_COLUMNS)) * DATASET_OVERHEAD_BYTES
    size += 8 * len(REPETITION_COLUMNS) * len(repetitions)
    size += 512 * len(measurement.devices) + text_size_bytes(measurement.flags)
    for repetition in repetitions:
        if repetition.trace is not None:
            trace = repetition.trace
            size += GROUP_OVERHEAD_BYTES + 4 * DATASET_OVERHEAD_BYTES
            size += 8 * (len(trace.time_s) + len(trace.power_w))
            size += 8 * len(trace.time_s) * len(trace.device_uids)
            size += text_size_bytes(trace.device_uids)
    size += 512 * len(measurement.context_devices) + text_size_bytes(measurement.problems)
    size += 8 * len(REPETITION_OPTIONAL_COLUMNS) * len(repetitions)
    return size


# --------------------------------------------------------------------------------------------------
# Writing


def write_command(group: Any, command: CommandResult) -> None:
    """Store a CommandResult as attributes and the stdout / stderr datasets of `group`."""
    set_text_list_attr(group, "argv", command.argv)
    set_text_attr(group, "cwd", command.cwd)
    if command.returncode is not None:  # absent: the process never exited by itself
        set_attr(group, "returncode", np.int64(command.returncode))
    for name in ("wall_s", "cpu_s", "started_at_s", "ended_at_s"):
        set_attr(group, name, np.float64(getattr(command, name)))
    set_text_attr(group, "failure", command.failure.value if command.failure is not None else "")
    set_text_attr(group, "failure_detail", command.failure_detail)
    set_text_attr(group, "isolation", command.isolation)
    write_text(group, STDOUT, command.stdout)
    write_text(group, STDERR, command.stderr)


def write_build(group: Any, build: BuildResult) -> None:
    """Fill an empty `build` group."""
    for name in ("app", "variant", "toolchain", "build_dir", "binary", "sources_sha256"):
        set_text_attr(group, name, getattr(build, name))
    set_attr(group, "ok", np.bool_(build.ok))
    write_command(group, build.command)


def write_runs(group: Any, runs: Sequence[RunResult], *, by_index: bool = False) -> None:
    """Fill an empty `runs` group: one subgroup per run, named after its input, or by its position
    ("0000", ...) when `by_index` (where one input may be run more than once)."""
    for index, run in enumerate(runs):
        name = index_name(index) if by_index else escape_name(run.input_name, "input")
        _write_run(new_group(group, name), run, index)


def _write_run(group: Any, run: RunResult, index: int) -> None:
    set_attr(group, ATTR_INDEX, np.int64(index))
    for name in ("app", "variant", "input_name"):
        set_text_attr(group, name, getattr(run, name))
    write_command(group, run.command)
    files = new_group(group, FILES)
    for file_index, output in enumerate(run.output_files):
        dataset = write_bytes(files, escape_name(output.name, "output file"), output.content)
        set_attr(dataset, ATTR_INDEX, np.int64(file_index))
        set_text_attr(dataset, ATTR_NAME, output.name)


def write_verdicts(group: Any, verdicts: Sequence[Verdict], *, by_index: bool = False) -> None:
    """Fill an empty `verdicts` group: one attribute-only subgroup per verdict, named after its
    input, or by its position ("0000", ...) when `by_index` (where one input may be judged twice,
    as by a candidate's self-consistency check)."""
    for index, verdict in enumerate(verdicts):
        name = index_name(index) if by_index else escape_name(verdict.input_name, "input")
        _write_verdict(new_group(group, name), verdict, index)


def _write_verdict(group: Any, verdict: Verdict, index: int) -> None:
    set_attr(group, ATTR_INDEX, np.int64(index))
    set_text_attr(group, "input_name", verdict.input_name)
    set_attr(group, "ok", np.bool_(verdict.ok))
    set_text_attr(group, "reason", verdict.reason)
    if verdict.self_check is None:
        self_check = SELF_CHECK_NONE
    else:
        self_check = SELF_CHECK_PASS if verdict.self_check else SELF_CHECK_FAIL
    set_attr(group, "self_check", np.int8(self_check))
    set_attr(group, "compared_values", np.int64(verdict.compared_values))


def write_measurement(group: Any, measurement: EnergyMeasurement) -> None:
    """Fill an empty `measurement` group (statistics, devices, repetitions, traces)."""
    set_text_attr(group, "method", measurement.method.value)
    set_text_attr(group, "backend", measurement.backend)
    for name in MEASUREMENT_NUMBERS:
        set_attr(group, name, np.float64(getattr(measurement, name)))
    set_text_list_attr(group, "flags", measurement.flags)
    # Derived from `method`; stored so that a plain-h5py reader cannot miss a modelled figure.
    set_attr(group, "is_estimate", np.bool_(measurement.is_estimate))
    set_attr(group, "sample_period_s", np.float64(measurement.sample_period_s))
    set_text_list_attr(group, "problems", measurement.problems)
    write_json(group, DEVICES, [dataclasses.asdict(device) for device in measurement.devices])
    write_json(
        group,
        CONTEXT_DEVICES,
        [dataclasses.asdict(device) for device in measurement.context_devices],
    )
    repetitions = new_group(group, REPETITIONS)
    for name, units in REPETITION_COLUMNS:
        values = [getattr(repetition, name) for repetition in measurement.repetitions]
        dtype = np.float64 if name in _FLOAT_COLUMNS else np.int64
        write_column(repetitions, name, values, dtype, units)
    for name, units in REPETITION_OPTIONAL_COLUMNS:
        values = [getattr(repetition, name) for repetition in measurement.repetitions]
        write_column(repetitions, name, values, np.float64, units)
    for i, repetition in enumerate(measurement.repetitions):
        if repetition.trace is not None:
            _write_trace(new_group(repetitions, trace_name(i)), repetition.trace)


def _write_trace(group: Any, trace: PowerTrace) -> None:
    for name, units in TRACE_COLUMNS:
        write_column(group, name, getattr(trace, name), np.float64, units)
    if trace.device_uids:
        set_text_list_attr(group, TRACE_DEVICE_UIDS, trace.device_uids)
        rows = np.asarray(trace.device_power_w, dtype=np.float64).reshape(
            len(trace.device_uids), len(trace.time_s)
        )
        write_column(group, TRACE_DEVICE_POWER, rows, np.float64, dict(TRACE_COLUMNS)["power_w"])


# --------------------------------------------------------------------------------------------------
# Reading


def in_index_order(items: Iterable[Any]) -> list[Any]:
    """HDF5 objects sorted by their `index` attribute (HDF5 lists links alphabetically)."""
    return sorted(items, key=lambda item: get_int_attr(item, ATTR_INDEX))


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
    """The BuildResult stored in a `build` group."""
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


def read_runs(group: Any) -> tuple[RunResult, ...]:
    """The runs stored in a `runs` group, in the record's order."""
    return tuple(_read_run(run) for run in in_index_order(group.values()))


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


def read_verdicts(group: Any) -> tuple[Verdict, ...]:
    """The verdicts stored in a `verdicts` group, in the record's order."""
    return tuple(_read_verdict(verdict) for verdict in in_index_order(group.values()))


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


def same_nan(value: Any) -> float:
    """`value` as a float, NaN as the one `math.nan` object.

    Records default their unknown figures to `math.nan`, and tuples compare their items by
    identity before equality: reading NaN back as that same object keeps a record equal to
    itself after a round trip through the file.
    """
    number = float(value)
    return math.nan if math.isnan(number) else number


def _read_trace(group: Any) -> PowerTrace:
    time_s, power_w = (read_column(group, name) for name, _ in TRACE_COLUMNS)
    uids: tuple[str, ...] = ()
    rows: tuple[tuple[float, ...], ...] = ()
    if TRACE_DEVICE_POWER in group:
        uids = get_text_list_attr(group, TRACE_DEVICE_UIDS)
        data = np.asarray(dataset_at(group, TRACE_DEVICE_POWER)[()], dtype=np.float64)
        if data.shape != (len(uids), len(time_s)):
            raise StoreError(
                f"{where(group, child=TRACE_DEVICE_POWER)} has shape {data.shape}; expected "
                f"({len(uids)} devices, {len(time_s)} samples)"
            )
        rows = tuple(tuple(same_nan(v) for v in row) for row in data)
    return PowerTrace(
        time_s=tuple(float(v) for v in time_s),
        power_w=tuple(same_nan(v) for v in power_w),
        device_uids=uids,
        device_power_w=rows,
    )


def read_measurement(group: Any) -> EnergyMeasurement:
    """The EnergyMeasurement stored in a `measurement` group."""
    repetitions_group = group_at(group, REPETITIONS)
    columns = {name: read_column(repetitions_group, name) for name, _ in REPETITION_COLUMNS}
    counts = {len(column) for column in columns.values()}
    if len(counts) != 1:
        raise StoreError(f"{where(repetitions_group)}: repetition columns differ in length")
    count = counts.pop()
    optional = {
        name: (
            read_column(repetitions_group, name)
            if name in repetitions_group
            else np.full(count, np.nan)
        )
        for name, _ in REPETITION_OPTIONAL_COLUMNS
    }
    if any(len(column) != count for column in optional.values()):
        raise StoreError(f"{where(repetitions_group)}: repetition columns differ in length")
    repetitions = []
    for i in range(count):
        trace_group = repetitions_group.get(trace_name(i))
        repetitions.append(
            RepetitionEnergy(
                energy_j=float(columns["energy_j"][i]),
                duration_s=float(columns["duration_s"][i]),
                average_power_w=float(columns["average_power_w"][i]),
                idle_power_w=float(columns["idle_power_w"][i]),
                runs_in_window=int(columns["runs_in_window"][i]),
                trace=None if trace_group is None else _read_trace(trace_group),
                **{name: same_nan(column[i]) for name, column in optional.items()},
            )
        )
    return EnergyMeasurement(
        method=get_enum_attr(group, "method", EnergyMethod),
        backend=get_text_attr(group, "backend"),
        devices=_read_devices(group, DEVICES),
        repetitions=tuple(repetitions),
        energy_j_mean=get_float_attr(group, "energy_j_mean"),
        energy_j_sd=get_float_attr(group, "energy_j_sd"),
        energy_j_ci95=get_float_attr(group, "energy_j_ci95"),
        energy_cv=get_float_attr(group, "energy_cv"),
        duration_s_mean=get_float_attr(group, "duration_s_mean"),
        average_power_w_mean=get_float_attr(group, "average_power_w_mean"),
        flags=get_text_list_attr(group, "flags"),
        context_devices=(_read_devices(group, CONTEXT_DEVICES) if CONTEXT_DEVICES in group else ()),
        sample_period_s=(
            same_nan(get_float_attr(group, "sample_period_s"))
            if "sample_period_s" in group.attrs
            else math.nan
        ),
        problems=get_text_list_attr(group, "problems") if "problems" in group.attrs else (),
    )


def _read_devices(group: Any, name: str) -> tuple[DeviceIdentity, ...]:
    entries = read_json(group, name)
    try:
        return tuple(device_from_json(entry) for entry in entries)
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"{where(group, child=name)} does not hold DeviceIdentity objects: {exc}; "
            f"found {json.dumps(entries)[:200]}"
        ) from None


def device_from_json(entry: dict[str, Any]) -> DeviceIdentity:
    """A DeviceIdentity from its JSON object (details: [key, value] lists; absent in old files)."""
    fields = dict(entry)
    details = tuple((str(key), str(value)) for key, value in fields.pop("details", ()))
    return DeviceIdentity(**fields, details=details)


def is_estimate(measurement_group: Any) -> bool:
    """Whether a stored measurement is a model, not a measurement (from `method`)."""
    return get_enum_attr(measurement_group, "method", EnergyMethod) is EnergyMethod.ESTIMATE
