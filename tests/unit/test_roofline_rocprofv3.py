"""rocprofv3: its command, finding each pass's counter_collection.csv under its output directory,
a profiled run through the sandbox with a FAKE rocprofv3, and `roofline label DIR`.

No AMD GPU or ROCm profiler is here: the FAKE (lassi_hpc.testing.fake_rocprofv3) writes pass
files cut from a hand-written file (NOT captured output; see rocprof_support.py) in the layout
rocprofv3's documentation shows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rocprof_support import SINGLE_FILE, pass_files

from lassi_hpc.cli import main
from lassi_hpc.records import SandboxLimits
from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.profile_run import profile_kernels
from lassi_hpc.roofline.rocprof import INPUT_FILE_NAME, parse_rocprof_csv
from lassi_hpc.roofline.rocprofv3 import (
    OUTPUT_DIR_NAME,
    counter_collection_files,
    rocprofv3_command,
)
from lassi_hpc.testing.fake_rocprofv3 import install_fake_rocprofv3


def write_passes(
    directory: Path, layout: str = "pass_{n}/node7/4242_counter_collection.csv"
) -> None:
    """Each pass file at `directory / layout` with n = 1, 2, ..."""
    for number, (text, _) in enumerate(pass_files(), start=1):
        path = directory / layout.format(n=number)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_command_reads_the_input_file_and_asks_for_csv_in_its_own_directory() -> None:
    assert rocprofv3_command("./main", ["-n", "8"]) == (
        "rocprofv3", "-i", INPUT_FILE_NAME, "-d", OUTPUT_DIR_NAME, "--output-format", "csv",
        "--", "./main", "-n", "8",
    )  # fmt: skip


def test_pass_files_are_found_in_pass_order_whatever_the_layout(tmp_path: Path) -> None:
    for number in (10, 2, 1):
        path = tmp_path / f"pass_{number}" / "host" / f"{number}_counter_collection.csv"
        path.parent.mkdir(parents=True)
        path.write_text("x")
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "99_agent_info.csv").write_text("x")
    found = counter_collection_files(tmp_path)
    assert [p.parent.parent.name for p in found] == ["pass_1", "pass_2", "pass_10"]


def test_no_counter_file_names_what_is_there(tmp_path: Path) -> None:
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "99_agent_info.csv").write_text("x")
    with pytest.raises(RooflineError, match=r"no \*counter_collection\.csv .*99_agent_info"):
        counter_collection_files(tmp_path)
    with pytest.raises(RooflineError, match="no output directory"):
        counter_collection_files(tmp_path / "absent")


def test_a_rocpd_database_without_csv_says_how_to_convert_it(tmp_path: Path) -> None:
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "99_results.db").write_bytes(b"SQLite format 3\0")
    with pytest.raises(RooflineError, match="rocpd convert -i FILE --output-format csv"):
        counter_collection_files(tmp_path)


def test_profile_kernels_runs_a_fake_rocprofv3_in_the_sandbox(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    fake_bin = workdir / "fake-bin"
    install_fake_rocprofv3(fake_bin, [text for text, _ in pass_files()])
    run = profile_kernels(
        "rocprofv3", "./main", ["8"], workdir, SandboxLimits(wall_s=30.0), device="MI100",
        env={"PATH": f"{fake_bin}:/usr/bin:/bin"},
    )  # fmt: skip
    assert run.result.ok, run.result.stderr
    assert run.profiles == tuple(parse_rocprof_csv(SINGLE_FILE, "MI100"))
    assert len(list((workdir / OUTPUT_DIR_NAME).glob("pass_*"))) == 4


def test_label_takes_rocprofv3s_output_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_passes(tmp_path / "out")
    code = main(
        ["roofline", "label", str(tmp_path / "out"), "--tool", "rocprofv3", "--gpu", "mi100"]
    )
    assert code == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["kernel"] == "stream_triad"
    assert record["profile"]["dp_ops"] == 2 * 16_384 * 64  # all four passes merged


def test_label_of_a_directory_without_counter_files_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "out").mkdir()
    code = main(
        ["roofline", "label", str(tmp_path / "out"), "--tool", "rocprofv3", "--gpu", "mi100"]
    )
    assert code != 0
    assert "no *counter_collection.csv" in capsys.readouterr().err
