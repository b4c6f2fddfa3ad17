"""ncu and rocprof: command lines, parsers on the hand-written files in tests/data/roofline
(NOT captured output; see its README), and a profiled run through the sandbox with a FAKE ncu."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from lassi_hpc.records import SandboxLimits
from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.label import fastest_invocations, label_profile
from lassi_hpc.roofline.ncu import (
    DRAM_METRIC,
    INT_METRIC,
    ROOFLINE_METRICS,
    kernel_base_name,
    ncu_command,
    parse_ncu_csv,
)
from lassi_hpc.roofline.profile_run import profile_command, profile_kernels
from lassi_hpc.roofline.rocprof import (
    INPUT_FILE_NAME,
    parse_rocprof_csv,
    rocprof_command,
    rocprof_input_text,
)
from lassi_hpc.roofline.specs import balance_points, gpu_spec

DATA = Path(__file__).resolve().parents[1] / "data" / "roofline"


def test_ncu_command_collects_the_label_metrics_for_two_launches_per_kernel() -> None:
    argv = ncu_command("./app", ["-n", "1024"])
    assert argv[:3] == ("ncu", "--csv", "--page")
    metrics = argv[argv.index("--metrics") + 1].split(",")
    assert "smsp__sass_thread_inst_executed_op_ffma_pred_on.sum" in metrics
    assert "smsp__sass_thread_inst_executed_op_dfma_pred_on.sum" in metrics
    assert INT_METRIC in metrics and DRAM_METRIC in metrics
    assert argv[argv.index("--launch-count") + 1] == "2"
    assert argv[argv.index("--set") + 1] == "roofline"
    assert argv[-3:] == ("./app", "-n", "1024")


def test_ncu_raw_page_parses_every_launch() -> None:
    profiles = parse_ncu_csv((DATA / "ncu_raw.csv").read_text())
    assert [(p.kernel, p.invocation) for p in profiles] == [
        ("saxpy", 1), ("saxpy", 2), ("matmul", 1), ("matmul", 2), ("dscale", 1)
    ]  # fmt: skip
    saxpy = profiles[0]
    assert saxpy.sp_ops == 2 * 1_048_576  # an FFMA is two operations
    assert saxpy.dram_bytes == 12_582_912
    assert saxpy.duration_s == pytest.approx(10_240e-9)
    assert saxpy.device == "NVIDIA GeForce RTX 3080"
    assert profiles[4].dp_ops == 2 * 1_048_576


def test_ncu_raw_page_labels_against_the_seed_paper_points() -> None:
    profiles = fastest_invocations(parse_ncu_csv((DATA / "ncu_raw.csv").read_text()))
    balance = balance_points(gpu_spec("rtx3080-seed-paper"))
    labels = {p.kernel: label_profile(p, balance, "paper") for p in profiles}
    assert {name: label.label for name, label in labels.items()} == {
        "saxpy": "Bandwidth",  # SP AI 1/6, INT AI 2/3
        "matmul": "Compute",  # SP AI 268435456 / 3211264 = 83.6
        "dscale": "Compute",  # DP AI 1.05 > 0.52, though SP is 0
    }
    assert labels["matmul"].sp_ai_op_per_byte == pytest.approx(268_435_456 / 3_211_264)
    assert [p.invocation for p in profiles] == [2, 2, 1]


def test_ncu_details_page_with_scaled_units_and_zero_traffic() -> None:
    profiles = parse_ncu_csv((DATA / "ncu_details.csv").read_text())
    assert [p.kernel for p in profiles] == ["saxpy", "saxpy", "reduce_cached"]
    assert profiles[0].dram_bytes == 12_582_912  # 12.582912 Mbyte
    assert profiles[1].duration_s == pytest.approx(9.86e-6)  # 9.86 usecond
    label = label_profile(profiles[2], balance_points(gpu_spec("h100-sxm")), "datasheet")
    assert (label.label, bool(label.reason)) == ("Compute", True)


def test_ncu_output_without_a_metric_names_it() -> None:
    text = '"ID","Kernel Name","gpu__time_duration.sum"\n"","","nsecond"\n"0","k","10"\n'
    with pytest.raises(
        RooflineError, match=r"launch ID 0 \(k\): metric smsp__\S+ was not collected"
    ):
        parse_ncu_csv(text, "run.log")


def test_ncu_output_without_several_metrics_names_them_all() -> None:
    text = '"ID","Kernel Name","dram__bytes.sum"\n"","","byte"\n"0","k","10"\n'
    with pytest.raises(RooflineError, match=r"also missing: .*_integer_pred_on\.sum, gpu__time"):
        parse_ncu_csv(text, "run.log")


def test_ncu_output_without_a_table_is_an_error() -> None:
    with pytest.raises(RooflineError, match="no CSV table"):
        parse_ncu_csv("==PROF== ERR_NVGPUCTRPERM - no permission\n")


@pytest.mark.parametrize(
    ("printed", "name"),
    [
        ("saxpy", "saxpy"),
        ("void ns::gemm<float, 16>(float const*, float*, int)", "gemm"),
        ("saxpy(float, float const*, float*, int) [clone .kd]", "saxpy"),
    ],
)
def test_kernel_base_name(printed: str, name: str) -> None:
    assert kernel_base_name(printed) == name


def test_rocprof_input_and_command() -> None:
    text = rocprof_input_text()
    assert text.count("pmc:") == 4
    assert "SQ_INSTS_VALU_FMA_F64" in text and "FETCH_SIZE WRITE_SIZE" in text
    assert rocprof_command("./app", ["x"]) == (
        "rocprof", "-i", INPUT_FILE_NAME, "--timestamp", "on", "-o", "rocprof_results.csv",
        "./app", "x",
    )  # fmt: skip


def test_rocprof_results_parse_per_wave_counters_to_thread_operations() -> None:
    profiles = parse_rocprof_csv((DATA / "rocprof_results.csv").read_text(), "MI100")
    assert [(p.kernel, p.invocation) for p in profiles] == [
        ("saxpy", 1), ("saxpy", 2), ("dgemm", 1)
    ]  # fmt: skip
    saxpy = profiles[0]
    assert saxpy.sp_ops == 16_384 * 64 * 2
    assert saxpy.int_ops == 131_072 * 64
    assert saxpy.dram_bytes == (8192 + 4096) * 1024
    assert saxpy.duration_s == pytest.approx(14e-6)
    kept = fastest_invocations(profiles)
    balance = balance_points(gpu_spec("mi100"))
    assert [label_profile(p, balance, "").label for p in kept] == ["Bandwidth", "Compute"]
    assert kept[0].invocation == 2


def test_profile_command_refuses_an_unknown_tool() -> None:
    assert profile_command("ncu", "./a", [])[0] == "ncu"
    with pytest.raises(RooflineError, match="must be one of: ncu, rocprof"):
        profile_command("nsys", "./a", [])


FAKE_NCU = """#!/bin/sh
# FAKE ncu for tests: prints a canned CSV (the hand-written raw page) whatever it is asked.
echo "$@" > ncu_argv.txt
cat "$(dirname "$0")/canned.csv"
"""


def test_profile_kernels_runs_a_fake_ncu_in_the_sandbox(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    fake_bin = workdir / "fake-bin"
    fake_bin.mkdir(parents=True)
    (fake_bin / "canned.csv").write_text((DATA / "ncu_raw.csv").read_text())
    script = fake_bin / "ncu"
    script.write_text(FAKE_NCU)
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    run = profile_kernels(
        "ncu",
        "./app",
        ["--size", "1024"],
        workdir,
        SandboxLimits(wall_s=30.0),
        env={"PATH": f"{fake_bin}:/usr/bin:/bin"},
    )
    assert run.result.ok, run.result.failure_detail
    assert [p.kernel for p in run.profiles] == ["saxpy", "saxpy", "matmul", "matmul", "dscale"]
    assert "--launch-count 2" in (workdir / "ncu_argv.txt").read_text()


def test_profile_kernels_returns_no_profiles_when_the_profiler_fails(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    fake_bin = workdir / "fake-bin"
    fake_bin.mkdir(parents=True)
    script = fake_bin / "ncu"
    script.write_text("#!/bin/sh\n# FAKE ncu that fails like a missing-permission run\nexit 1\n")
    script.chmod(0o755)
    run = profile_kernels(
        "ncu", "./app", [], workdir, SandboxLimits(wall_s=30.0),
        env={"PATH": f"{fake_bin}:/usr/bin:/bin"},
    )  # fmt: skip
    assert not run.result.ok
    assert run.profiles == ()


# The files below follow the shape of output captured by others in public repositories
# (tests/data/roofline/README.md names them); the rows in them are our own.


def test_ncu_2025_raw_page_with_abbreviated_time_unit_and_no_separators() -> None:
    profiles = parse_ncu_csv((DATA / "ncu_raw_2025.csv").read_text())
    assert [(p.kernel, p.invocation) for p in profiles] == [("tiled_gemm", 1), ("tiled_gemm", 2)]
    assert profiles[0].duration_s == pytest.approx(250_000e-9)  # "ns", not "nsecond"
    assert profiles[0].sp_ops == 2 * 268_435_456
    assert profiles[0].dram_bytes == 8_388_608
    assert profiles[0].grid_size == "(64, 64, 1)"


def test_ncu_details_page_of_old_ncu_without_device_column() -> None:
    # ncu before 2023: "Kernel Time" after "Kernel Name", no Block/Grid Size, Device or CC
    header = (
        '"ID","Process ID","Process Name","Host Name","Kernel Name","Kernel Time","Context",'
        '"Stream","Section Name","Metric Name","Metric Unit","Metric Value"\n'
    )
    metrics = [("gpu__time_duration.sum", "usecond", "2.50"), ("dram__bytes.sum", "Kbyte", "4.10")]
    metrics += [(name, "inst", "0") for name in ROOFLINE_METRICS if name.startswith("smsp__")]
    rows = "".join(
        f'"0","77","app","127.0.0.1","k(float*)","2020-Apr-07 17:01:05","1","7",'
        f'"Command line profiler metrics","{name}","{unit}","{value}"\n'
        for name, unit, value in metrics
    )
    (profile,) = parse_ncu_csv(header + rows)
    assert (profile.kernel, profile.device, profile.dram_bytes) == ("k", "unknown device", 4100)
    assert profile.duration_s == pytest.approx(2.5e-6)


def test_ncu_sm_prefixed_instruction_counts_are_read_as_the_smsp_ones() -> None:
    # sm__X.sum and smsp__X.sum are the same GPU-wide count; roofline recipes collect sm__
    text = (DATA / "ncu_raw_2025.csv").read_text()
    assert '"sm__' not in text
    assert parse_ncu_csv(text.replace('"smsp__', '"sm__')) == parse_ncu_csv(text)


def test_ncu_metric_reported_na_names_the_metric() -> None:
    text = (DATA / "ncu_raw_2025.csv").read_text().replace('"8388608"', '"n/a"', 1)
    with pytest.raises(RooflineError, match=r"launch ID 0 .*dram__bytes\.sum: .*n/a"):
        parse_ncu_csv(text)


def test_rocprofv3_counter_collection_long_format() -> None:
    text = (DATA / "rocprofv3_counter_collection.csv").read_text()
    (profile,) = parse_rocprof_csv(text, "MI300X")
    assert (profile.kernel, profile.invocation) == ("stream_triad", 1)
    assert profile.dp_ops == 2 * 16_384 * 64
    assert profile.int_ops == 65_536 * 64
    assert profile.dram_bytes == (16_384 + 8_192) * 1024
    assert profile.duration_s == pytest.approx(20e-6)
    assert (profile.block_size, profile.grid_size) == ("256", "1048576")


def test_rocprofv3_two_passes_in_one_file_is_an_error() -> None:
    text = (DATA / "rocprofv3_counter_collection.csv").read_text()
    last_row = text.splitlines()[-1]
    with pytest.raises(RooflineError, match="WRITE_SIZE appears twice for dispatch 1"):
        parse_rocprof_csv(text + last_row + "\n", "MI300X")


def test_rocprof_code_object_symbol_name() -> None:
    assert kernel_base_name("_occa_weightedNorm2_0.kd") == "_occa_weightedNorm2_0"
