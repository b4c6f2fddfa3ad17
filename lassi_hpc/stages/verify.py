"""Verify stage: decide whether a run's output still matches the original's on the same input.

The harness, not the LLM, decides correctness: a refactored program passes only when its stdout
and/or output files match the original's under the oracle's tolerance. The app's own PASS line can
only make a verdict fail. Rules and examples: docs/oracle.md; the line and number comparison itself
lives in `lassi_hpc.stages.compare_numbers`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from lassi_hpc.apps.manifest import OracleSpec
from lassi_hpc.errors import AppError
from lassi_hpc.records import CommandResult, OutputFile, RunResult, Verdict
from lassi_hpc.stages.compare_numbers import (
    NUMBER_RE,
    Comparison,
    Roles,
    Tolerance,
    compare_arrays,
    compare_text,
    compile_line_patterns,
    first_matching_line,
    keep_lines,
    quote_line,
    stripped_lines,
)

COMPARE_MODES = ("stdout", "files", "both")
# Declared binary files are little-endian, the byte order of every GPU host we target.
BINARY_DTYPES = {"float32": "<f4", "float64": "<f8"}

_VERIFY_ROLES = Roles("reference", "candidate")
_REPEAT_ROLES = Roles("first run", "second run")
_PAIR_ROLES = Roles("one input", "another input")


def verify_run(reference: RunResult, candidate: RunResult, oracle: OracleSpec) -> Verdict:
    """Judge `candidate` against `reference` (the original's run on the same input).

    Order: a failed candidate command fails; then stdout and/or each output file are compared as
    `oracle.compare` says; then the candidate's own check (`self_check_fail` matching a line, or
    `self_check_pass` set and matching none) can fail it too. Raises `AppError` for an unusable
    oracle (bad regex, negative tolerance, "files" mode without files).
    """
    validate_oracle(oracle)
    name = candidate.input_name
    if reference.input_name != candidate.input_name:
        return _fail(
            name,
            f"reference is a run on input {reference.input_name!r}, candidate on input "
            f"{candidate.input_name!r}",
        )
    if not reference.command.ok:
        return _fail(name, f"reference {_describe_failure(reference.command)}")
    if not candidate.command.ok:
        return _fail(name, f"candidate {_describe_failure(candidate.command)}")
    comparison = compare_outputs(reference, candidate, oracle)
    self_check, self_reason = read_self_check(candidate.command, oracle)
    reasons = [r for r in (comparison.reason, self_reason) if r]
    return Verdict(
        ok=comparison.ok and not self_reason,
        input_name=name,
        reason="; also ".join(reasons),
        self_check=self_check,
        compared_values=comparison.compared_values,
    )


def check_self_consistency(first: RunResult, second: RunResult, oracle: OracleSpec) -> Verdict:
    """Check that two runs of the same program on the same input agree within the oracle.

    Used on the original: if it does not reproduce itself, no candidate can be judged against it.
    Both runs must also pass their own check (`self_check` is False if either fails it).
    """
    validate_oracle(oracle)
    name = first.input_name
    if first.input_name != second.input_name:
        return _fail(
            name,
            f"first run is on input {first.input_name!r}, second on {second.input_name!r}",
        )
    for role, run in (("first run", first), ("second run", second)):
        if not run.command.ok:
            return _fail(name, f"{role} {_describe_failure(run.command)}")
    comparison = compare_outputs(first, second, oracle, _REPEAT_ROLES)
    checks = [read_self_check(first.command, oracle), read_self_check(second.command, oracle)]
    reasons = []
    if not comparison.ok:
        prefix = "" if comparison.empty_reference else "not reproducible: "
        reasons.append(prefix + comparison.reason)
    reasons += [
        f"{role}: {reason}"
        for role, (_, reason) in zip(("first run", "second run"), checks, strict=True)
        if reason
    ]
    values = [value for value, _ in checks]
    self_check = False if False in values else (True if True in values else None)
    return Verdict(
        ok=not reasons,
        input_name=name,
        reason="; ".join(reasons),
        self_check=self_check,
        compared_values=comparison.compared_values,
    )


def validate_oracle(oracle: OracleSpec) -> None:
    """Raise `AppError` when `oracle` is unusable, naming the bad value and what is allowed."""
    if oracle.compare not in COMPARE_MODES:
        raise AppError(
            f"oracle compare mode {oracle.compare!r} is not one of: {', '.join(COMPARE_MODES)}"
        )
    if oracle.compare != "stdout" and not oracle.output_files:
        raise AppError(f"oracle compare mode {oracle.compare!r} needs output_files; none are named")
    for key, value in (("rtol", oracle.rtol), ("atol", oracle.atol)):
        if not (math.isfinite(value) and value >= 0):
            raise AppError(f"oracle {key} must be a finite number >= 0, got {value!r}")
    for file_name, dtype in oracle.binary_dtypes:
        if dtype not in BINARY_DTYPES:
            raise AppError(
                f"oracle binary_dtypes: {file_name!r} has dtype {dtype!r}; "
                f"must be one of: {', '.join(BINARY_DTYPES)}"
            )
        if file_name not in oracle.output_files:
            raise AppError(
                f"oracle binary_dtypes names {file_name!r}, which is not in output_files"
            )
    compile_line_patterns(oracle.mask, "mask pattern")
    compile_line_patterns(
        [p for p in (oracle.self_check_pass, oracle.self_check_fail) if p], "self-check pattern"
    )


# --------------------------------------------------------------------------------------------------
# Output comparison


def compare_outputs(
    reference: RunResult,
    candidate: RunResult,
    oracle: OracleSpec,
    roles: Roles = _VERIFY_ROLES,
) -> Comparison:
    """Compare every output `oracle.compare` names: stdout first, then files in declared order.

    The reason is the first failing output's; `compared_values` sums over all outputs.
    """
    results = compare_each_output(reference, candidate, oracle, roles)
    compared = sum(c.compared_values for _, c in results)
    failed = [(label, c) for label, c in results if not c.ok]
    if not failed:
        return Comparison(True, "", compared)
    first = failed[0][1]
    reason = first.reason
    if len(failed) > 1:
        others = ", ".join(label for label, _ in failed[1:])
        reason += f" (and {len(failed) - 1} more outputs fail: {others})"
    return Comparison(False, reason, compared, first.empty_reference)


def compare_each_output(
    reference: RunResult,
    candidate: RunResult,
    oracle: OracleSpec,
    roles: Roles = _VERIFY_ROLES,
) -> list[tuple[str, Comparison]]:
    """(label, comparison) for every output `oracle.compare` names: "stdout", then "file 'x'"."""
    tolerance = Tolerance(rtol=oracle.rtol, atol=oracle.atol)
    results: list[tuple[str, Comparison]] = []
    if oracle.compare in ("stdout", "both"):
        results.append(
            (
                "stdout",
                compare_text(
                    reference.command.stdout,
                    candidate.command.stdout,
                    tolerance,
                    oracle.mask,
                    "stdout",
                    roles,
                    empty_ok=oracle.empty_output_ok,
                ),
            )
        )
    if oracle.compare in ("files", "both"):
        for file_name in oracle.output_files:
            comparison = _compare_file(file_name, reference, candidate, oracle, tolerance, roles)
            results.append((f"file {file_name!r}", comparison))
    return results


# --------------------------------------------------------------------------------------------------
# Outputs that do not depend on the input


def check_output_variety(
    reference_runs: Sequence[RunResult],
    candidate_runs: Sequence[RunResult],
    oracle: OracleSpec,
    input_files: Mapping[str, bytes] | None = None,
    hidden_inputs: Collection[str] = (),
) -> Verdict:
    """Reject a candidate whose outputs do not depend on its input.

    Constant: on two inputs where the original's output differs beyond the oracle's tolerance, the
    candidate's is the same within it (a hard-coded answer). Copy: an output is byte-equal to one
    of `input_files` (name -> content: what the run directory started with) while the original's
    is not. Runs pair up by position; failed runs are skipped (other checks report them). Inputs
    named in `hidden_inputs` appear in the reason as "a held-out input", never by name.
    """
    validate_oracle(oracle)
    pairs = [
        (ref, cand)
        for ref, cand in zip(reference_runs, candidate_runs, strict=True)
        if ref.command.ok and cand.command.ok and ref.input_name == cand.input_name
    ]
    if not pairs:
        return Verdict(ok=True, input_name="", reason="")

    def shown(name: str) -> str:
        return "a held-out input" if name in hidden_inputs else f"input {name!r}"

    for ref, cand in pairs:
        copied = _copied_input(ref, cand, oracle, input_files or {})
        if copied:
            return _fail(cand.input_name, f"{copied} on {shown(cand.input_name)}")
    for index, (ref_a, cand_a) in enumerate(pairs):
        for ref_b, cand_b in pairs[index + 1 :]:
            original = dict(compare_each_output(ref_a, ref_b, oracle, _PAIR_ROLES))
            for label, comparison in compare_each_output(cand_a, cand_b, oracle, _PAIR_ROLES):
                if comparison.ok and label in original and not original[label].ok:
                    return _fail(
                        cand_b.input_name,
                        f"constant output: the candidate's {label} is the same on "
                        f"{shown(cand_a.input_name)} and {shown(cand_b.input_name)}, where the "
                        "original's differs (a hard-coded answer)",
                    )
    return Verdict(ok=True, input_name=pairs[0][1].input_name, reason="")


def _copied_input(
    reference: RunResult, candidate: RunResult, oracle: OracleSpec, input_files: Mapping[str, bytes]
) -> str:
    """Which output is a copy of which input file, or "" if none is."""
    copies = {content: name for name, content in input_files.items() if content}
    outputs: list[tuple[str, bytes, bytes | None]] = []
    if oracle.compare in ("stdout", "both"):
        outputs.append(
            ("stdout", candidate.command.stdout.encode(), reference.command.stdout.encode())
        )
    if oracle.compare in ("files", "both"):
        for file_name in oracle.output_files:
            mine = _find_file(candidate, file_name)
            theirs = _find_file(reference, file_name)
            if mine is not None:
                outputs.append(
                    (f"file {file_name!r}", mine.content, theirs.content if theirs else None)
                )
    for label, content, original in outputs:
        source = copies.get(content)
        if source is not None and original != content:
            return f"copied input: the candidate's {label} is a byte-for-byte copy of {source!r}"
    return ""


def _find_file(run: RunResult, name: str) -> OutputFile | None:
    return next((f for f in run.output_files if f.name == name), None)


def _compare_file(
    name: str,
    reference: RunResult,
    candidate: RunResult,
    oracle: OracleSpec,
    tolerance: Tolerance,
    roles: Roles,
) -> Comparison:
    label = f"file {name!r}"
    ref_file = _find_file(reference, name)
    cand_file = _find_file(candidate, name)
    if ref_file is None:
        return Comparison(False, f"{roles.reference} wrote no output file {name!r}", 0)
    if cand_file is None:
        return Comparison(False, f"{roles.candidate} wrote no output file {name!r}", 0)
    limit = oracle.max_output_file_bytes
    for role, output in ((roles.reference, ref_file), (roles.candidate, cand_file)):
        # The run stage keeps one byte past the limit so that "over" is visible here.
        if len(output.content) > limit:
            return Comparison(
                False, f"{role} {label} is larger than max_output_file_bytes ({limit} bytes)", 0
            )
    dtype = dict(oracle.binary_dtypes).get(name)
    if dtype is not None:
        return _compare_binary_array(
            ref_file.content, cand_file.content, dtype, label, tolerance, roles
        )
    ref_text = _decode(ref_file.content)
    cand_text = _decode(cand_file.content)
    if isinstance(ref_text, int):
        return _compare_bytes(ref_file.content, cand_file.content, label, roles)
    if isinstance(cand_text, int):
        return Comparison(
            False,
            f"{roles.candidate} {label} is not UTF-8 text (bad byte at offset {cand_text}), "
            f"but the {roles.reference}'s is",
            0,
        )
    return compare_text(ref_text, cand_text, tolerance, oracle.mask, label, roles)


def _decode(content: bytes) -> str | int:
    """The text, or the offset of the first byte that is not valid UTF-8."""
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start


def _compare_bytes(reference: bytes, candidate: bytes, label: str, roles: Roles) -> Comparison:
    if reference == candidate:
        return Comparison(True, "", 0)
    shorter = min(len(reference), len(candidate))
    ref_bytes = np.frombuffer(reference, dtype=np.uint8, count=shorter)
    cand_bytes = np.frombuffer(candidate, dtype=np.uint8, count=shorter)
    differing = np.flatnonzero(ref_bytes != cand_bytes)
    offset = int(differing[0]) if differing.size else shorter
    return Comparison(
        False,
        f"{label} is not UTF-8 text, so it is compared byte for byte: {roles.candidate} differs "
        f"from {roles.reference} at byte {offset} ({len(candidate)} vs {len(reference)} bytes); "
        "declare it in binary_dtypes to compare it as numbers",
        0,
    )


def _compare_binary_array(
    reference: bytes,
    candidate: bytes,
    dtype: str,
    label: str,
    tolerance: Tolerance,
    roles: Roles,
) -> Comparison:
    numpy_dtype = np.dtype(BINARY_DTYPES[dtype])
    for role, content in ((roles.reference, reference), (roles.candidate, candidate)):
        if len(content) % numpy_dtype.itemsize:
            return Comparison(
                False,
                f"{role} {label} has {len(content)} bytes, not a whole number of {dtype} values",
                0,
            )
    return compare_arrays(
        np.frombuffer(reference, dtype=numpy_dtype),
        np.frombuffer(candidate, dtype=numpy_dtype),
        tolerance,
        f"{label} ({dtype})",
        roles,
    )


# --------------------------------------------------------------------------------------------------
# The app's own check, failures, warnings


def read_self_check(command: CommandResult, oracle: OracleSpec) -> tuple[bool | None, str]:
    """The app's own verdict from its stdout and stderr lines, and a reason when it failed.

    False when `self_check_fail` matches a line or `self_check_pass` is set and matches none; True
    when `self_check_pass` matches; None when neither pattern decides.
    """
    out_numbers, out_lines = stripped_lines(command.stdout)
    err_numbers, err_lines = stripped_lines(command.stderr)
    lines = out_lines + err_lines

    def where(index: int) -> str:
        if index < len(out_lines):
            return f"stdout line {out_numbers[index]}"
        return f"stderr line {err_numbers[index - len(out_lines)]}"

    if oracle.self_check_fail:
        index = first_matching_line(lines, oracle.self_check_fail, "self-check pattern")
        if index is not None:
            return False, (
                f"the app's own check failed: {where(index)} {quote_line(lines[index])} "
                f"matches self_check_fail {oracle.self_check_fail!r}"
            )
    if oracle.self_check_pass:
        if first_matching_line(lines, oracle.self_check_pass, "self-check pattern") is None:
            return False, (
                f"the app did not report its own success: no line of stdout or stderr matches "
                f"self_check_pass {oracle.self_check_pass!r}"
            )
        return True, ""
    return None, ""


def _describe_failure(command: CommandResult) -> str:
    kind = command.failure.value if command.failure is not None else "unknown failure"
    detail = command.failure_detail
    if not detail and command.returncode is not None:
        detail = f"exit status {command.returncode}"
    return f"command failed ({kind})" + (f": {detail}" if detail else "")


def _fail(input_name: str, reason: str) -> Verdict:
    return Verdict(ok=False, input_name=input_name, reason=reason)


def reference_warnings(reference: RunResult, oracle: OracleSpec) -> tuple[str, ...]:
    """Weaknesses of a reference output as an oracle, for the baseline record; not failures.

    A reference with NaN or infinite values is allowed (a candidate must reproduce them in the same
    places), and so is one with no numbers (only its text is compared), but both are worth a look.
    """
    validate_oracle(oracle)
    texts: list[tuple[str, str]] = []
    arrays: list[tuple[str, NDArray[np.float64]]] = []
    if oracle.compare in ("stdout", "both"):
        texts.append(("stdout", reference.command.stdout))
    if oracle.compare in ("files", "both"):
        dtypes = dict(oracle.binary_dtypes)
        for file_name in oracle.output_files:
            output = _find_file(reference, file_name)
            if output is None:
                continue
            if file_name in dtypes:
                numpy_dtype = np.dtype(BINARY_DTYPES[dtypes[file_name]])
                usable = len(output.content) - len(output.content) % numpy_dtype.itemsize
                values = np.frombuffer(output.content[:usable], dtype=numpy_dtype)
                arrays.append((f"file {file_name!r}", values.astype(np.float64)))
            elif isinstance(text := _decode(output.content), str):
                texts.append((f"file {file_name!r}", text))
    for label, text in texts:
        numbers = NUMBER_RE.findall("\n".join(keep_lines(text, oracle.mask).normalized))
        arrays.append((label, np.fromiter(map(float, numbers), dtype=np.float64)))
    warnings = []
    for label, values in arrays:
        if values.size == 0:
            warnings.append(f"reference {label} has no numbers: only its text is compared")
            continue
        nan_count = int(np.isnan(values).sum())
        inf_count = int(np.isinf(values).sum())
        if nan_count or inf_count:
            warnings.append(
                f"reference {label} has {nan_count} NaN and {inf_count} infinite values out of "
                f"{values.size}: a candidate must reproduce them in the same places"
            )
    return tuple(warnings)
