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

# Domain facts, section 1: the apps and the study's enlarged arguments.
STUDY_ARGS = {
    "keogh": "256 22500000 100",
    "threadfence": "100 250000000",
    "murmurhash3": "750000 500",
    "floydwarshall": "2048 100 256",
    "stu-matrix-rotate": "30000 100",
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


def test_held_out_arguments_differ_from_the_shown_ones() -> None:
    for facts in HECBENCH_APPS.values():
        assert facts.args not in facts.heldout_args, facts.name
        if facts.args:  # an app that takes arguments gets held-out sets of the same arity
            assert facts.heldout_args, facts.name
            assert all(len(h) == len(facts.args) for h in facts.heldout_args), facts.name


@pytest.mark.parametrize("name", ["jacobi", "bsearch", "pathfinder", "segment-reduce"])
def test_the_weak_checks_of_the_domain_facts_are_flagged(name: str) -> None:
    assert HECBENCH_APPS[name].weak_check
    assert oracle_for(HECBENCH_APPS[name]).weak_check == HECBENCH_APPS[name].weak_check
    assert HECBENCH_APPS["lid-driven-cavity"].weak_check


def test_apps_without_a_verdict_have_no_pass_regex() -> None:
    for name in ("bsearch", "pathfinder", "segment-reduce", "lid-driven-cavity"):
        assert HECBENCH_APPS[name].self_check_pass == ""


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
    checked = {name for name, f in HECBENCH_APPS.items() if f.checked_against_suite}
    assert checked == {"keogh", "threadfence", "jacobi", "bsearch"}


def test_the_doc_shows_the_table_as_generated() -> None:
    doc = (REPO / "docs" / "hecbench.md").read_text(encoding="utf-8")
    assert markdown_table() in doc
