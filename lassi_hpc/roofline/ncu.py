"""Nsight Compute: the command that collects seed paper B's roofline metrics, and its CSV parser.

Both of ncu's CSV pages are read: `--page raw` (one row per kernel launch, one column per metric,
a units row under the header) and `--page details` (one row per launch and metric, with "Metric
Name", "Metric Unit" and "Metric Value" columns).
"""

from __future__ import annotations

from collections.abc import Sequence

from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.records import KernelProfile
from lassi_hpc.roofline.tool_csv import csv_rows_from, scaled_number

_THREAD_INST = "smsp__sass_thread_inst_executed_op_{}_pred_on.sum"
SP_METRICS = {
    _THREAD_INST.format(op): weight for op, weight in (("fadd", 1), ("fmul", 1), ("ffma", 2))
}
DP_METRICS = {
    _THREAD_INST.format(op): weight for op, weight in (("dadd", 1), ("dmul", 1), ("dfma", 2))
}
INT_METRIC = _THREAD_INST.format("integer")
DRAM_METRIC = "dram__bytes.sum"
DURATION_METRIC = "gpu__time_duration.sum"
DEVICE_NAME_METRIC = "device__attribute_display_name"
# What a label needs; the device's name is collected too, but a launch without it is still read.
LABEL_METRICS: tuple[str, ...] = (
    *SP_METRICS,
    *DP_METRICS,
    INT_METRIC,
    DRAM_METRIC,
    DURATION_METRIC,
)
ROOFLINE_METRICS: tuple[str, ...] = (*LABEL_METRICS, DEVICE_NAME_METRIC)


def ncu_command(
    binary: str, args: Sequence[str], launches_per_kernel: int = 2, ncu: str = "ncu"
) -> tuple[str, ...]:
    """The ncu command line profiling `binary args`: the roofline set plus the instruction,
    traffic and duration metrics the label needs, the first `launches_per_kernel` launches of
    each kernel (per launch configuration), printed as raw CSV in base units."""
    if launches_per_kernel < 1:
        raise RooflineError(f"launches_per_kernel must be at least 1, got {launches_per_kernel}")
    return (
        ncu,
        "--csv",
        "--page", "raw",
        "--print-units", "base",
        "--set", "roofline",
        "--metrics", ",".join(ROOFLINE_METRICS),
        "--launch-count", str(launches_per_kernel),
        "--filter-mode", "per-launch-config",
        "--target-processes", "all",
        binary,
        *args,
    )  # fmt: skip


def kernel_base_name(printed: str) -> str:
    """The function name in a kernel name as a profiler prints it: "void ns::k<float>(float*,
    int)", "k(float*) [clone .kd]" and "k.kd" (rocprof, code-object symbol) give "k"."""
    name = printed.strip().removesuffix(".kd")
    depth = 0
    for index, char in enumerate(name):
        if char in "<(":
            if char == "(" and depth == 0:
                name = name[:index]
                break
            depth += 1
        elif char in ">)":
            depth -= 1
    name = name.split("<", 1)[0].strip()
    name = name.rsplit(" ", 1)[-1]
    return name.rsplit("::", 1)[-1]


def parse_ncu_csv(text: str, source: str = "ncu output") -> list[KernelProfile]:
    """Every profiled launch in ncu's CSV output (raw or details page), in launch order.

    `invocation` counts each kernel's launches from 1; `device` is the display name when
    `device__attribute_display_name` was collected, else "device <index>". Raises RooflineError
    naming `source` when a needed metric is missing or a value is not a number.
    """
    rows = csv_rows_from(text, "ID")
    header = rows[0]
    if "Metric Name" in header:
        launches = _details_launches(header, rows[1:], source)
    else:
        launches = _raw_launches(header, rows[1:], source)
    return _profiles(launches, source)


_Launch = tuple[
    dict[str, str], dict[str, tuple[str, str]]
]  # identity columns, metric -> (value, unit)


_IDENTITY = ("ID", "Kernel Name", "Device", "Block Size", "Grid Size")


