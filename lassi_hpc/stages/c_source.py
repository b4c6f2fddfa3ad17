"""A small lexer for C, C++, CUDA and HIP source: comments, string literals, top-level functions.

It is not a parser. It knows enough to blank comments and string literals (so that a rule looking
for `system(` ignores it in a comment or a message) and to list the functions defined at namespace
scope (so that a code block can be recognised as a whole file rather than a snippet). Masked views
keep every character's offset and every newline, so a match in a view has the line number it has in
the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class StringLiteral:
    """A string literal: `content` is its raw text between the quotes (escapes not decoded)."""

    line: int  # 1-based line of the opening quote
    content: str


@dataclass(frozen=True)
class MaskedSource:
    """Views of one source text with the same length and line breaks as the text.

    `code` has comments and the insides of string and character literals blanked (quotes kept);
    `code_and_strings` has only comments blanked. `strings` lists the string literals in order.
    """

    code: str
    code_and_strings: str
    strings: tuple[StringLiteral, ...]


_RAW_STRING_OPEN_RE = re.compile(r'R"([^()\\\s"]{0,16})\(')
_RAW_PREFIXES = frozenset({"R", "u8R", "uR", "UR", "LR"})
_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def line_of(text: str, offset: int) -> int:
    """The 1-based line number of character `offset` in `text`."""
    return text.count("\n", 0, offset) + 1


def mask_source(text: str) -> MaskedSource:
    """Blank comments (both views) and literal contents (the `code` view) of C-family source."""
    code = list(text)
    code_and_strings = list(text)
    strings: list[StringLiteral] = []
    size = len(text)

    def blank(view: list[str], start: int, end: int) -> None:
        for k in range(start, end):
            if view[k] != "\n":
                view[k] = " "

    i = 0
    while i < size:
        char = text[i]
        following = text[i + 1] if i + 1 < size else ""
        if char == "/" and following == "/":
            end = _line_comment_end(text, i)
            blank(code, i, end)
            blank(code_and_strings, i, end)
            i = end
        elif char == "/" and following == "*":
            close = text.find("*/", i + 2)
            end = size if close < 0 else close + 2
            blank(code, i, end)
            blank(code_and_strings, i, end)
            i = end
        elif char == "R" and following == '"' and _identifier_ending_at(text, i) in _RAW_PREFIXES:
            opened = _RAW_STRING_OPEN_RE.match(text, i)
            if opened is None:  # not a valid raw string opener: treat the quote as ordinary
                i += 1
                continue
            closing = ")" + opened.group(1) + '"'
            close = text.find(closing, opened.end())
            content_end = size if close < 0 else close
            strings.append(StringLiteral(line_of(text, i), text[opened.end() : content_end]))
            blank(code, opened.end(), content_end)
            i = size if close < 0 else close + len(closing)
        elif char == '"':
            end = _quoted_end(text, i, '"')
            strings.append(StringLiteral(line_of(text, i), text[i + 1 : end - 1]))
            blank(code, i + 1, end - 1)
            i = end
        elif char == "'" and not _is_digit_separator(text, i):
            end = _quoted_end(text, i, "'")
            blank(code, i + 1, end - 1)
            i = end
        else:
            i += 1
    return MaskedSource("".join(code), "".join(code_and_strings), tuple(strings))


def _line_comment_end(text: str, start: int) -> int:
    """End of a // comment: the newline, unless a backslash continues it onto the next line."""
    i = start
    while True:
        newline = text.find("\n", i)
        if newline < 0:
            return len(text)
        if newline > start and text[newline - 1] == "\\":
            i = newline + 1
            continue
        return newline


def _quoted_end(text: str, start: int, quote: str) -> int:
    """Offset just past the closing quote; an unterminated literal ends at its line's end."""
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == quote:
            return i + 1
        if char == "\n":
            return i + 1
        i += 1
    return len(text) + 1 if text.endswith(quote) else len(text)


