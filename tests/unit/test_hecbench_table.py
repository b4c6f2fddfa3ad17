"""The HeCBench oracle table: the study's 20 apps, usable oracles, honest about what is ours."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lassi_hpc.apps.hecbench_table import (
    HECBENCH_APPS,
    HECBENCH_MASKS,
    generic_oracle,
    markdown_table,
    oracle_for,
)
from lassi_hpc.records import CommandResult, RunResult
from lassi_hpc.stages.verify import verify_run

REPO = Path(__file__).resolve().parents[2]

# Domain facts, section 1: the apps and the study's enlarged arguments, under the suite's directory
# names (the study's "stu-matrix-rotate" is src/matrix-rotate-* in the suite).
STUDY_ARGS = {
    "keogh": "256 22500000 100",
    "threadfence": "100 250000000",
    "murmurhash3": "750000 500",
    "floydwarshall": "2048 100 256",
    "matrix-rotate": "30000 100",
    "jacobi": "",
    "segment-reduce": "16384 100",
    "pathfinder": "100000 10000 2500",
    "entropy": "8192 8192 500",
    "randomAccess": "10 1",
    "extrema": "750",
    "marchingCubes": "100",
    "jaccard": "1024 512 1000",
    "chacha20": "300000",
    "all-pairs-distance": "10000",
    "layout": "2500",
    "dense-embedding": "100000 128 100",
    "bsearch": "8388608 1000",
    "colorwheel": "10000 256 500000",
    "lid-driven-cavity": "",
}


def test_the_table_holds_the_twenty_apps_with_the_study_arguments() -> None:
    assert {name: " ".join(f.args) for name, f in HECBENCH_APPS.items()} == STUDY_ARGS


# Apps whose version read takes fewer arguments than the study passed: held-out sets follow the
# version read, and the row's note says so.
ARITY_AS_READ = {"randomAccess": 1}


def test_held_out_arguments_differ_from_the_shown_ones() -> None:
    for facts in HECBENCH_APPS.values():
        assert facts.args not in facts.heldout_args, facts.name
        if facts.args:  # an app that takes arguments gets held-out sets of the same arity
            assert facts.heldout_args, facts.name
            arity = ARITY_AS_READ.get(facts.name, len(facts.args))
            assert all(len(h) == arity for h in facts.heldout_args), facts.name
    assert "args = ['10']" in HECBENCH_APPS["randomAccess"].note


def test_held_out_sets_meet_the_constraints_read_in_the_suite() -> None:
    dense = [tuple(map(int, h)) for h in HECBENCH_APPS["dense-embedding"].heldout_args]
    assert all(rows > batch * batch for rows, batch, _ in dense)  # the app asserts it
    pathfinder = [tuple(map(int, h)) for h in HECBENCH_APPS["pathfinder"].heldout_args]
    assert all(2 * height < 250 for _, _, height in pathfinder)  # block width 250
    rotate = [int(h[1]) for h in HECBENCH_APPS["matrix-rotate"].heldout_args]
    assert all(turns % 4 for turns in rotate)  # 4 quarter-turns are the identity


@pytest.mark.parametrize(
    "name", ["jacobi", "bsearch", "pathfinder", "segment-reduce", "jaccard", "extrema"]
)
def test_the_weak_checks_of_the_domain_facts_are_flagged(name: str) -> None:
    assert HECBENCH_APPS[name].weak_check
    assert oracle_for(HECBENCH_APPS[name]).weak_check == HECBENCH_APPS[name].weak_check
    assert HECBENCH_APPS["lid-driven-cavity"].weak_check


def test_apps_without_a_verdict_have_no_pass_regex() -> None:
    for name in ("bsearch", "pathfinder", "segment-reduce", "lid-driven-cavity", "jaccard"):
        assert HECBENCH_APPS[name].self_check_pass == ""
    # extrema prints a line only on a mismatch
    assert HECBENCH_APPS["extrema"].self_check_pass == ""
    assert re.search(HECBENCH_APPS["extrema"].self_check_fail, "2D test: FAILED")


def test_every_regex_compiles_and_timings_are_masked() -> None:
    for facts in HECBENCH_APPS.values():
        oracle = oracle_for(facts)
        for pattern in (*oracle.mask, oracle.self_check_pass, oracle.self_check_fail):
            re.compile(pattern)
        assert oracle.rtol >= 0 and oracle.atol >= 0
    line = "Average kernel execution time: 0.001234 (s)"
    assert any(re.search(p, line) for p in HECBENCH_MASKS)
    assert any(re.search(p, "Device bandwidth 812.5 GB/s") for p in HECBENCH_MASKS)


def _run(stdout: str) -> RunResult:
    command = CommandResult(
        argv=("./main",),
        cwd="/scratch/run",
        returncode=0,
        stdout=stdout,
        stderr="",
        wall_s=0.1,
        cpu_s=0.1,
        started_at_s=0.0,
        ended_at_s=0.1,
        failure=None,
        failure_detail="",
        isolation="rlimits",
    )
    return RunResult("keogh", "cuda", "default", command, ())


def test_a_checked_verdict_judges_real_looking_output() -> None:
    """keogh's lines as its source prints them: the verdict and the masked timing."""
    oracle = oracle_for(HECBENCH_APPS["keogh"])
    good = (
        "Query length = 256\nSubject length = 2000\nAverage kernel execution time: 0.1 (s)\nPASS\n"
    )
    faster = good.replace("0.1 (s)", "0.01 (s)")
    assert verify_run(_run(good), _run(faster), oracle).ok
    failed = verify_run(_run(good), _run(good.replace("PASS", "FAIL")), oracle)
    assert not failed.ok and failed.self_check is False


