"""Code extraction from LLM answers: the shapes answers come in, and what is (not) usable."""

from __future__ import annotations

import pytest

from lassi_hpc.records import SourceFile
from lassi_hpc.stages.extract import code_blocks, extract_files, strip_thinking

ORIGINAL = """#include "kernels.h"

__global__ void scale(float* x, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] *= 2.0f;
}

__global__ void shift(float* x, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] += 1.0f;
}

int run(float* x, int n) {
  scale<<<(n + 255) / 256, 256>>>(x, n);
  shift<<<(n + 255) / 256, 256>>>(x, n);
  return cudaDeviceSynchronize();
}
"""
CHANGED = ORIGINAL.replace("2.0f", "2.0f /* fused */")
KERNEL = SourceFile("kernels.cu", ORIGINAL)
HELPER = SourceFile("helper.cu", "int helper(int a) {\n  return a + 1;\n}\n")


def one(answer: str, finish_reason: str = "stop") -> tuple[str | None, str]:
    extraction = extract_files(answer, [KERNEL], finish_reason)
    assert len(extraction.files) <= 1
    if extraction.files:
        assert extraction.files[0].name == "kernels.cu"
        return extraction.files[0].text, extraction.note
    return None, extraction.note


# --------------------------------------------------------------------------------------------------
# Fences and names


@pytest.mark.parametrize(
    "answer",
    [
        f"```cuda kernels.cu\n{CHANGED}```",
        f"```cpp kernels.cu\n{CHANGED}```",  # wrong language tag
        f"```python\n{CHANGED}```",  # wrong tag, unnamed
        f"```\n{CHANGED}```",  # no tag
        f"~~~cuda\n{CHANGED}~~~",
        f"````cuda kernels.cu\n{CHANGED}````",
        f"Here is the new version.\n\n```cuda\n{CHANGED}```\nIt fuses nothing yet.",
        f"```cuda src/kernels.cu\n{CHANGED}```",
    ],
)
def test_fenced_file_is_found_whatever_the_tag(answer: str) -> None:
    text, note = one(answer)
    assert text == CHANGED, note


def test_note_says_how_the_file_was_named() -> None:
    assert one(f"```cuda kernels.cu\n{CHANGED}```")[1] == (
        "kernels.cu from block 1 of 1 (named on its info line)"
    )
    assert one(f"**`kernels.cu`:**\n\n```\n{CHANGED}```")[1] == (
        "kernels.cu from block 1 of 1 (named on its preceding line)"
    )
    assert one(f"```\n// kernels.cu\n{CHANGED}```")[1] == (
        "kernels.cu from block 1 of 1 (named on its first-line comment)"
    )
    assert one(f"```cuda\n{CHANGED}```")[1] == (
        "kernels.cu from block 1 of 1 (unnamed; defines 3 of the original's 3 functions)"
    )


def test_later_block_wins_when_the_original_is_echoed_first() -> None:
    answer = f"Original:\n```cuda\n{ORIGINAL}```\nImproved:\n```cuda\n{CHANGED}```"
    text, note = one(answer)
    assert text == CHANGED
    assert "block 2 of 2" in note


def test_unnamed_block_most_like_the_file_wins_over_fragments() -> None:
    snippet = "__global__ void scale(float* x, int n) {\n  x[0] = 0;\n}\n"
    answer = f"```cuda\n{CHANGED}```\nThe key change:\n```cuda\n{snippet}```"
    text, note = one(answer)
    assert text == CHANGED
    assert "block 1 of 2" in note


def test_fragment_is_not_a_file() -> None:
    snippet = "__global__ void scale(float* x, int n) {\n  x[0] = 0;\n}\n"
    text, note = one(f"```cuda kernels.cu\n{snippet}```")
    assert text is None
    assert "a fragment: defines 1 of the original's 3 top-level functions" in note
    assert "missing: shift, run" in note


def test_diff_is_not_a_file() -> None:
    diff = "--- a/kernels.cu\n+++ b/kernels.cu\n@@ -1,3 +1,3 @@\n-int run() {\n+int run() {\n"
    text, note = one(f"```diff\n{diff}```")
    assert text is None
    assert "a diff, not a whole file" in note


def test_block_naming_another_file_is_never_used() -> None:
    text, note = one(f"```cuda main.cu\n{CHANGED}```")
    assert text is None
    assert "name only other files (main.cu)" in note


def test_several_editable_files_are_matched_by_name() -> None:
    helper_changed = "int helper(int a) {\n  return 1 + a;\n}\n"
    answer = f"```cuda helper.cu\n{helper_changed}```\n\nAnd:\n\n```cuda kernels.cu\n{CHANGED}```\n"
    extraction = extract_files(answer, [KERNEL, HELPER])
    assert extraction.files == (
        SourceFile("kernels.cu", CHANGED),
        SourceFile("helper.cu", helper_changed),
    )


