"""Screen stage: deterministic checks on a candidate's source before anything is built.

Two checks: the edit scope (only the manifest's editable files may come back) and a deny-list of
regular expressions for things refactored code has no business doing (starting programs, touching
clocks or power limits, overriding timers, reaching outside the build directory, printing a new
verdict line), plus integer literals equal to the default input's arguments. This is a first line
of defence, not a proof: the harness's output comparison, held-out inputs and the sandbox do the
rest. docs/prompts.md lists the rules; docs/security.md says which defence stops which cheat, and
tests/redteam/ holds the planted cheats that must all be rejected.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from lassi_hpc.records import ScreenResult, SourceFile
from lassi_hpc.stages.c_source import MaskedSource, line_of, mask_source

# Where a rule looks: "code" has comments and literal contents blanked; "code+strings" keeps the
# literals (paths, environment variable names, include lines); "strings" tests each string
# literal's content on its own.
View = Literal["code", "code+strings", "strings"]

EDIT_SCOPE_RULE = "edit-scope"
DEFAULT_INPUT_RULE = "default-input-literal"
# Smaller values (block sizes, bin counts, unroll factors) are ordinary in kernel code.
MIN_SCREENED_ARG_VALUE = 1000
_MAX_REPORTED = 5
_INTEGER_LITERAL_RE = re.compile(
    r"(?<![\w.])(0[xX][0-9a-fA-F']+|0[bB][01']+|\d[\d']*)(?:[uU]?[lL]{0,2}|[lL]{1,2}[uU]?)?(?![\w.])"
)


@dataclass(frozen=True)
class DenyRule:
    """A pattern that must not appear in a candidate (multiline regex) and why it is forbidden."""

    name: str
    pattern: str
    why: str
    view: View = "code"


_TIMER_NAMES = (
    r"(?:gettimeofday|clock_gettime|clock_getres|timespec_get|time|clock|omp_get_wtime"
    r"|omp_get_wtick|MPI_Wtime|cudaEventElapsedTime|hipEventElapsedTime"
    r"|nvmlDeviceGet\w*|rsmi_\w+|amdsmi_get\w*)"
)
_CHRONO_CLOCKS = r"(?:steady_clock|system_clock|high_resolution_clock|file_clock)"
# What may stand between a definition's parameter list and its body: qualifiers, an exception
# specification, attributes, a trailing return type.
_DEFINITION_TAIL = (
    r"(?:(?:noexcept|const|override|final)\s*|throw\s*\(\s*\)\s*"
    r"|__attribute__\s*\(\([^;{}]*\)\)\s*|->\s*[\w:<>,*&\s]+?)*"
)

DENY_RULES: tuple[DenyRule, ...] = (
    DenyRule(
        "process-spawn",
        r"\b(?:system|popen|_popen|fork|vfork|execl|execlp|execle|execv|execvp|execvpe|execve"
        r"|fexecve|posix_spawnp?|wordexp)\s*\(",
        "starts another program",
    ),
    DenyRule(
        "raw-syscall",
        r"\bsyscall\s*\(",
        "a raw system call can do anything the named rules forbid",
    ),
    DenyRule(
        "dynamic-loading",
        r"\b(?:dlopen|dlmopen|dlsym|dlvsym)\s*\(",
        "loads or looks up code at run time, a way to swap timer or energy functions",
    ),
    DenyRule(
        "loader-environment",
        r"\bLD_(?:PRELOAD|AUDIT|LIBRARY_PATH)\b",
        "names a dynamic-loader variable that injects or swaps libraries",
        "code+strings",
    ),
    DenyRule(
        "environment-change",
        # environ / __environ: writing the array directly changes it without any call.
        r"\b(?:setenv|putenv|unsetenv|clearenv)\s*\(|\b(?:_?_?environ)\b",
        "changes the environment of the process or of what it starts",
    ),
    DenyRule(
        "clock-change",
        r"\b(?:clock_settime|settimeofday|adjtime|adjtimex|clock_adjtime|ntp_adjtime|stime)\s*\(",
        "sets the system clock that timers read",
    ),
    DenyRule(
        "power-or-clock-control",
        # NVML setters and resets; rocm_smi / AMD SMI functions with a _set or _reset part.
        # cudaDeviceSetLimit and the like are ordinary runtime calls and do not match.
        r"\bnvml\w*?(?:Set|Reset)\w*\s*\(|\b(?:rsmi|amdsmi)(?:_\w+?)?_(?:set|reset)(?:_\w+)?\s*\(",
        "changes power limits, clocks or the state of the device",
    ),
    DenyRule(
        "smi-tool",
        r"\b(?:nvidia-smi|rocm-smi|amd-smi|cpupower)\b|/sys/class/powercap|/cpufreq/",
        "names a tool or file that reads or changes power and clocks",
        "code+strings",
    ),
    DenyRule(
        "timer-override",
        rf"\b{_TIMER_NAMES}\s*\([^;{{}}()]*\)\s*{_DEFINITION_TAIL}\{{"
        rf"|^[ \t]*#[ \t]*(?:define|undef)[ \t]+{_TIMER_NAMES}\b"
        # std::chrono clocks' now() lives in libstdc++.so: a definition in the program wins at
        # link time, and main.cpp's timer would read it. Reopening std is the way to write one.
        rf"|\b{_CHRONO_CLOCKS}\s*::\s*now\s*\(\s*\)\s*{_DEFINITION_TAIL}\{{"
        r"|\bnamespace\s+std\s*(?:::\s*\w+\s*)*\{",
        "defines a timer or energy function (or a macro of that name), so readings would be fake",
    ),
    DenyRule(
        "symbol-alias",
        r"__attribute__\s*\(\([^;{}]*?\b(?:__)?(?:alias|weakref|ifunc|symver)(?:__)?\b"
        r"|\bgnu::(?:alias|weakref|ifunc|symver)\b"
        r"|^[ \t]*#[ \t]*pragma[ \t]+(?:weak|redefine_extname)\b",
        "gives a function another symbol's name, a way to replace a timer or energy function "
        "without writing its definition",
    ),
    DenyRule(
        "file-access",
        r"\b(?:fopen|fopen64|freopen|fdopen|open|open64|openat|creat|opendir|fdopendir|chdir"
        r"|fchdir|chroot|mkdir|mkdirat|mkfifo|unlink|unlinkat|rename|renameat|symlink|link"
        r"|truncate|shm_open)\s*\("
        r"|\b(?:ifstream|ofstream|fstream|basic_filebuf|filebuf)\b|\bstd::filesystem\b"
        r"|^[ \t]*#[ \t]*include[ \t]*<(?:fstream|filesystem|fcntl\.h|dirent\.h)>",
        "opens, creates or removes files: kernel code has no file I/O of its own, and a file is "
        "how one run would reuse what an earlier one left (paths built at run time get past the "
        "path rule)",
    ),
    DenyRule(
        "detached-work",
        r"\.\s*detach\s*\(\s*\)|\bpthread_detach\s*\(|\bPTHREAD_CREATE_DETACHED\b"
        r"|\b(?:atexit|at_quick_exit|on_exit|__cxa_atexit|quick_exit)\s*\(",
        "work that outlives the call (a detached thread, an exit handler) runs outside the "
        "timed region",
    ),
    DenyRule(
        "path-outside-directory",
        r"^/[\w.~-]|(?:^|/)\.\.(?:/|$)|^~/|^/$",
        "a file path outside the build directory (absolute, through .., or from home)",
        "strings",
    ),
    DenyRule(
        "socket",
        r"\b(?:socket|socketpair|getaddrinfo|gethostbyname|inet_pton|inet_addr)\s*\("
        r"|^[ \t]*#[ \t]*include[ \t]*<(?:sys/socket\.h|sys/un\.h|netinet/[^>]*|arpa/inet\.h"
        r"|netdb\.h)>",
        "network access",
    ),
    DenyRule(
        "inline-asm",
        r"\b(?:asm|__asm__|__asm)\b\s*(?:volatile|__volatile__|goto|inline)?\s*[({]",
        "inline assembly hides what the code does from every other check",
    ),
    DenyRule(
        "include-outside",
        r"^[ \t]*#[ \t]*include[ \t]*(?:[\"<][ \t]*(?:/|[^\">\n]*\.\.)|[A-Za-z_])",
        "includes a file from outside the app directory (absolute, through .., or computed)",
        "code+strings",
    ),
    DenyRule(
        "new-verdict-literal",
        r"\b(?:PASS(?:ED)?|Pass(?:ed)?|SUCCESS(?:FUL)?|Success(?:ful)?)\b",
        "a verdict word the original file did not print; printing PASS from a kernel file is a "
        "known cheat",
        "strings",
    ),
    DenyRule(
        "startup-hook",
        r"__attribute__\s*\(\(\s*(?:constructor|destructor)\b|\.init_array|\.fini_array",
        "runs code before main or after it, outside the timed region",
        "code+strings",
    ),
)


@dataclass(frozen=True)
class DenyHit:
    """A rule matched `file` at `line` (1-based); `excerpt` is the matched text, shortened."""

    rule: DenyRule
    file: str
    line: int
    excerpt: str


def screen_candidate(
    original: Sequence[SourceFile],
    candidate: Sequence[SourceFile],
    editable: Sequence[str],
    default_args: Sequence[str] = (),
) -> ScreenResult:
    """Check the edit scope and the deny-list; `reason` names each rule, file and line that failed.

    `original` holds the files as they were: a match on a line (or string literal) that the
    original file of the same name already has, matched by the same rule, is not held against the
    candidate. `default_args` are the arguments of the inputs the LLM has seen: an integer
    literal equal to one of them (at least MIN_SCREENED_ARG_VALUE) that the original file does not
    have is special-casing the default problem size.
    """
    problems: list[str] = []
    allowed = tuple(editable)
    if not candidate:
        problems.append(f"{EDIT_SCOPE_RULE}: the candidate holds no files")
    seen: set[str] = set()
    for source in candidate:
        if source.name not in allowed:
            problems.append(
                f"{EDIT_SCOPE_RULE}: {source.name!r} is not an editable file "
                f"(editable: {', '.join(allowed) or 'none'})"
            )
        elif source.name in seen:
            problems.append(f"{EDIT_SCOPE_RULE}: {source.name!r} is given more than once")
        seen.add(source.name)
    originals = {f.name: f for f in original}
    for source in candidate:
        before = originals.get(source.name)
        for hit in deny_list_hits(source, before.text if before is not None else ""):
            problems.append(
                f"deny-list rule {hit.rule.name!r} in {hit.file} line {hit.line} "
                f"({hit.excerpt!r}): {hit.rule.why}"
            )
        for line, literal in default_input_literals(
            source, before.text if before is not None else "", default_args
        ):
            problems.append(
                f"{DEFAULT_INPUT_RULE} in {source.name} line {line} ({literal!r}): equals an "
                "argument of the default input; code special-cased to the default problem size "
                "is not a refactoring"
            )
    reason = "; ".join(problems[:_MAX_REPORTED])
    if len(problems) > _MAX_REPORTED:
        reason += f"; and {len(problems) - _MAX_REPORTED} more"
    return ScreenResult(
        ok=not problems,
        reason=reason,
        rules_checked=(
            EDIT_SCOPE_RULE,
            *(rule.name for rule in DENY_RULES),
            *((DEFAULT_INPUT_RULE,) if default_args else ()),
        ),
    )


def default_input_literals(
    source: SourceFile, original_text: str, default_args: Sequence[str]
) -> tuple[tuple[int, str], ...]:
    """(line, literal) for each integer literal of `source` whose value is one of the integer
    `default_args` (at least MIN_SCREENED_ARG_VALUE) and which `original_text` has nowhere."""
    screened = {value for value in map(_integer_value, default_args) if value is not None}
    screened = {value for value in screened if value >= MIN_SCREENED_ARG_VALUE}
    if not screened:
        return ()
    already = {
        _integer_value(m.group(1))
        for m in _INTEGER_LITERAL_RE.finditer(mask_source(original_text).code)
    }
    code = mask_source(source.text).code
    found: list[tuple[int, str]] = []
    for match in _INTEGER_LITERAL_RE.finditer(code):
        value = _integer_value(match.group(1))
        if value in screened and value not in already:
            found.append((line_of(code, match.start()), match.group(0)))
    return tuple(found)


def _integer_value(text: str) -> int | None:
    """The value of a C integer literal or a decimal argument; None if it is neither."""
    digits = text.replace("'", "").rstrip("uUlL")
    try:
        if digits[:2] in ("0x", "0X"):
            return int(digits[2:], 16)
        if digits[:2] in ("0b", "0B"):
            return int(digits[2:], 2)
        return int(digits, 10)
    except ValueError:
        return None


def deny_list_hits(
    source: SourceFile, original_text: str = "", rules: Sequence[DenyRule] = DENY_RULES
) -> tuple[DenyHit, ...]:
    """Every match of `rules` in `source` that `original_text` does not already have, in order
    of rule, then line."""
    masked = mask_source(source.text)
    before = mask_source(original_text)
    hits: list[DenyHit] = []
    for rule in rules:
        regex = re.compile(rule.pattern, re.MULTILINE)
        if rule.view == "strings":
            known = {s.content for s in before.strings if regex.search(s.content)}
            for literal in masked.strings:
                found = regex.search(literal.content)
                if found is not None and literal.content not in known:
                    hits.append(DenyHit(rule, source.name, literal.line, _short(literal.content)))
            continue
        known_lines = _matching_lines(regex, original_text, _view(before, rule.view))
        view = _view(masked, rule.view)
        raw_lines = source.text.split("\n")
        for found in regex.finditer(view):
            line = line_of(view, found.start())
            if _normalised(raw_lines[line - 1]) in known_lines:
                continue
            hits.append(DenyHit(rule, source.name, line, _short(found.group(0))))
    return tuple(hits)


def _view(masked: MaskedSource, view: View) -> str:
    return masked.code if view == "code" else masked.code_and_strings


def _matching_lines(regex: re.Pattern[str], text: str, view: str) -> set[str]:
    """The raw lines of `text` (whitespace-normalised) on which `regex` matches `view`."""
    raw_lines = text.split("\n")
    return {
        _normalised(raw_lines[line_of(view, m.start()) - 1])
        for m in regex.finditer(view)
        if line_of(view, m.start()) <= len(raw_lines)
    }


def _normalised(line: str) -> str:
    return " ".join(line.split())


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."
