"""Prompt templates and the prompt functions: strict rendering, and what each prompt carries."""

from __future__ import annotations

import string
from dataclasses import replace

import pytest

from lassi_hpc.llm import prompting
from lassi_hpc.llm.prompting import (
    MeasuredVersion,
    PromptContext,
    PromptError,
    change_prompt,
    describe_measurement,
    device_summary,
    fenced,
    file_block,
    fix_prompt,
    judge_prompt,
    judge_retry_prompt,
    no_code_prompt,
    plan_prompt,
    render,
    summary_prompt,
    template_names,
    template_placeholders,
    trim_log,
    unified_diff,
    vanilla_prompt,
)
from lassi_hpc.records import ChatMessage, SourceFile
from lassi_hpc.stages.extract import extract_files

KERNEL = """#include "kernels.h"

int scale_run(int n, float* x) {
  for (int i = 0; i < n; i++) x[i] *= 2.0f;
  return n;
}
"""
HEADER = "#pragma once\nint scale_run(int n, float* x);\n"
CTX = PromptContext(
    app="scale",
    summary="Doubles every element of a vector.",
    language="omp",
    device="host CPU (OpenMP)",
    compiler_command="make CC=g++",
    run_command="./main 1000000",
    original=(SourceFile("kernels.cpp", KERNEL),),
    fixed_context=(SourceFile("kernels.h", HEADER),),
)
COUNTER = MeasuredVersion(energy_j=8.1, average_power_w=120.0, duration_s=0.0675, method="counter")
ESTIMATE = MeasuredVersion(energy_j=5.0, average_power_w=65.0, duration_s=0.077, method="estimate")


def roles(messages: tuple[ChatMessage, ...]) -> list[str]:
    return [m.role for m in messages]


# --------------------------------------------------------------------------------------------------
# Strict rendering


def test_templates_load_from_the_package() -> None:
    names = template_names()
    for expected in ("system", "vanilla", "summary", "plan", "change", "fix", "no_code", "judge"):
        assert expected in names


@pytest.mark.parametrize("name", template_names())
def test_every_bundled_template_renders_with_all_its_placeholders(name: str) -> None:
    placeholders = template_placeholders(name)
    text = render(name, **{p: f"<{p}>" for p in placeholders})
    for placeholder in placeholders:
        assert f"<{placeholder}>" in text
    assert "$" not in text


def test_render_fills_placeholders() -> None:
    assert render("roofline", roofline_label="compute-bound").strip() == (
        "Roofline class of the main kernel: compute-bound."
    )


def test_missing_value_names_template_and_placeholder() -> None:
    with pytest.raises(PromptError, match=r"'system'.*\$device"):
        render("system", language_name="CUDA C++")


def test_unknown_keyword_names_template_and_keyword() -> None:
    with pytest.raises(PromptError, match=r"'roofline' has no placeholder \$colour"):
        render("roofline", roofline_label="compute-bound", colour="red")


def test_non_text_value_is_refused() -> None:
    with pytest.raises(PromptError, match=r"\$roofline_label must be text, got int"):
        render("roofline", roofline_label=3)  # type: ignore[arg-type]


def test_unknown_template_lists_the_known_ones() -> None:
    with pytest.raises(PromptError, match=r"no prompt template 'vanila'.*vanilla"):
        render("vanila")


def test_values_may_hold_dollar_signs() -> None:
    text = render("roofline", roofline_label="$HOME ${x}")
    assert "$HOME ${x}" in text


def test_malformed_placeholder_in_a_template_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompting, "template_text", lambda name: "costs $ 5 for $item\n")
    with pytest.raises(PromptError, match=r"'bad': malformed placeholder at line 1"):
        render("bad", item="x")


def test_placeholder_left_in_output_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompting, "template_text", lambda name: "a\nkeep $$name and $item\n")
    with pytest.raises(PromptError, match=r"'left': placeholder-like text '\$name' .* line 2"):
        render("left", item="x")


def test_literal_dollar_before_a_number_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompting, "template_text", lambda name: "costs $$5 for $item")
    assert render("price", item="tea") == "costs $5 for tea"


# --------------------------------------------------------------------------------------------------
# Shared pieces


def test_file_block_names_the_file_on_the_info_line() -> None:
    assert file_block(SourceFile("kernels.cu", "int x;\n")) == "```cuda kernels.cu\nint x;\n```"
    assert file_block(SourceFile("k.cpp", "int x;")).startswith("```cpp k.cpp\n")


def test_fence_outgrows_backticks_inside_the_text() -> None:
    block = fenced("a\n````\nb\n", "text")
    assert block.startswith("`````text\n") and block.endswith("\n`````")