def test_unreturned_editable_file_is_kept_and_noted() -> None:
    extraction = extract_files(f"```cuda kernels.cu\n{CHANGED}```", [KERNEL, HELPER])
    assert extraction.files == (SourceFile("kernels.cu", CHANGED),)
    assert "kept as they were: helper.cu: no block names it" in extraction.note


def test_unnamed_blocks_are_not_guessed_among_several_files() -> None:
    extraction = extract_files(f"```cuda\n{CHANGED}```", [KERNEL, HELPER])
    assert extraction.files == ()
    assert "kernels.cu: no block names it" in extraction.note


def test_info_line_naming_two_editable_files_names_neither() -> None:
    blocks = code_blocks(f"```cuda kernels.cu helper.cu\n{CHANGED}```", ["kernels.cu", "helper.cu"])
    assert blocks[0].named == ""


# --------------------------------------------------------------------------------------------------
# Thinking sections


def test_thinking_sections_are_removed() -> None:
    draft = "```cuda kernels.cu\nint run(float* x, int n) { return 0; }\n```"
    text, _ = one(f"<think>\nDraft:\n{draft}\n</think>\n```cuda kernels.cu\n{CHANGED}```")
    assert text == CHANGED


def test_closing_tag_without_opening_drops_what_precedes_it() -> None:
    text, _ = one(f"I could fuse the kernels...\n</think>\n\n```cuda\n{CHANGED}```")
    assert text == CHANGED
    assert strip_thinking("a</think>b") == ("b", False)


def test_unclosed_thinking_section_holds_no_code() -> None:
    text, note = one(f"<think>\nMaybe this:\n```cuda kernels.cu\n{CHANGED}```")
    assert text is None
    assert note == "no code: the answer holds only an unclosed thinking section"
    assert strip_thinking("<THINK>x") == ("", True)


def test_unclosed_thinking_section_at_the_token_limit_is_truncation() -> None:
    _, note = one("<think>\nLet me think about", finish_reason="length")
    assert note.startswith("truncated")


# --------------------------------------------------------------------------------------------------
# No fences, truncation, nothing


def test_unfenced_source_is_taken_without_the_prose_around_it() -> None:
    text, note = one(f"Sure! Here is the optimized code:\n\n{CHANGED}\nThis should be faster.\n")
    assert text == CHANGED
    assert note.startswith("kernels.cu from the unfenced answer")


def test_unfenced_prose_is_not_code() -> None:
    text, note = one("I would fuse the two kernels and use shared memory.")
    assert text is None
    assert "does not look like source" in note


def test_unclosed_fence_at_the_token_limit_is_not_usable() -> None:
    text, note = one(f"```cuda kernels.cu\n{CHANGED[:200]}", finish_reason="length")
    assert text is None
    assert note == "truncated: the token limit was reached inside code block 1 of 1"


def test_unclosed_fence_after_a_normal_stop_is_accepted() -> None:
    text, _ = one(f"```cuda kernels.cu\n{CHANGED}", finish_reason="stop")
    assert text == CHANGED


def test_closed_block_survives_a_truncated_explanation_after_it() -> None:
    text, _ = one(f"```cuda kernels.cu\n{CHANGED}```\nThis change reduces", finish_reason="length")
    assert text == CHANGED


def test_unfenced_answer_at_the_token_limit_is_not_usable() -> None:
    text, note = one(CHANGED, finish_reason="length")
    assert text is None
    assert note.startswith("truncated")


@pytest.mark.parametrize("answer", ["", "   \n\n"])
def test_empty_answer(answer: str) -> None:
    assert one(answer) == (None, "empty answer")


def test_file_identical_to_the_original_is_no_change() -> None:
    text, note = one(f"```cuda kernels.cu\n{ORIGINAL.rstrip()}   \n\n```")
    assert text is None
    assert note == "no change: kernels.cu identical to the original"


def test_only_changed_files_come_back() -> None:
    helper_same = f"```cuda helper.cu\n{HELPER.text}```\n```cuda kernels.cu\n{CHANGED}```"
    extraction = extract_files(helper_same, [KERNEL, HELPER])
    assert [f.name for f in extraction.files] == ["kernels.cu"]
    assert "unchanged: helper.cu" in extraction.note


def test_extracted_text_ends_with_a_newline() -> None:
    text, _ = one(f"```cuda kernels.cu\n{CHANGED.rstrip()}\n```")
    assert text == CHANGED


def test_original_without_functions_uses_line_count() -> None:
    table = SourceFile("table.h", "".join(f"#define K{i} {i}\n" for i in range(10)))
    extraction = extract_files("```c table.h\n#define K0 1\n```", [table])
    assert extraction.files == ()
    assert "a fragment: 1 lines where the original has 10" in extraction.note
