"""Extract stage: find the complete editable files in an LLM answer, or say why there are none.

Prompts ask for each file in a fenced block whose info line names it ("```cpp kernels.cpp").
Answers stray from that: thinking sections, wrong or missing language tags, `~~~` fences, the
file named on the line before the block, several blocks (the original echoed, then the new one),
snippets, diffs, no fences at all, answers cut off at the token limit. The rules, in order, are in
docs/prompts.md. File names are never invented: only the editable files can come out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lassi_hpc.records import SourceFile
from lassi_hpc.stages.c_source import top_level_functions


@dataclass(frozen=True)
class Extraction:
    """The files an answer holds, only those that differ from the original.

    `files` empty means no usable code; `note` says how the code was found, or why none was.
    """

    files: tuple[SourceFile, ...]
    note: str


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block of an answer; `index` is its 1-based position among the answer's blocks.

    `named` is the editable file the block is attributed to ("" when none or ambiguous),
    `named_by` says how ("info line", "preceding line", "first-line comment"); `other_file` is a
    non-editable file name on the info line, which rules the block out.
    """

    index: int
    info: str
    text: str
    closed: bool
    named: str = ""
    named_by: str = ""
    other_file: str = ""


_TAG = r"(?:think|thinking|reasoning)"
_THINK_PAIR_RE = re.compile(rf"<({_TAG})>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_THINK_CLOSE_RE = re.compile(rf"</{_TAG}\s*>", re.IGNORECASE)
_THINK_OPEN_RE = re.compile(rf"<{_TAG}>", re.IGNORECASE)

_FENCE_OPEN_RE = re.compile(r"^[ \t]{0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>.*?)[ \t]*$")
_SOURCE_NAME_RE = re.compile(
    r"(?<![\w./-])[\w./-]*\w\.(?:c|cc|cpp|cxx|cu|cuh|h|hh|hpp|hxx|hip|inl|f90|f)(?![\w-]|\.\w)",
    re.IGNORECASE,
)
_DIFF_HUNK_RE = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@", re.MULTILINE)
_DIFF_HEADER_RE = re.compile(r"^--- \S.*\n\+\+\+ \S", re.MULTILINE)
_CODE_START_RE = re.compile(r"^\s*(?:#|//|/\*|\*|[{}]|template\b|namespace\b|extern\b)")
# Lines a preceding-line or first-line name may come from are short; prose paragraphs are not.
_NAMING_LINE_CHARS = 200
_PRECEDING_LINES = 3


def extract_files(
    answer: str, editable: Sequence[SourceFile], finish_reason: str = "stop"
) -> Extraction:
    """The editable files in `answer`, compared with the originals in `editable`.

    `finish_reason` is the server's: with "length", a code block or thinking section left open
    means the answer was cut off and nothing in it is used. Files identical to the original are
    left out; when that leaves none, the note says there was no change.
    """
    if not answer.strip():
        return Extraction((), "empty answer")
    truncated = finish_reason == "length"
    visible, thinking_open = strip_thinking(answer)
    if thinking_open and truncated:
        return Extraction((), "truncated: the token limit was reached inside a thinking section")
    if not visible.strip():
        what = "an unclosed thinking section" if thinking_open else "a thinking section"
        return Extraction((), f"no code: the answer holds only {what}")
    names = tuple(f.name for f in editable)
    blocks = code_blocks(visible, names)
    if truncated:
        open_blocks = [b for b in blocks if not b.closed]
        if open_blocks:
            return Extraction(
                (),
                f"truncated: the token limit was reached inside code block {open_blocks[0].index}"
                f" of {len(blocks)}",
            )
        if not blocks:
            return Extraction((), "truncated: the token limit was reached before any code block")
    if not blocks:
        return _from_unfenced(visible, editable)
    return _from_blocks(blocks, editable)


def strip_thinking(answer: str) -> tuple[str, bool]:
    """`answer` without <think>...</think> sections (also <thinking>, <reasoning>).

    A closing tag without an opening one means the prompt opened the section: everything before
    it goes. An opening tag never closed runs to the end: it goes too, and the flag says so.
    """
    text = _THINK_PAIR_RE.sub("", answer)
    closes = list(_THINK_CLOSE_RE.finditer(text))
    if closes:
        text = text[closes[-1].end() :]
    opened = _THINK_OPEN_RE.search(text)
    if opened is not None:
        return text[: opened.start()], True
    return text, False


def code_blocks(text: str, editable_names: Sequence[str] = ()) -> tuple[CodeBlock, ...]:
    """The fenced blocks (``` or ~~~, any length, any info line) of `text`, in order.

    A block still open at the end of the text is returned with `closed` False. Each block is
    attributed to at most one of `editable_names`, from its info line, else from the nearest
    non-blank line before it, else from a first line that is only a comment naming the file.
    """
    lines = text.splitlines()
    blocks: list[CodeBlock] = []
    prose: list[str] = []  # lines since the previous block, for preceding-line names
    i = 0
    while i < len(lines):
        opening = _FENCE_OPEN_RE.match(lines[i])
        if opening is None:
            prose.append(lines[i])
            i += 1
            continue
        fence = opening.group("fence")
        closing = re.compile(rf"^[ \t]{{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body: list[str] = []
        i += 1
        while i < len(lines) and not closing.match(lines[i]):
            body.append(lines[i])
            i += 1
        closed = i < len(lines)
        i += 1
        info = opening.group("info")
        blocks.append(
            _attribute(len(blocks) + 1, info, body, closed, _preceding(prose), editable_names)
        )
        prose = []
    return tuple(blocks)


def _preceding(prose: list[str]) -> str:
    """The nearest non-blank line of `prose` if it lies within a few lines of the block."""
    for line in reversed(prose[-_PRECEDING_LINES:]):
        if line.strip():
            return line if len(line) <= _NAMING_LINE_CHARS else ""
    return ""


def _attribute(
    index: int,
    info: str,
    body: list[str],
    closed: bool,
    preceding: str,
    editable_names: Sequence[str],
) -> CodeBlock:
    text = "\n".join(body) + "\n" if body else ""
    on_info = _names_mentioned(info, editable_names)
    if len(on_info) == 1:
        return CodeBlock(index, info, text, closed, on_info[0], "info line")
    others = [m.group(0) for m in _SOURCE_NAME_RE.finditer(info)]
    if not on_info and others:
        return CodeBlock(index, info, text, closed, other_file=others[0])
    if on_info:  # several editable files on one info line: no attribution
        return CodeBlock(index, info, text, closed)
    before = _names_mentioned(preceding, editable_names)
    if len(before) == 1:
        return CodeBlock(index, info, text, closed, before[0], "preceding line")
    first = next((line for line in body if line.strip()), "")
    comment = re.fullmatch(
        r"\s*(?://+|/\*+)\s*(?:file(?:name)?\s*:\s*)?`?(\S+?)`?\s*(?:\*+/)?\s*",
        first,
        re.IGNORECASE,
    )
    if comment is not None:
        named = _names_mentioned(comment.group(1), editable_names)
        if len(named) == 1:
            return CodeBlock(index, info, text, closed, named[0], "first-line comment")
    return CodeBlock(index, info, text, closed)


def _names_mentioned(text: str, names: Sequence[str]) -> list[str]:
    """Which of `names` appear in `text` as a whole file name (a leading directory is allowed)."""
    found = []
    for name in names:
        pattern = rf"(?<![\w./-])(?:[\w.-]+/)*{re.escape(name)}(?![\w-]|\.\w)"
        if re.search(pattern, text):
            found.append(name)
    return found


# ------------------------------------------------------------------------------------------------
# Choosing blocks


@dataclass(frozen=True)
class _Choice:
    text: str
    how: str  # for the note; "" when nothing was chosen
    why_not: str = ""  # why nothing was chosen


def _from_blocks(blocks: tuple[CodeBlock, ...], editable: Sequence[SourceFile]) -> Extraction:
    choices = {f.name: _choose(f, blocks, single=len(editable) == 1) for f in editable}
    return _result(editable, choices)


def _choose(original: SourceFile, blocks: tuple[CodeBlock, ...], *, single: bool) -> _Choice:
    count = len(blocks)
    named = [b for b in blocks if b.named == original.name]
    if named:
        rejected: list[str] = []
        for block in reversed(named):  # a later block is the model's final word
            problem = _not_a_file(block.text, original.text)
            if not problem:
                return _Choice(
                    block.text,
                    f"from block {block.index} of {count} (named on its {block.named_by})",
                )
            rejected.append(f"block {block.index}: {problem}")
        return _Choice("", "", "; ".join(reversed(rejected)))
    if not single:
        return _Choice("", "", "no block names it")
    unnamed = [b for b in blocks if not b.named and not b.other_file]
    if not unnamed:
        others = sorted({b.other_file or b.named for b in blocks})
        return _Choice("", "", f"the code blocks name only other files ({', '.join(others)})")
    wanted = top_level_functions(original.text)
    best: tuple[int, int, CodeBlock] | None = None
    problems: list[str] = []
    for block in unnamed:
        problem = _not_a_file(block.text, original.text)
        if problem:
            problems.append(f"block {block.index}: {problem}")
            continue
        shared = len(set(wanted) & set(top_level_functions(block.text)))
        if best is None or (shared, block.index) > (best[0], best[1]):
            best = (shared, block.index, block)
    if best is None:
        return _Choice("", "", "; ".join(problems))
    shared, _, block = best
    how = f"from block {block.index} of {count} (unnamed"
    how += f"; defines {shared} of the original's {len(wanted)} functions)" if wanted else ")"
    return _Choice(block.text, how)


def _not_a_file(text: str, original_text: str) -> str:
    """Why `text` cannot be the whole file `original_text` was, or "" when it can.

    A diff is not a file. A block defining at most half of the original's top-level functions is
    a fragment; without functions to compare, a block under half the original's line count is.
    """
    if not text.strip():
        return "empty block"
    if _DIFF_HUNK_RE.search(text) or _DIFF_HEADER_RE.search(text):
        return "a diff, not a whole file"
    wanted = top_level_functions(original_text)
    if wanted:
        defined = set(top_level_functions(text))
        present = [name for name in wanted if name in defined]
        if 2 * len(present) <= len(wanted):
            missing = [name for name in wanted if name not in defined]
            return (
                f"a fragment: defines {len(present)} of the original's {len(wanted)} top-level "
                f"functions (missing: {', '.join(missing[:5])})"
            )
        return ""
    lines = sum(1 for line in text.splitlines() if line.strip())
    needed = sum(1 for line in original_text.splitlines() if line.strip())
    if 2 * lines < needed:
        return f"a fragment: {lines} lines where the original has {needed}"
    return ""


def _from_unfenced(text: str, editable: Sequence[SourceFile]) -> Extraction:
    """No fences: the whole answer, less prose around it, if it looks like the one editable file."""
    if len(editable) != 1:
        return Extraction((), "no code block found")
    original = editable[0]
    lines = text.strip("\n").splitlines()
    start = 0
    while start < len(lines) and _is_prose_or_blank(lines[start]):
        start += 1
    end = len(lines)
    while end > start and _is_prose_or_blank(lines[end - 1]):
        end -= 1
    source = "\n".join(lines[start:end]) + "\n"
    if "{" not in source and "#include" not in source:
        return Extraction((), "no code block found and the answer does not look like source")
    problem = _not_a_file(source, original.text)
    if problem:
        return Extraction((), f"no code block found; the unfenced answer is {problem}")
    how = f"from the unfenced answer (lines {start + 1} to {end})"
    return _result(editable, {original.name: _Choice(source, how)})


def _is_prose_or_blank(line: str) -> bool:
    """A blank line, or a sentence around code: not code-like, words ending in punctuation or no
    code punctuation at all."""
    stripped = line.strip()
    if not stripped:
        return True
    if _CODE_START_RE.match(stripped):
        return False
    words = len(stripped.split())
    if stripped[-1] in ".:!?" and words >= 3:
        return True
    return words >= 3 and not any(c in stripped for c in ";{}()=<>[]")


def _result(editable: Sequence[SourceFile], choices: dict[str, _Choice]) -> Extraction:
    found: list[SourceFile] = []
    notes: list[str] = []
    unchanged: list[str] = []
    missing: list[str] = []
    for original in editable:
        choice = choices[original.name]
        if not choice.how:
            missing.append(f"{original.name}: {choice.why_not}")
            continue
        text = choice.text if choice.text.endswith("\n") else choice.text + "\n"
        if _same_code(text, original.text):
            unchanged.append(original.name)
            continue
        found.append(SourceFile(original.name, text))
        notes.append(f"{original.name} {choice.how}")
    if not found:
        if unchanged:
            return Extraction((), f"no change: {', '.join(unchanged)} identical to the original")
        return Extraction((), "no usable code: " + "; ".join(missing))
    if unchanged:
        notes.append(f"unchanged: {', '.join(unchanged)}")
    if missing:
        notes.append("kept as they were: " + "; ".join(missing))
    return Extraction(tuple(found), "; ".join(notes))


def _same_code(a: str, b: str) -> bool:
    """Equal up to trailing whitespace on lines and blank lines at the end."""

    def canonical(text: str) -> list[str]:
        return [line.rstrip() for line in text.rstrip().splitlines()]

    return canonical(a) == canonical(b)