def _raw_launches(header: list[str], body: list[list[str]], source: str) -> list[_Launch]:
    if not body:
        return []
    has_units = bool(body[0]) and body[0][0] == ""
    units = body[0] if has_units else [""] * len(header)
    launches: list[_Launch] = []
    for line_number, row in enumerate(body[1:] if has_units else body, start=2 + has_units):
        if not row:
            continue
        columns = _columns(header, row, line_number, source)
        unit_of = dict(zip(header, units, strict=False))
        ids = {key: columns.get(key, "") for key in _IDENTITY}
        metrics = {name: (columns[name], unit_of.get(name, "")) for name in header if "__" in name}
        launches.append((ids, metrics))
    return launches


def _details_launches(header: list[str], body: list[list[str]], source: str) -> list[_Launch]:
    launches: dict[str, _Launch] = {}
    for line_number, row in enumerate(body, start=2):
        if not row:
            continue
        columns = _columns(header, row, line_number, source)
        ids = {key: columns.get(key, "") for key in _IDENTITY}
        _, metrics = launches.setdefault(columns["ID"], (ids, {}))
        metrics[columns["Metric Name"]] = (columns["Metric Value"], columns.get("Metric Unit", ""))
    return list(launches.values())


def _columns(header: list[str], row: list[str], line_number: int, source: str) -> dict[str, str]:
    if len(row) != len(header):
        raise RooflineError(
            f"{source}: CSV line {line_number} of the table has {len(row)} fields, its header "
            f"{len(header)}"
        )
    return dict(zip(header, row, strict=True))


def _collected_as(metrics: dict[str, tuple[str, str]], name: str) -> str | None:
    """The name under which `name` was collected, or None.

    An smsp__X.sum count is also accepted as sm__X.sum: summed over the GPU, per SM and per SM
    sub-partition are the same count, and published roofline recipes collect the sm__ form
    (seen in captured V100 output; tests/data/roofline/README.md)."""
    aliases = [name, "sm__" + name.removeprefix("smsp__")] if name.startswith("smsp__") else [name]
    return next((key for key in aliases if key in metrics), None)


def _metric(metrics: dict[str, tuple[str, str]], name: str, where: str) -> float:
    key = _collected_as(metrics, name)
    if key is None:
        raise RooflineError(f"{where}: metric {name} was not collected")
    text, unit = metrics[key]
    return scaled_number(text, unit, f"{where}: {key}")


def _check_collected(metrics: dict[str, tuple[str, str]], where: str) -> None:
    # Name every missing metric at once: files from other runs usually lack several
    # (captured ones lack both the duration and the integer count).
    missing = [name for name in LABEL_METRICS if _collected_as(metrics, name) is None]
    if missing:
        also = f"; also missing: {', '.join(missing[1:])}" if missing[1:] else ""
        raise RooflineError(f"{where}: metric {missing[0]} was not collected{also}")


def _profiles(launches: list[_Launch], source: str) -> list[KernelProfile]:
    profiles: list[KernelProfile] = []
    seen: dict[str, int] = {}
    for ids, metrics in sorted(launches, key=lambda launch: _launch_id(launch[0]["ID"], source)):
        kernel = kernel_base_name(ids["Kernel Name"])
        where = f"{source}: launch ID {ids['ID']} ({kernel})"
        seen[kernel] = seen.get(kernel, 0) + 1
        _check_collected(metrics, where)
        device_name = metrics.get(DEVICE_NAME_METRIC, ("", ""))[0].strip()
        sp = sum(weight * _metric(metrics, name, where) for name, weight in SP_METRICS.items())
        dp = sum(weight * _metric(metrics, name, where) for name, weight in DP_METRICS.items())
        profiles.append(
            KernelProfile(
                kernel=kernel,
                invocation=seen[kernel],
                duration_s=_metric(metrics, DURATION_METRIC, where),
                sp_ops=round(sp),
                dp_ops=round(dp),
                int_ops=round(_metric(metrics, INT_METRIC, where)),
                dram_bytes=round(_metric(metrics, DRAM_METRIC, where)),
                device=device_name or _device_label(ids["Device"]),
                block_size=ids["Block Size"],
                grid_size=ids["Grid Size"],
            )
        )
    return profiles


def _device_label(index: str) -> str:
    # ncu before 2023 printed no "Device" column ("Kernel Time" in its place)
    return f"device {index}" if index.strip() else "unknown device"


def _launch_id(text: str, source: str) -> int:
    try:
        return int(text.replace(",", ""))
    except ValueError:
        raise RooflineError(f"{source}: launch ID {text!r} is not an integer") from None
