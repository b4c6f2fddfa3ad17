"""The ncu parser on output CAPTURED BY OTHERS on real GPUs and published in public repositories
(verbatim excerpts in tests/data/roofline/captured/; tests/data/roofline/README.md names
repository, path and commit of each). Expected values were read off the files by hand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.ncu import kernel_base_name, parse_ncu_csv
from lassi_hpc.roofline.profiler_access import counter_permission_refusal
from lassi_hpc.roofline.tool_csv import csv_rows_from, scaled_number

CAPTURED = Path(__file__).resolve().parents[1] / "data" / "roofline" / "captured"


def _text(name: str) -> str:
    return (CAPTURED / name).read_text(encoding="utf-8")


def assert_refused_for_the_integer_count_and_duration(text: str, source: str, kernel: str) -> None:
    """None of the captured runs asked for these two; the error names both, and launch 0."""
    with pytest.raises(
        RooflineError,
        match=rf"^{re.escape(source)}: launch ID 0 \({kernel}\): metric "
        r"smsp__sass_thread_inst_executed_op_integer_pred_on\.sum was not collected; also "
        r"missing: gpu__time_duration\.sum$",
    ):
        parse_ncu_csv(text, source)


def test_err_nvgpuctrperm_run_is_a_refusal_not_a_parse_error() -> None:
    text = _text("ncu_err_nvgpuctrperm.txt")
    refusal = counter_permission_refusal("ncu", text)
    assert "ERR_NVGPUCTRPERM" in refusal
    assert "NVreg_RestrictProfilingToAdminUsers=0" in refusal
    assert counter_permission_refusal("rocprof", text) == ""
    # ncu profiled nothing ("==WARNING== No kernels were profiled."): no table to parse
    with pytest.raises(RooflineError, match="no CSV table"):
        parse_ncu_csv(text)


def test_a100_details_page_after_a_failed_launch_names_every_missing_metric() -> None:
    text = _text("ncu_details_a100_share_tile.csv")
    rows = csv_rows_from(text, "ID")  # the table after seven ==PROF==/==ERROR==/==WARNING== lines
    assert len(rows) == 1 + 3 * 15  # header, 3 launches x 15 metrics
    assert {row[10] for row in rows[1:]} == {"8.0"}  # CC 8.0: an A100
    assert [kernel_base_name(rows[i][4]) for i in (1, 16, 31)] == [
        "randomInit", "randomInit", "gemm_v0"
    ]  # fmt: skip
    # --metrics had no integer count and no gpu__time_duration.sum (smsp__cycles_elapsed only)
    assert_refused_for_the_integer_count_and_duration(text, "share_tile.csv", "randomInit")


def test_v100_details_page_with_sm_prefixed_counts() -> None:
    text = _text("ncu_details_v100_sm_prefix.csv")
    rows = csv_rows_from(text, "ID")  # after ==PROF== and the program's own output
    assert len(rows) == 1 + 4 * 15
    assert kernel_base_name(rows[1][4]) == "InitializeMatrix_kernel"
    # The six sm__sass_thread_inst_executed_op_{f,d}{add,mul,fma}_pred_on.sum are found (accepted
    # for smsp__...); only the metrics the run never asked for are named.
    assert_refused_for_the_integer_count_and_duration(text, "output.csv", "InitializeMatrix_kernel")


def test_2020_details_page_unquoted_with_kernel_time_column() -> None:
    text = _text("ncu_details_v100_2020_unquoted.csv")
    rows = csv_rows_from(text, "ID")
    assert rows[0][5] == "Kernel Time" and "Device" not in rows[0]
    assert len(rows) == 1 + 2 * 25  # 15 requested metrics + 10 of the SpeedOfLight section
    # The section prints the duration by its label ("Duration", nsecond), not by its name
    assert_refused_for_the_integer_count_and_duration(
        text, "v100_cc_perf_output.csv", "ComputeCurrent"
    )


@pytest.mark.parametrize(
    ("text", "unit", "value"),
    [
        ("5,443,677,824.00", "byte", 5_443_677_824),  # A100 share_tile, launch 0 DRAM
        ("34,359,738,368,000.00", "inst", 34_359_738_368_000),  # gemm_v0 ffma
        ("837,859,712", "byte", 837_859_712),  # V100 launch 0 DRAM
        ("211232", "nsecond", 211_232e-9),  # 2020 V100 SpeedOfLight Duration
    ],
)
def test_captured_numbers_in_base_units(text: str, unit: str, value: float) -> None:
    assert scaled_number(text, unit, "captured") == pytest.approx(value)
