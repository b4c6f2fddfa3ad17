"""The line of a failed command's output that most likely says why, for one-line reasons.

A baseline's reason ("input 'default': exit code 1") is what `run`, `status` and the report show;
the full output is in the results file, but a user fixing a campaign's arguments needs the
program's own complaint ("cannot open input.dat") without opening it.
"""

from __future__ import annotations

import re

from lassi_hpc.records import CommandResult

MAX_HINT_CHARS = 160

_ERROR_LINE = re.compile(r"\berror\b", re.IGNORECASE)


def build_hint(command: CommandResult) -> str:
    """The compiler's first error line; else the last line of stderr ("" when there is none).
    make's own closing "Error 2" says nothing of the cause, so the first error line is wanted."""
    for stream in (command.stderr, command.stdout):
        for line in _lines(stream):
            if _ERROR_LINE.search(line) and not line.startswith("make"):
                return _cut(line)
    return _cut(_last(command.stderr))


def run_hint(command: CommandResult) -> str:
    """The last line the program wrote on stderr, else on stdout ("" when it wrote nothing)."""
    return _cut(_last(command.stderr) or _last(command.stdout))


def with_hint(detail: str, hint: str) -> str:
    """`detail`, followed by the output line `hint` when there is one."""
    return f"{detail} (output: {hint!r})" if hint else detail


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _last(text: str) -> str:
    lines = _lines(text)
    return lines[-1] if lines else ""


def _cut(line: str) -> str:
    return line if len(line) <= MAX_HINT_CHARS else line[: MAX_HINT_CHARS - 3] + "..."
