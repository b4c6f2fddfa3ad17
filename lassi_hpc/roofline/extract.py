"""Kernels in C-family sources: CUDA `__global__` functions and OpenMP `target` regions.

Brace matching runs on the masked view of stages/c_source.py, so braces and keywords inside
comments and string literals are ignored; the kernel text itself is cut from the original source.
"""

from __future__ import annotations

import re
from pathlib import Path

from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.records import ExtractedKernel
from lassi_hpc.stages.c_source import line_of, mask_source

_GLOBAL_RE = re.compile(r"\b__global__\b")
_NAME_BEFORE_PAREN_RE = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
_NOT_NAMES = frozenset({"__launch_bounds__", "__attribute__", "__declspec", "alignas"})
# Data-movement and declarative target directives have no kernel of their own.
_TARGET_PRAGMA_RE = re.compile(
    r"^[ \t]*#[ \t]*pragma[ \t]+omp[ \t]+target\b(?![ \t]+(?:data|enter|exit|update)\b)",
    re.MULTILINE,
)
_PRAGMA_LINE_RE = re.compile(r"[ \t]*#(?:[^\n]*\\\n)*[^\n]*\n?")
_FUNCTION_HEAD_RE = re.compile(r"([A-Za-z_]\w*)\s*\([^;{}]*\)[\s\w]*$")
_CONTROL_KEYWORDS = ("for", "while", "if", "switch")


def extract_kernels(text: str, file: str = "<source>") -> list[ExtractedKernel]:
    """CUDA kernels, then OpenMP target regions, each in source order."""
    code = mask_source(text).code
    return _cuda_kernels(text, code, file) + _omp_regions(text, code, file)


def extract_kernels_from_file(path: Path) -> list[ExtractedKernel]:
    """extract_kernels on a file's text; RooflineError naming the file when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise RooflineError(f"cannot read source {path}: {error.strerror}") from None
    return extract_kernels(text, str(path))


def _cuda_kernels(text: str, code: str, file: str) -> list[ExtractedKernel]:
    kernels: list[ExtractedKernel] = []
    for match in _GLOBAL_RE.finditer(code):
        if _in_directive(code, match.start()):
            continue
        name_match = next(
            (
                m
                for m in _NAME_BEFORE_PAREN_RE.finditer(code, match.end())
                if m[1] not in _NOT_NAMES
            ),
            None,
        )
        if name_match is None:
            continue
        close = _matching(code, name_match.end() - 1, "(", ")")
        if close < 0:
            continue
        body_open = _first_of(code, close + 1, "{;")
        if body_open < 0 or code[body_open] == ";":
            continue  # a declaration
        body_close = _matching(code, body_open, "{", "}")
        if body_close < 0:
            raise RooflineError(f"{file}:{line_of(text, body_open)}: kernel body never closes")
        start = _with_template_prefix(code, _line_start(code, match.start()))
        kernels.append(
            ExtractedKernel(
                name=name_match[1],
                language="cuda",
                source=text[start : body_close + 1],
                file=file,
                line=line_of(text, start),
            )
        )
    return kernels


def _omp_regions(text: str, code: str, file: str) -> list[ExtractedKernel]:
    regions: list[ExtractedKernel] = []
    counts: dict[str, int] = {}
    for match in _TARGET_PRAGMA_RE.finditer(code):
        start = match.start()
        position = start
        while True:  # the target pragma and any pragma lines that follow it (teams, loop, ...)
            pragma = _PRAGMA_LINE_RE.match(code, position)
            if pragma is None or not pragma.group(0).strip():
                break
            position = _skip_space(code, pragma.end())
        end = _statement_end(code, position)
        if end < 0:
            raise RooflineError(f"{file}:{line_of(text, start)}: target region never ends")
        function = _enclosing_function(code, start)
        counts[function] = counts.get(function, 0) + 1
        regions.append(
            ExtractedKernel(
                name=f"{function}:omp_target{counts[function]}",
                language="omp",
                source=text[start:end].rstrip() + "\n",
                file=file,
                line=line_of(text, start),
            )
        )
    return regions


def _statement_end(code: str, start: int) -> int:
    """Offset just past the statement at `start` (a block, a control statement with its body,
    or an expression up to its ';'); -1 when it never ends."""
    i = _skip_space(code, start)
    if i >= len(code):
        return -1
    if code[i] == "{":
        close = _matching(code, i, "{", "}")
        return -1 if close < 0 else close + 1
    if code[i] == "#":  # a nested pragma line (omp loop inside the region) precedes a statement
        pragma = _PRAGMA_LINE_RE.match(code, i)
        return -1 if pragma is None else _statement_end(code, pragma.end())
    keyword = re.match(r"(for|while|if|switch|do)\b", code[i:])
    if keyword is not None and keyword[1] in _CONTROL_KEYWORDS:
        paren = _skip_space(code, i + len(keyword[1]))
        if paren >= len(code) or code[paren] != "(":
            return -1
        close = _matching(code, paren, "(", ")")
        if close < 0:
            return -1
        end = _statement_end(code, close + 1)
        if keyword[1] == "if" and end > 0:
            after = _skip_space(code, end)
            if re.match(r"else\b", code[after:]):
                return _statement_end(code, after + 4)
        return end
    if keyword is not None and keyword[1] == "do":
        body_end = _statement_end(code, i + 2)
        semicolon = _first_of(code, body_end, ";") if body_end >= 0 else -1
        return -1 if semicolon < 0 else semicolon + 1
    semicolon = _first_of(code, i, ";")
    return -1 if semicolon < 0 else semicolon + 1


def _matching(code: str, open_index: int, opener: str, closer: str) -> int:
    depth = 0
    for i in range(open_index, len(code)):
        if code[i] == opener:
            depth += 1
        elif code[i] == closer:
            depth -= 1
            if depth == 0:
                return i
    return -1


def _first_of(code: str, start: int, characters: str) -> int:
    for i in range(start, len(code)):
        if code[i] in characters:
            return i
    return -1


def _skip_space(code: str, i: int) -> int:
    while i < len(code) and code[i].isspace():
        i += 1
    return i


def _line_start(code: str, offset: int) -> int:
    return code.rfind("\n", 0, offset) + 1


def _in_directive(code: str, offset: int) -> bool:
    return code[_line_start(code, offset) : offset].lstrip().startswith("#")


def _with_template_prefix(code: str, start: int) -> int:
    """Move `start` back over a `template <...>` line just above the kernel."""
    previous_end = start - 1
    if previous_end <= 0:
        return start
    previous_start = _line_start(code, previous_end)
    if code[previous_start:previous_end].strip().startswith("template"):
        return previous_start
    return start


def _enclosing_function(code: str, offset: int) -> str:
    """The name of the function whose body holds `offset` ("global" at namespace scope)."""
    open_braces: list[int] = []
    for i in range(offset):
        if code[i] == "{":
            open_braces.append(i)
        elif code[i] == "}" and open_braces:
            open_braces.pop()
    for brace in open_braces:
        head = _FUNCTION_HEAD_RE.search(code, max(0, brace - 400), brace)
        if head is not None and head[1] not in _CONTROL_KEYWORDS:
            return head[1]
    return "global"
