"""Strict rendering of `${name}` placeholders in shell templates.

The template language has two forms only: `${name}` is a placeholder and `$$` is a literal `$`
(so shell code in a template writes `$$var`, `$$(cmd)`, `$${var:-x}`). Any other `$` is an error,
which catches a mistyped placeholder before it reaches a cluster. Every placeholder needs a value
and every value must be used. Plain values are shell-quoted; `Raw` values (lines built and
checked in Python: the #SBATCH block, the site admin's setup lines) go in verbatim.

Placeholders belong in plain word positions only: a quoted value inside double quotes or in a
comment is no longer one safe shell word.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from lassi_hpc.errors import LassiError


class TemplateError(LassiError):
    """A template and its values do not match: a placeholder without a value, a value without a
    placeholder, or a `$` that is neither. The message names the template file and line."""


@dataclass(frozen=True)
class Raw:
    """A value written into the script as is (already-built lines), not shell-quoted."""

    text: str


_DOLLAR = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}|)")


def render_template(text: str, values: Mapping[str, str | Raw], where: str) -> str:
    """`text` with each `${name}` replaced by its value and each `$$` by `$`.

    `where` names the template (its file) in errors. Raises TemplateError listing every
    placeholder without a value (with its line), every value no placeholder uses, and every `$`
    that is neither `$$` nor a `${name}` placeholder.
    """
    pieces: list[str] = []
    problems: list[str] = []
    used: set[str] = set()
    position = 0
    for match in _DOLLAR.finditer(text):
        pieces.append(text[position : match.start()])
        position = match.end()
        line = text.count("\n", 0, match.start()) + 1
        name = match.group("name")
        if match.group("escaped") is not None:
            pieces.append("$")
        elif name is None:
            problems.append(
                f"{where}:{line}: a '$' that is neither '$$' (a literal '$') "
                "nor a '${name}' placeholder"
            )
        elif name not in values:
            problems.append(f"{where}:{line}: placeholder ${{{name}}} has no value")
        else:
            used.add(name)
            value = values[name]
            pieces.append(value.text if isinstance(value, Raw) else shlex.quote(value))
    pieces.append(text[position:])
    unused = sorted(set(values) - used)
    if unused:
        problems.append(f"{where}: values given but used by no placeholder: {', '.join(unused)}")
    if problems:
        raise TemplateError("; ".join(problems))
    return "".join(pieces)