def test_trim_log_keeps_head_and_tail_and_says_how_much_was_cut() -> None:
    log = "".join(f"line {i:04d}\n" for i in range(1000))  # 10 000 characters
    trimmed, note = trim_log(log, 600)
    head, marker_and_tail = trimmed.split("[... ")
    cut_text, tail = marker_and_tail.split(" characters cut ...]\n")
    cut = int(cut_text)
    assert head.startswith("line 0000\n") and head.endswith("\n")
    assert tail.endswith("line 0999\n") and tail.startswith("line ")
    assert log == head + log[len(head) : len(head) + cut] + tail
    assert len(head) + len(tail) <= 600
    assert note == f"{len(log) - cut} of {len(log)} characters shown; {cut} cut from the middle"


def test_trim_log_leaves_a_short_log_alone() -> None:
    assert trim_log("error: x\n", 100) == ("error: x\n", "complete")
    with pytest.raises(PromptError, match="positive"):
        trim_log("x", 0)


def test_measurements_carry_units_and_method() -> None:
    text = describe_measurement(COUNTER)
    assert text == (
        "8.1 J per run, 120 W average power, 0.0675 s per run (measured with the energy counter)"
    )
    assert "ESTIMATE" in describe_measurement(ESTIMATE)
    assert "1235 J" in describe_measurement(MeasuredVersion(1234.6, 80.0, 15.4, "sampled-power"))


def test_measurement_with_unknown_method_or_bad_figure_is_refused() -> None:
    with pytest.raises(PromptError, match="'guess' is not one of: counter"):
        describe_measurement(MeasuredVersion(1.0, 1.0, 1.0, "guess"))
    with pytest.raises(PromptError, match="energy_j = nan"):
        describe_measurement(MeasuredVersion(float("nan"), 1.0, 1.0, "counter"))
    with pytest.raises(PromptError, match=r"duration_s = -1\.0"):
        describe_measurement(MeasuredVersion(1.0, 1.0, -1.0, "counter"))


def test_unknown_language_is_refused() -> None:
    ctx = PromptContext("a", "s", "sycl", "gpu", "make", "./main", CTX.original)
    with pytest.raises(PromptError, match="language 'sycl' is not one of: cuda, hip, omp"):
        vanilla_prompt(ctx)


# --------------------------------------------------------------------------------------------------
# The prompts


def test_vanilla_prompt_shows_task_code_and_answer_format() -> None:
    messages = vanilla_prompt(CTX)
    # One editable file: the answer is opened with its fence line, for completions endpoints.
    assert roles(messages) == ["system", "user", "assistant"]
    assert messages[2].content == "```cpp kernels.cpp\n"
    user = messages[1].content
    assert "less energy on host CPU (OpenMP)" in user
    assert "Build command: make CC=g++" in user
    assert "Run command: ./main 1000000" in user
    assert "```cpp kernels.cpp\n" + KERNEL + "```" in user
    assert "```cpp kernels.h\n" + HEADER + "```" in user
    assert "You may change only: kernels.cpp." in user
    assert "C++ with OpenMP" in messages[0].content


def test_answer_in_the_asked_format_is_extracted() -> None:
    """The format the prompts ask for is the one extraction reads first."""
    prompt = vanilla_prompt(CTX)[1].content
    assert "```cpp kernels.cpp\n...the whole file...\n```" in prompt
    changed = KERNEL.replace("2.0f", "2.0f /* doubled */")
    answer = "Sure.\n" + file_block(SourceFile("kernels.cpp", changed))
    extraction = extract_files(answer, CTX.original)
    assert extraction.files == (SourceFile("kernels.cpp", changed),)


def test_summary_prompt_asks_for_prose_only() -> None:
    user = summary_prompt(CTX)[1].content
    assert "no code" in user
    assert KERNEL in user


def test_device_summary_is_text_with_the_baseline() -> None:
    text = device_summary(CTX, ESTIMATE, "2 cores at 3.0 GHz, 65 W TDP\n")
    assert text.splitlines() == [
        "Device: host CPU (OpenMP)",
        "2 cores at 3.0 GHz, 65 W TDP",
        "Original code on the default input (./main 1000000): 5 J per run, 65 W average power, "
        "0.077 s per run (ESTIMATE from a model, not a measurement).",
    ]


def test_plan_prompt_asks_for_ranked_changes_without_code() -> None:
    user = plan_prompt(CTX, "It doubles numbers.", "Device: host CPU")[1].content
    assert "Do not write code" in user
    assert "numbered list of changes" in user
    assert "It doubles numbers." in user and "Device: host CPU" in user
    assert "Roofline" not in user
    labelled = PromptContext(**{**CTX.__dict__, "roofline_label": "bandwidth-bound"})
    assert "main kernel: bandwidth-bound." in plan_prompt(labelled, "s", "d")[1].content


