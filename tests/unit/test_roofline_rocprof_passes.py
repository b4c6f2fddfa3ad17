"""rocprofv3 run in several passes (one counter_collection.csv per `pmc:` line), merged by
dispatch number; the wave size given for files that do not print it.

The pass files are cut from a hand-written file (NOT captured output): see rocprof_support.py.
"""

from __future__ import annotations

import pytest
from rocprof_support import SINGLE_FILE, pass_files

from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.rocprof import parse_rocprof_csv, parse_rocprof_passes


def test_passes_merge_to_the_profile_of_one_file_holding_every_counter() -> None:
    files = pass_files()
    assert len(files) == 4 and all(text.count("\n") > 1 for text, _ in files)
    (merged,) = parse_rocprof_passes(files, "MI100")
    (whole,) = parse_rocprof_csv(SINGLE_FILE, "MI100")
    assert merged == whole
    assert merged.dp_ops == 2 * 16_384 * 64 and merged.dram_bytes == (16_384 + 8_192) * 1024


def test_a_dispatch_takes_the_duration_of_its_fastest_pass() -> None:
    (merged,) = parse_rocprof_passes(pass_files({1: 35_000, 2: 12_000, 3: 50_000}), "MI100")
    assert merged.duration_s == pytest.approx(12e-6)


def test_a_pass_alone_misses_the_other_counters_by_name() -> None:
    with pytest.raises(RooflineError, match="column SQ_INSTS_VALU_ADD_F64 is missing"):
        parse_rocprof_passes(pass_files()[:1], "MI100")


def test_passes_that_dispatch_different_kernels_are_refused() -> None:
    files = pass_files()
    text, name = files[2]
    files[2] = (text.replace("stream_triad", "stream_copy"), name)
    with pytest.raises(RooflineError, match=r"pass_3\.csv: dispatch 1 runs .*stream_copy"):
        parse_rocprof_passes(files, "MI100")


def test_passes_with_different_dispatches_are_refused() -> None:
    files = pass_files()
    text, name = files[1]
    files[1] = (text.replace('\n1,1,"Agent 1"', '\n2,2,"Agent 1"'), name)
    with pytest.raises(RooflineError, match=r"pass_2\.csv: not the dispatches of pass_1\.csv"):
        parse_rocprof_passes(files, "MI100")


def test_a_counter_collected_in_two_passes_is_refused() -> None:
    files = pass_files()
    files.append((files[0][0], "again.csv"))
    with pytest.raises(
        RooflineError, match=r"again\.csv: dispatch 1: counter SQ_INSTS_VALU_ADD_F32"
    ):
        parse_rocprof_passes(files, "MI100")


def test_wave_size_32_halves_the_thread_operations() -> None:
    (wave64,) = parse_rocprof_csv(SINGLE_FILE, "RX 7900")
    (wave32,) = parse_rocprof_csv(SINGLE_FILE, "RX 7900", default_wave_size=32)
    assert (wave32.dp_ops, wave32.int_ops) == (wave64.dp_ops // 2, wave64.int_ops // 2)
    assert wave32.dram_bytes == wave64.dram_bytes


def test_a_wave_size_no_gpu_has_is_refused() -> None:
    with pytest.raises(RooflineError, match="wave size 48 is not one of"):
        parse_rocprof_csv(SINGLE_FILE, "MI100", default_wave_size=48)


def test_no_file_is_an_error() -> None:
    with pytest.raises(RooflineError, match="no rocprof results file"):
        parse_rocprof_passes([], "MI100")