def test_the_generic_oracle_says_why_it_is_weak() -> None:
    oracle = generic_oracle("nosuch")
    assert "nosuch is not in lassi_hpc's HeCBench oracle table" in oracle.weak_check
    assert oracle.self_check_pass == "" and oracle.self_check_fail


def test_only_facts_read_in_the_suite_are_marked_checked() -> None:
    unchecked = {name for name, f in HECBENCH_APPS.items() if not f.checked_against_suite}
    assert unchecked == {"segment-reduce"}  # its main.cu was not found in the public index


# Lines exactly as the version read prints them; each app's pass and fail patterns must decide.
PRINTED_VERDICTS = {
    "murmurhash3": ("SUCCESS", "FAIL"),
    "randomAccess": (
        "Found 0 errors in 33554432 locations (PASS).",
        "Found 999999 errors in 33554432 locations (FAIL).",
    ),
    "colorwheel": ("PASS", "Maximum error between host and device results: 3"),
    "floydwarshall": ("PASS", "FAIL"),
    "dense-embedding": ("PASS", "FAIL"),
}


@pytest.mark.parametrize("name", sorted(PRINTED_VERDICTS))
def test_the_verdict_patterns_match_the_printed_lines(name: str) -> None:
    passed, failed = PRINTED_VERDICTS[name]
    facts = HECBENCH_APPS[name]
    assert re.search(facts.self_check_pass, passed)
    assert not re.search(facts.self_check_fail, passed)
    assert re.search(facts.self_check_fail, failed)
    assert not re.search(facts.self_check_pass, failed)


def test_deterministic_result_lines_are_not_masked() -> None:
    """randomAccess's error count and marchingCubes' counts are compared, not masked."""
    for name, line in (
        ("randomAccess", "Found 0 errors in 33554432 locations (PASS)."),
        ("marchingCubes", "Vertices: 4856560"),
    ):
        assert not any(re.search(p, line) for p in oracle_for(HECBENCH_APPS[name]).mask), name


def test_the_doc_shows_the_table_as_generated() -> None:
    doc = (REPO / "docs" / "hecbench.md").read_text(encoding="utf-8")
    assert markdown_table() in doc
