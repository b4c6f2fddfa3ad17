"""Screen stage: deterministic checks on a candidate's source before anything is built.

Two checks: the edit scope (only the manifest's editable files may come back) and a deny-list of
regular expressions for things refactored code has no business doing (starting programs, touching
clocks or power limits, overriding timers, reaching outside the build directory, printing a new
verdict line). This is a first line of defence, not a proof: the harness's output comparison,
held-out inputs and the red-team suite (a later issue) do the rest. docs/prompts.md lists the
rules. The table is data: a later issue extends `DENY_RULES`.
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
_MAX_REPORTED = 5


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
        r"\b(?:setenv|putenv|unsetenv|clearenv)\s*\(",
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
        rf"\b{_TIMER_NAMES}\s*\([^;{{}}()]*\)\s*(?:noexcept\s*)?(?:throw\s*\(\s*\)\s*)?\{{"
        rf"|^[ \t]*#[ \t]*(?:define|undef)[ \t]+{_TIMER_NAMES}\b",
        "defines a timer or energy function (or a macro of that name), so readings would be fake",
    ),
    DenyRule(
        "path-outside-directory",
        r"^/[\w.~-]|(?:^|/)\.\.(?:/|$)",
        "a file path outside the build directory (absolute, or through ..)",
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
    original: Sequence[SourceFile], candidate: Sequence[SourceFile], editable: Sequence[str]
) -> ScreenResult:
    """Check the edit scope and the deny-list; `reason` names each rule, file and line that failed.

    `original` holds the files as they were: a match on a line (or string literal) that the
    original file of the same name already has, matched by the same rule, is not held against the
    candidate.
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
    reason = "; ".join(problems[:_MAX_REPORTED])
    if len(problems) > _MAX_REPORTED:
        reason += f"; and {len(problems) - _MAX_REPORTED} more"
    return ScreenResult(
        ok=not problems,
        reason=reason,
        rules_checked=(EDIT_SCOPE_RULE, *(rule.name for rule in DENY_RULES)),
    )


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
