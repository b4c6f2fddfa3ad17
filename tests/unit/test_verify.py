"""Verdicts of the correctness oracle: verify_run, check_self_consistency and their inputs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lassi_hpc.apps.manifest import OracleSpec
from lassi_hpc.errors import AppError
from lassi_hpc.records import CommandResult, FailureKind, OutputFile, RunResult
from lassi_hpc.stages.verify import (
    check_self_consistency,
    reference_warnings,
    validate_oracle,
    verify_run,
)


def make_run(
    stdout: str = "",
    *,
    stderr: str = "",
    files: dict[str, bytes] | None = None,
    input_name: str = "default",
    failure: FailureKind | None = None,
    failure_detail: str = "",
    returncode: int | None = 0,
) -> RunResult:
    command = CommandResult(
        argv=("./main",),
        cwd="/scratch/run",
        returncode=returncode,
        stdout=stdout,
        stderr=stderr,
        wall_s=0.5,
        cpu_s=0.4,
        started_at_s=1000.0,
        ended_at_s=1000.5,
        failure=failure,
        failure_detail=failure_detail,
        isolation="rlimits",
    )
    outputs = tuple(OutputFile(name, content) for name, content in (files or {}).items())
    return RunResult("app", "omp", input_name, command, outputs)


REFERENCE = "checksum = 1.2345678e+02\nmax error 0.000000\nresult: 42 elements\n"
ORACLE = OracleSpec()


# --------------------------------------------------------------------------------------------------
# Plain comparison


def test_identical_output_is_ok_and_counts_the_numbers() -> None:
    verdict = verify_run(make_run(REFERENCE), make_run(REFERENCE), ORACLE)
    assert verdict.ok, verdict.reason
    assert verdict.reason == ""
    assert verdict.compared_values == 3
    assert verdict.self_check is None
    assert verdict.input_name == "default"


# rtol 2**-10 and atol 2**-1 are exact in binary, so the boundary itself is exact too.
@pytest.mark.parametrize(
    ("rtol", "atol", "reference", "candidate", "ok"),
    [
        (2**-10, 0.0, "1.0", "1.0009765625", True),  # at +rtol
        (2**-10, 0.0, "1.0", "1.0009765626", False),  # just past +rtol
        (2**-10, 0.0, "1.0", "0.9990234375", True),  # at -rtol
        (2**-10, 0.0, "1.0", "0.9990234374", False),  # just past -rtol
        (0.0, 0.5, "2.0", "2.5", True),  # at +atol
        (0.0, 0.5, "2.0", "2.5000001", False),
        (0.0, 0.5, "2.0", "1.5", True),  # at -atol
        (0.0, 0.5, "2.0", "1.4999999", False),
        (0.125, 0.25, "-4", "-4.75", True),  # atol + rtol * |ref| add up
        (0.125, 0.25, "-4", "-4.7500001", False),
        (0.5, 0.0, "2", "1", True),  # the bound scales with the reference...
        (0.5, 0.0, "1", "2", False),  # ...not with the candidate
    ],
)
def test_tolerance_boundary(
    rtol: float, atol: float, reference: str, candidate: str, ok: bool
) -> None:
    oracle = OracleSpec(rtol=rtol, atol=atol)
    verdict = verify_run(make_run(f"v = {reference}\n"), make_run(f"v = {candidate}\n"), oracle)
    assert verdict.ok is ok, verdict.reason
    if not ok:
        assert "tolerance" in verdict.reason


def test_masked_timing_line_that_differs_is_ignored() -> None:
    reference = "Kernel time: 12.5 ms\nsum = 10.0\nElapsed 3.1 seconds\n"
    candidate = "Kernel time: 3.2 ms\nsum = 10.0\nElapsed 0.9 seconds\n"
    verdict = verify_run(make_run(reference), make_run(candidate), ORACLE)
    assert verdict.ok, verdict.reason
    assert verdict.compared_values == 1


def test_timing_line_present_only_in_the_candidate_is_ignored() -> None:
    candidate = "sum = 10.0\nTotal TIME 3 ms\n"
    verdict = verify_run(make_run("sum = 10.0\n"), make_run(candidate), ORACLE)
    assert verdict.ok, verdict.reason


def test_wrong_value_fails_naming_line_values_and_tolerance() -> None:
    reference = "header\nKernel time 1.0 ms\na = 1.0\nb = 2.0\n"
    candidate = "header\nKernel time 1.0 ms\na = 1.0\nb = 2.5\n"
    verdict = verify_run(make_run(reference), make_run(candidate), ORACLE)
    assert not verdict.ok
    # Line 3 of the compared lines is line 4 of stdout (the timing line is masked).
    assert "stdout line 3 (line 4 before masking), number 1" in verdict.reason
    assert "reference 2.0, candidate 2.5" in verdict.reason
    assert "tolerance 2.001e-05" in verdict.reason
    assert "'b = 2.5'" in verdict.reason


def test_truncated_output_fails() -> None:
    reference = "".join(f"row {i}: {i * 0.5}\n" for i in range(40))
    candidate = "".join(f"row {i}: {i * 0.5}\n" for i in range(12))
    verdict = verify_run(make_run(reference), make_run(candidate), ORACLE)
    assert not verdict.ok
    assert "candidate stdout has 12 lines, reference has 40 (truncated?)" in verdict.reason
    assert "stdout line 13 'row 12: 6.0'" in verdict.reason


def test_extra_output_fails() -> None:
    verdict = verify_run(make_run("a 1\nb 2\n"), make_run("a 1\nb 2\nc 3\n"), ORACLE)
    assert not verdict.ok
    assert "candidate stdout has 3 lines, reference has 2 (extra output?)" in verdict.reason
    assert "'c 3'" in verdict.reason


def test_inserted_line_is_located_where_the_text_first_differs() -> None:
    verdict = verify_run(make_run("a 1\nb 2\n"), make_run("a 1\nnew 7\nb 2\n"), ORACLE)
    assert not verdict.ok
    assert "the text first differs at stdout line 2" in verdict.reason


def test_empty_candidate_fails_as_truncated() -> None:
    verdict = verify_run(make_run(REFERENCE), make_run(""), ORACLE)
    assert not verdict.ok
    assert "candidate stdout has 0 lines, reference has 3 (truncated?)" in verdict.reason


@pytest.mark.parametrize(
    ("reference", "candidate", "ok", "phrase"),
    [
        ("x = 1.5\n", "x = nan\n", False, "candidate is NaN where reference is not"),
        ("x = 1.5\n", "x = -nan\n", False, "candidate is NaN"),
        ("x = nan\n", "x = nan\n", True, ""),
        ("x = nan\n", "x = -nan\n", True, ""),  # glibc's sign of NaN is meaningless
        ("x = NaN\n", "x = nan\n", True, ""),
        ("x = nan\n", "x = 1.5\n", False, "reference is NaN, so only NaN matches it"),
        ("x = inf\n", "x = inf\n", True, ""),
        ("x = -inf\n", "x = -inf\n", True, ""),
        ("x = inf\n", "x = Infinity\n", True, ""),
        ("x = inf\n", "x = -inf\n", False, "an infinity matches only the same infinity"),
        ("x = inf\n", "x = 1e308\n", False, "an infinity matches only the same infinity"),
        ("x = 1e308\n", "x = inf\n", False, "an infinity matches only the same infinity"),
        ("x = inf\n", "x = nan\n", False, "candidate is NaN"),
    ],
)
def test_nan_and_inf(reference: str, candidate: str, ok: bool, phrase: str) -> None:
    oracle = OracleSpec(rtol=1.0, atol=1.0)  # loose, so only the NaN/inf rules decide
    verdict = verify_run(make_run(reference), make_run(candidate), oracle)
    assert verdict.ok is ok, verdict.reason
    assert phrase in verdict.reason


def test_reordered_lines_fail_with_a_hint() -> None:
    reference = "step 1: energy 10.0\nstep 2: energy 9.0\nstep 3: energy 8.5\n"
    candidate = "step 2: energy 9.0\nstep 1: energy 10.0\nstep 3: energy 8.5\n"
    verdict = verify_run(make_run(reference), make_run(candidate), ORACLE)
    assert not verdict.ok
    assert "stdout line 1" in verdict.reason
    assert "equals reference line 2 (lines reordered?)" in verdict.reason


@pytest.mark.parametrize(
    ("reference", "candidate", "phrase"),
    [
        ("Test PASS\n", "Test FAIL\n", "reference has 'Test PASS' where candidate has 'Test FAIL'"),
        ("energy = 1.0\n", "energ = 1.0\n", "reference has 'energy = ' where candidate has"),
        ("x = 1.0 J\n", "x = 1.0 kJ\n", "text differs"),
        ("a 1 2\n", "a 1\n", "reference has 2 numbers on it, candidate has 1"),
        ("sample[17]: 0.5\n", "sample[18]: 0.5\n", "number 1: reference 17, candidate 18"),
        ("v = 0x1F\n", "v = 0x20\n", "text differs"),  # hex digits after the x are text
    ],
)
def test_changed_text_around_numbers_fails(reference: str, candidate: str, phrase: str) -> None:
    verdict = verify_run(make_run(reference), make_run(candidate), ORACLE)
    assert not verdict.ok
    assert phrase in verdict.reason


@pytest.mark.parametrize(
    ("reference", "candidate"),
    [
        ("n = 10\n", "n = 10.0\n"),  # numerically equal is equal
        ("n = 10\n", "n = 1e1\n"),
        ("z = -0.0000\n", "z = 0.0000\n"),
        (f"z = {-0.0:10.4f}\n", f"z = {0.0:10.4f}\n"),  # padding width follows the sign
        ("a\t1   2\n", "a 1 2\n"),  # whitespace runs compare as one space
        ("  indented 1\n", "indented 1\n"),
        ("a 1\r\nb 2\r\n", "a 1\nb 2\n"),  # CRLF
        ("a 1\n\n\nb 2\n", "a 1\nb 2\n"),  # blank lines
        ("a 1   \n", "a 1\n"),  # trailing whitespace
    ],
)
def test_equivalent_spellings_are_ok(reference: str, candidate: str) -> None:
    verdict = verify_run(make_run(reference), make_run(candidate), ORACLE)
    assert verdict.ok, verdict.reason


def test_integer_that_differs_fails() -> None:
    verdict = verify_run(make_run("n = 10\n"), make_run("n = 10.5\n"), ORACLE)
    assert not verdict.ok


def test_text_only_output_is_ok_with_zero_values_when_identical() -> None:
    verdict = verify_run(make_run("all good\n"), make_run("all good\n"), ORACLE)
    assert verdict.ok
    assert verdict.compared_values == 0
    assert not verify_run(make_run("all good\n"), make_run("all bad\n"), ORACLE).ok


@pytest.mark.parametrize("reference", ["", "\n  \n", "Kernel time 3 ms\n"])
def test_empty_reference_is_an_error(reference: str) -> None:
    verdict = verify_run(make_run(reference), make_run(reference), ORACLE)
    assert not verdict.ok
    assert "reference output is empty" in verdict.reason


def test_an_app_that_prints_only_timings_is_judged_by_its_own_check_when_allowed() -> None:
    oracle = OracleSpec(
        empty_output_ok=True, self_check_fail="incorrect result", weak_check="timings only"
    )
    timings = "Average kernel execution time (bs1) 0.5 (s)\n"
    assert verify_run(
        make_run(timings), make_run("Average kernel execution time (bs1) 0.1 (s)\n"), oracle
    ).ok
    wrong = verify_run(make_run(timings), make_run(timings + "bs: incorrect result:\n"), oracle)
    assert not wrong.ok and "incorrect result" in wrong.reason
    # Nothing to compare means nothing may be added either.
    extra = verify_run(make_run(timings), make_run(timings + "sum = 3\n"), oracle)
    assert not extra.ok and "sum = 3" in extra.reason


def test_large_output_compares() -> None:
    rng = np.random.default_rng(7)
    values = rng.standard_normal(120_000)
    reference = "".join(f"sample[{i}]: x={v:.9e}, y={v * 2:.6f}\n" for i, v in enumerate(values))
    candidate = "".join(
        f"sample[{i}]: x={v * (1 + 1e-9):.9e}, y={v * 2:.6f}\n" for i, v in enumerate(values)
    )
    assert len(reference) > 5_000_000
    verdict = verify_run(make_run(reference), make_run(candidate), ORACLE)
    assert verdict.ok, verdict.reason
    assert verdict.compared_values == 360_000
    values[77_777] += 1.0
    broken = "".join(f"sample[{i}]: x={v:.9e}, y={v * 2:.6f}\n" for i, v in enumerate(values))
    verdict = verify_run(make_run(reference), make_run(broken), ORACLE)
    assert not verdict.ok
    assert "stdout line 77778, number 2" in verdict.reason


# --------------------------------------------------------------------------------------------------
# The app's own check and failed commands


SELF_CHECKING = OracleSpec(self_check_pass=r"\bPASS\b", self_check_fail=r"\bFAIL")


def test_self_check_fail_line_fails_even_when_numbers_match() -> None:
    output = "sum = 1.0\nFAIL: 3 mismatches\n"
    verdict = verify_run(make_run(output), make_run(output), SELF_CHECKING)
    assert not verdict.ok
    assert verdict.self_check is False
    assert "the app's own check failed: stdout line 2 'FAIL: 3 mismatches'" in verdict.reason


def test_self_check_fail_on_stderr_counts() -> None:
    verdict = verify_run(
        make_run("sum = 1.0\nPASS\n"),
        make_run("sum = 1.0\nPASS\n", stderr="FAIL at 7\n"),
        SELF_CHECKING,
    )
    assert not verdict.ok
    assert "stderr line 1" in verdict.reason


def test_missing_self_check_pass_fails() -> None:
    verdict = verify_run(make_run("sum = 1.0\n"), make_run("sum = 1.0\n"), SELF_CHECKING)
    assert not verdict.ok
    assert verdict.self_check is False
    assert "no line of stdout or stderr matches self_check_pass" in verdict.reason


def test_self_check_pass_is_recorded() -> None:
    output = "sum = 1.0\nPASS\n"
    verdict = verify_run(make_run(output), make_run(output), SELF_CHECKING)
    assert verdict.ok, verdict.reason
    assert verdict.self_check is True


def test_pass_line_cannot_rescue_a_failed_comparison() -> None:
    verdict = verify_run(
        make_run("sum = 1.0\nPASS\n"), make_run("sum = 7.0\nPASS\n"), SELF_CHECKING
    )
    assert not verdict.ok
    assert verdict.self_check is True
    assert "number 1: reference 1.0, candidate 7.0" in verdict.reason


def test_failed_candidate_command_fails_naming_the_failure() -> None:
    candidate = make_run(
        "sum = 1.0\n",
        failure=FailureKind.TIMEOUT,
        failure_detail="wall-clock limit of 120 s reached",
        returncode=None,
    )
    verdict = verify_run(make_run("sum = 1.0\n"), candidate, ORACLE)
    assert not verdict.ok
    assert verdict.reason == (
        "candidate command failed (timeout): wall-clock limit of 120 s reached"
    )


def test_failed_candidate_without_detail_names_the_exit_status() -> None:
    candidate = make_run("sum = 1.0\n", failure=FailureKind.EXIT_CODE, returncode=3)
    verdict = verify_run(make_run("sum = 1.0\n"), candidate, ORACLE)
    assert verdict.reason == "candidate command failed (exit-code): exit status 3"


def test_runs_on_different_inputs_are_not_compared() -> None:
    verdict = verify_run(make_run("a 1\n"), make_run("a 1\n", input_name="large"), ORACLE)
    assert not verdict.ok
    assert "input 'default'" in verdict.reason
    assert verdict.input_name == "large"


# --------------------------------------------------------------------------------------------------
# Output files

FILES = OracleSpec(compare="files", output_files=("out.txt",))
BOTH = OracleSpec(compare="both", output_files=("out.txt",))


def test_matching_file_is_ok() -> None:
    reference = make_run("ignored 1\n", files={"out.txt": b"u 1.0\nv 2.0\n"})
    candidate = make_run("ignored 2\n", files={"out.txt": b"u 1.0\nv 2.0000000001\n"})
    verdict = verify_run(reference, candidate, FILES)
    assert verdict.ok, verdict.reason
    assert verdict.compared_values == 2


def test_missing_file_fails_naming_it() -> None:
    reference = make_run("a 1\n", files={"out.txt": b"u 1.0\n"})
    verdict = verify_run(reference, make_run("a 1\n"), FILES)
    assert not verdict.ok
    assert verdict.reason == "candidate wrote no output file 'out.txt'"


def test_differing_file_fails_naming_it() -> None:
    reference = make_run("a 1\n", files={"out.txt": b"u 1.0\nv 2.0\n"})
    candidate = make_run("a 1\n", files={"out.txt": b"u 1.0\nv 2.5\n"})
    verdict = verify_run(reference, candidate, FILES)
    assert not verdict.ok
    assert "file 'out.txt' line 2, number 1: reference 2.0, candidate 2.5" in verdict.reason


def test_both_mode_needs_stdout_and_files_to_match() -> None:
    reference = make_run("a 1\n", files={"out.txt": b"u 1.0\n"})
    assert verify_run(reference, reference, BOTH).ok
    bad_stdout = make_run("a 2\n", files={"out.txt": b"u 1.0\n"})
    bad_file = make_run("a 1\n", files={"out.txt": b"u 3.0\n"})
    verdict = verify_run(reference, bad_stdout, BOTH)
    assert not verdict.ok
    assert verdict.reason.startswith("stdout line 1")
    verdict = verify_run(reference, bad_file, BOTH)
    assert not verdict.ok
    assert verdict.reason.startswith("file 'out.txt' line 1")
    verdict = verify_run(reference, make_run("a 2\n", files={"out.txt": b"u 3.0\n"}), BOTH)
    assert "(and 1 more outputs fail: file 'out.txt')" in verdict.reason


def test_file_over_the_size_limit_fails() -> None:
    oracle = dataclasses.replace(FILES, max_output_file_bytes=8)
    reference = make_run("a 1\n", files={"out.txt": b"u 1.0\n"})
    candidate = make_run("a 1\n", files={"out.txt": b"u 1.0\n" + b"x" * 10})
    verdict = verify_run(reference, candidate, oracle)
    assert not verdict.ok
    assert "candidate file 'out.txt' is larger than max_output_file_bytes (8 bytes)" in (
        verdict.reason
    )


def test_binary_file_compares_byte_for_byte() -> None:
    oracle = OracleSpec(compare="files", output_files=("out.bin",))
    blob = bytes([0xFF, 0xFE, 1, 2, 3])
    reference = make_run("", files={"out.bin": blob})
    assert verify_run(reference, make_run("", files={"out.bin": blob}), oracle).ok
    verdict = verify_run(reference, make_run("", files={"out.bin": blob[:3] + b"\x09\x03"}), oracle)
    assert not verdict.ok
    assert "compared byte for byte: candidate differs from reference at byte 3" in verdict.reason


def test_candidate_file_that_is_not_text_fails() -> None:
    reference = make_run("", files={"out.txt": b"u 1.0\n"})
    verdict = verify_run(reference, make_run("", files={"out.txt": b"u \xff\n"}), FILES)
    assert not verdict.ok
    assert "is not UTF-8 text (bad byte at offset 2)" in verdict.reason


def test_declared_float32_file_compares_as_numbers() -> None:
    oracle = OracleSpec(
        compare="files",
        output_files=("field.bin",),
        binary_dtypes=(("field.bin", "float32"),),
        rtol=1e-5,
        atol=0.0,
    )
    values = np.linspace(1.0, 2.0, 1000, dtype=np.float32)
    reference = make_run("", files={"field.bin": values.astype("<f4").tobytes()})
    close = (values * np.float32(1 + 1e-6)).astype("<f4").tobytes()
    verdict = verify_run(reference, make_run("", files={"field.bin": close}), oracle)
    assert verdict.ok, verdict.reason
    assert verdict.compared_values == 1000
    far = values.copy()
    far[123] += np.float32(0.01)
    verdict = verify_run(reference, make_run("", files={"field.bin": far.tobytes()}), oracle)
    assert not verdict.ok
    assert "file 'field.bin' (float32) value 123 (0-based)" in verdict.reason
    short = make_run("", files={"field.bin": values[:10].tobytes()})
    assert (
        "has 10 values, reference has 1000 (truncated?)"
        in verify_run(reference, short, oracle).reason
    )
    ragged = make_run("", files={"field.bin": values.tobytes()[:-1]})
    assert "not a whole number of float32 values" in verify_run(reference, ragged, oracle).reason


# --------------------------------------------------------------------------------------------------
# Self-consistency of the original, oracle validation, reference warnings


def test_self_consistency_ok_within_tolerance() -> None:
    verdict = check_self_consistency(
        make_run("e = 1.00000000\nPASS\n"), make_run("e = 1.00000001\nPASS\n"), SELF_CHECKING
    )
    assert verdict.ok, verdict.reason
    assert verdict.self_check is True


def test_self_consistency_names_the_difference() -> None:
    verdict = check_self_consistency(make_run("e = 1.0\n"), make_run("e = 1.1\n"), ORACLE)
    assert not verdict.ok
    assert verdict.reason.startswith("not reproducible: stdout line 1, number 1: first run 1.0")
    assert "second run 1.1" in verdict.reason


def test_self_consistency_fails_on_a_failed_run_or_own_check() -> None:
    crashed = make_run("", failure=FailureKind.SIGNAL, failure_detail="SIGSEGV")
    verdict = check_self_consistency(make_run("e = 1\n"), crashed, ORACLE)
    assert verdict.reason == "second run command failed (signal): SIGSEGV"
    verdict = check_self_consistency(
        make_run("e = 1\nFAIL\n"), make_run("e = 1\nFAIL\n"), SELF_CHECKING
    )
    assert not verdict.ok
    assert verdict.self_check is False
    assert verdict.reason.startswith("first run: the app's own check failed")


def test_self_consistency_with_empty_output_says_so() -> None:
    verdict = check_self_consistency(make_run(""), make_run(""), ORACLE)
    assert verdict.reason == "first run output is empty: stdout has no lines after masking"


@pytest.mark.parametrize(
    ("oracle", "phrase"),
    [
        (OracleSpec(mask=("(unclosed",)), "mask pattern '(unclosed' is not a valid"),
        (OracleSpec(self_check_pass="[a-"), "self-check pattern '[a-' is not a valid"),
        (OracleSpec(compare="files"), "needs output_files"),
        (OracleSpec(rtol=-1.0), "rtol must be a finite number >= 0"),
        (OracleSpec(atol=float("nan")), "atol must be a finite number >= 0"),
        (
            OracleSpec(compare="files", output_files=("a",), binary_dtypes=(("a", "int8"),)),
            "must be one of: float32, float64",
        ),
        (
            OracleSpec(compare="files", output_files=("a",), binary_dtypes=(("b", "float32"),)),
            "not in output_files",
        ),
    ],
)
def test_unusable_oracle_raises(oracle: OracleSpec, phrase: str) -> None:
    with pytest.raises(AppError, match=None) as error:
        validate_oracle(oracle)
    assert phrase in str(error.value)


def test_reference_warnings_note_nan_and_missing_numbers() -> None:
    warnings = reference_warnings(make_run("x = nan\ny = inf\nz = 1\n"), ORACLE)
    assert warnings == (
        "reference stdout has 1 NaN and 1 infinite values out of 3: a candidate must "
        "reproduce them in the same places",
    )
    assert reference_warnings(make_run("all good\n"), ORACLE) == (
        "reference stdout has no numbers: only its text is compared",
    )
    assert reference_warnings(make_run("x = 1.5\n"), ORACLE) == ()