def test_change_prompt_shows_plan_measurements_history_and_current_code() -> None:
    current = (SourceFile("kernels.cpp", KERNEL.replace("x[i] *= 2.0f", "x[i] += x[i]")),)
    user = change_prompt(
        CTX,
        "1. vectorise",
        current,
        COUNTER,
        ESTIMATE,
        3,
        ["iteration 1: 8.1 J, kept", "iteration 2: failed to compile"],
    )[1].content
    assert "Iteration 3: implement the single most impactful change" in user
    assert "- original code: 5 J per run" in user
    assert "- current code: 8.1 J per run" in user
    assert "- iteration 1: 8.1 J, kept\n- iteration 2: failed to compile" in user
    assert "x[i] += x[i]" in user and "x[i] *= 2.0f" not in user
    first = change_prompt(CTX, "1. x", CTX.original, COUNTER, COUNTER, 1, [])[1].content
    assert "- none yet" in first
    with pytest.raises(PromptError, match="start at 1"):
        change_prompt(CTX, "p", CTX.original, COUNTER, COUNTER, 0, [])


def test_fix_prompt_shows_command_trimmed_log_and_whole_files() -> None:
    log = "kernels.cpp:4: error: expected ';'\n" + "note: context\n" * 500 + "make: *** Error 1\n"
    user = fix_prompt(CTX, CTX.original, "build", "make CC=g++", log, 400)[1].content
    assert "failed at the build step. It did not compile." in user
    assert "Command: make CC=g++" in user
    assert "kernels.cpp:4: error: expected ';'" in user
    assert "make: *** Error 1" in user
    assert "characters cut ...]" in user and "cut from the middle" in user
    assert "Fix this error only" in user
    assert KERNEL in user
    with pytest.raises(PromptError, match="fix stage 'link' is not one of: build, run, verify"):
        fix_prompt(CTX, CTX.original, "link", "make", "", 100)


def test_no_code_prompt_says_why_and_asks_again() -> None:
    user = no_code_prompt(CTX, "I would use SIMD here.", "no code block found.")[1].content
    assert "no usable code: no code block found." in user
    assert "I would use SIMD here." in user
    assert "complete file(s)" in user
    assert KERNEL in user


def test_judge_prompt_shows_diff_outputs_measurements_and_json_format() -> None:
    candidate = (SourceFile("kernels.cpp", KERNEL.replace("2.0f", "2.0")),)
    messages = judge_prompt(
        CTX, CTX.original, candidate, "sum: 10\nPASS\n", "sum: 10\nPASS\n", COUNTER, ESTIMATE
    )
    assert roles(messages) == ["system", "user"]
    assert "exactly one JSON object" in messages[0].content
    user = messages[1].content
    assert "-  for (int i = 0; i < n; i++) x[i] *= 2.0f;" in user
    assert "+  for (int i = 0; i < n; i++) x[i] *= 2.0;" in user
    assert "already ran both versions and checked that their outputs match" in user
    assert "special-cases the input size" in user
    assert "moves work outside the timed region" in user
    assert "sum: 10\nPASS" in user
    assert "- original: 8.1 J per run" in user and "- refactored: 5 J per run" in user
    assert '{"verdict": "valid" | "invalid", "reason": "<one sentence>"}' in user


def test_unified_diff_treats_missing_candidate_files_as_unchanged() -> None:
    original = (SourceFile("a.cpp", "int a;\n"), SourceFile("b.cpp", "int b;\n"))
    diff = unified_diff(original, (SourceFile("b.cpp", "int b = 1;"),))
    assert "original/a.cpp" not in diff
    assert "-int b;\n+int b = 1;\n" in diff


def test_judge_retry_continues_the_conversation() -> None:
    first = judge_prompt(CTX, CTX.original, CTX.original, "", "", COUNTER, COUNTER)
    retry = judge_retry_prompt(first, "VALID!", "no JSON object found.")
    assert retry[:2] == first
    assert retry[2] == ChatMessage("assistant", "VALID!")
    assert retry[3].role == "user"
    assert retry[3].content.startswith("Your answer could not be read: no JSON object found.\n")


def test_prompts_are_plain_string_templates() -> None:
    """Users edit the templates: each is a valid string.Template with no stray dollar signs."""
    for name in template_names():
        assert string.Template(prompting.template_text(name)).is_valid(), name


def test_code_prompts_open_the_answer_only_for_a_single_file() -> None:
    two = replace(CTX, original=(*CTX.original, SourceFile("more.cpp", "int f() { return 1; }\n")))
    assert roles(vanilla_prompt(two)) == ["system", "user"]
    for messages in (
        fix_prompt(CTX, CTX.original, "build", "make", "error: x", 500),
        no_code_prompt(CTX, "prose", "no code block found"),
    ):
        assert messages[-1] == ChatMessage("assistant", "```cpp kernels.cpp\n")
