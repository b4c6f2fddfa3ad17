"""check_output_variety: outputs that do not depend on the input (constant, or a copied input)."""

from __future__ import annotations

from lassi_hpc.apps.manifest import OracleSpec
from lassi_hpc.records import CommandResult, FailureKind, OutputFile, RunResult
from lassi_hpc.stages.verify import check_output_variety

STDOUT = OracleSpec()
FILES = OracleSpec(compare="files", output_files=("field.txt",))


def make_run(
    input_name: str, stdout: str = "", files: dict[str, bytes] | None = None, ok: bool = True
) -> RunResult:
    command = CommandResult(
        argv=("./main",),
        cwd="/scratch/run",
        returncode=0 if ok else 1,
        stdout=stdout,
        stderr="",
        wall_s=0.5,
        cpu_s=0.4,
        started_at_s=1000.0,
        ended_at_s=1000.5,
        failure=None if ok else FailureKind.EXIT_CODE,
        failure_detail="" if ok else "exit status 1",
        isolation="rlimits",
    )
    outputs = tuple(OutputFile(name, content) for name, content in (files or {}).items())
    return RunResult("app", "omp", input_name, command, outputs)


def field_runs(default: bytes, heldout: bytes) -> list[RunResult]:
    return [
        make_run("default", files={"field.txt": default}),
        make_run("heldout", files={"field.txt": heldout}),
    ]


def test_outputs_that_follow_the_input_pass() -> None:
    reference = [make_run("default", "sum = 1.0\n"), make_run("heldout", "sum = 2.0\n")]
    candidate = [make_run("default", "sum = 1.0\n"), make_run("heldout", "sum = 2.0\n")]
    verdict = check_output_variety(reference, candidate, STDOUT)
    assert verdict.ok, verdict.reason


def test_a_constant_output_is_refused_without_naming_the_held_out_input() -> None:
    reference = field_runs(b"1.0\n2.0\n", b"3.0\n4.0\n")
    candidate = field_runs(b"1.0\n2.0\n", b"1.0\n2.0\n")
    verdict = check_output_variety(reference, candidate, FILES, hidden_inputs={"heldout"})
    assert not verdict.ok
    assert verdict.reason == (
        "constant output: the candidate's file 'field.txt' is the same on input 'default' and "
        "a held-out input, where the original's differs (a hard-coded answer)"
    )
    assert "heldout" not in verdict.reason


def test_equal_within_tolerance_counts_as_the_same() -> None:
    reference = field_runs(b"1.0\n", b"3.0\n")
    candidate = field_runs(b"1.0\n", b"1.0000000001\n")
    assert not check_output_variety(reference, candidate, FILES).ok


def test_an_output_that_is_constant_for_the_original_too_passes() -> None:
    reference = field_runs(b"1.0\n", b"1.0\n")
    candidate = field_runs(b"1.0\n", b"1.0\n")
    assert check_output_variety(reference, candidate, FILES).ok


def test_failed_runs_are_left_to_the_other_checks() -> None:
    reference = [make_run("default", "s = 1\n"), make_run("heldout", "s = 2\n")]
    candidate = [make_run("default", "s = 1\n"), make_run("heldout", "s = 1\n", ok=False)]
    assert check_output_variety(reference, candidate, STDOUT).ok


def test_an_output_copied_from_an_input_file_is_refused() -> None:
    inputs = {"grid.in": b"7.0\n8.0\n", "main.cpp": b"int main() {}\n"}
    reference = field_runs(b"1.0\n", b"3.0\n")
    candidate = field_runs(b"1.0\n", b"7.0\n8.0\n")
    verdict = check_output_variety(reference, candidate, FILES, inputs)
    assert not verdict.ok
    assert verdict.reason == (
        "copied input: the candidate's file 'field.txt' is a byte-for-byte copy of 'grid.in' "
        "on input 'heldout'"
    )


def test_a_copy_the_original_makes_too_passes() -> None:
    inputs = {"grid.in": b"7.0\n"}
    reference = field_runs(b"7.0\n", b"3.0\n")
    candidate = field_runs(b"7.0\n", b"3.0\n")
    assert check_output_variety(reference, candidate, FILES, inputs).ok


def test_empty_input_files_are_never_a_copy() -> None:
    reference = [make_run("default", "")]
    candidate = [make_run("default", "")]
    assert check_output_variety(reference, candidate, STDOUT, {"empty.in": b""}).ok
