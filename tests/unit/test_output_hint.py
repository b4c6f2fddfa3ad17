"""The output line a baseline's failure reason quotes: the program's own complaint."""

from __future__ import annotations

from lassi_hpc.records import CommandResult
from lassi_hpc.stages.output_hint import MAX_HINT_CHARS, build_hint, run_hint, with_hint


def command(stdout: str = "", stderr: str = "") -> CommandResult:
    return CommandResult(("./main",), "/tmp", 1, stdout, stderr, 0.1, 0.1, 0.0, 0.1, None, "", "")


def test_a_run_quotes_its_last_stderr_line_else_its_last_stdout_line() -> None:
    assert run_hint(command("n = 4\n", "reading input.dat\nError: cannot open input.dat\n\n")) == (
        "Error: cannot open input.dat"
    )
    assert run_hint(command("n = 4\nFAIL\n")) == "FAIL"
    assert run_hint(command()) == ""


def test_a_build_quotes_the_compilers_first_error_not_makes_last_line() -> None:
    log = (
        "g++ -O3 -c main.cpp\n"
        "main.cpp:3:10: fatal error: reference.h: No such file or directory\n"
        "compilation terminated.\n"
        "make: *** [Makefile:9: main.o] Error 1\n"
    )
    assert build_hint(command(stderr=log)) == (
        "main.cpp:3:10: fatal error: reference.h: No such file or directory"
    )
    assert build_hint(command(stderr="ld returned 1\n")) == "ld returned 1"


def test_a_long_line_is_cut_and_no_output_adds_nothing() -> None:
    hint = run_hint(command(stderr="x" * 500))
    assert len(hint) == MAX_HINT_CHARS and hint.endswith("...")
    assert with_hint("exit code 1", "") == "exit code 1"
    assert with_hint("exit code 1", "FAIL") == "exit code 1 (output: 'FAIL')"