def _identifier_ending_at(text: str, end: int) -> str:
    """The run of identifier characters that ends at offset `end` (inclusive)."""
    start = end
    while start > 0 and text[start - 1] in _IDENT_CHARS:
        start -= 1
    return text[start : end + 1]


def _is_digit_separator(text: str, quote: int) -> bool:
    """C++14 digit separators (1'000'000) are apostrophes inside a number, not character quotes."""
    if quote == 0 or text[quote - 1] not in _IDENT_CHARS:
        return False
    start = quote
    while start > 0 and (text[start - 1] in _IDENT_CHARS or text[start - 1] in ".'"):
        start -= 1
    return text[start].isdigit()


# ------------------------------------------------------------------------------------------------
# Functions defined at namespace scope

_NAME_BEFORE_PAREN_RE = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
# What may sit between a parameter list's ")" and the body's "{".
_AFTER_PARAMS_RE = re.compile(
    r"""(?:\s*(?:
        (?:const|noexcept|override|final|volatile|mutable)\b
      | &&? | __attribute__\s*\(\(.*?\)\) | throw\s*\(\s*\) | noexcept\s*\([^)]*\)
      | ->\s*[\w:<>,\s*&]+?(?=\{)
    ))*\s*\{""",
    re.VERBOSE | re.DOTALL,
)
_NOT_FUNCTIONS = frozenset(
    {
        "if", "for", "while", "switch", "catch", "return", "sizeof", "alignof", "decltype",
        "static_assert", "defined", "__attribute__", "__launch_bounds__", "__declspec", "do",
        "else", "case", "new", "delete", "throw", "typeid", "noexcept", "requires",
    }
)  # fmt: skip
# Braces that open these do not start a new scope for our purpose: functions inside them are
# still at namespace scope.
_TRANSPARENT_SCOPE_RE = re.compile(r'(?:\binline\s+)?\bnamespace\b[\w:\s]*$|\bextern\s*"\s*"\s*$')
_DIRECTIVE_RE = re.compile(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", re.MULTILINE)


def top_level_functions(text: str) -> tuple[str, ...]:
    """Names of the functions defined (with a body) at namespace scope, in order, each once.

    Functions inside namespaces and `extern "C"` blocks count; methods defined inside a class body
    and lambdas do not. Preprocessor lines are ignored, so a macro body is never a definition.
    """
    code = _DIRECTIVE_RE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), mask_source(text).code)
    depth = _scope_depths(code)
    names: list[str] = []
    for match in _NAME_BEFORE_PAREN_RE.finditer(code):
        name = match.group(1)
        if name in _NOT_FUNCTIONS or depth[match.start()] != 0 or name in names:
            continue
        close = _matching_paren(code, match.end() - 1)
        if close >= 0 and _AFTER_PARAMS_RE.match(code, close + 1):
            names.append(name)
    return tuple(names)


def _scope_depths(code: str) -> list[int]:
    """Brace depth at each offset, not counting namespace and extern "C" braces."""
    depths = [0] * (len(code) + 1)
    stack: list[bool] = []  # True for a brace that opens a real scope
    depth = 0
    statement_start = 0
    for i, char in enumerate(code):
        depths[i] = depth
        if char == "{":
            real = _TRANSPARENT_SCOPE_RE.search(code, statement_start, i) is None
            stack.append(real)
            depth += real
            statement_start = i + 1
        elif char == "}":
            if stack and stack.pop():
                depth -= 1
            statement_start = i + 1
        elif char == ";":
            statement_start = i + 1
    depths[len(code)] = depth
    return depths


def _matching_paren(code: str, open_index: int) -> int:
    """Offset of the ")" closing the "(" at `open_index`; -1 when it is never closed."""
    level = 0
    for i in range(open_index, len(code)):
        if code[i] == "(":
            level += 1
        elif code[i] == ")":
            level -= 1
            if level == 0:
                return i
        elif code[i] in ";{}":
            return -1
    return -1
