"""Prompts, strict answer parsing, scores against hand-computed values, and an evaluation
through the scripted (fake) LLM server."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lassi_hpc.cli import main
from lassi_hpc.roofline.classify import (
    SYSTEM_PROMPT,
    build_messages,
    classify_kernels,
    parse_answer,
)
from lassi_hpc.roofline.dataset import write_jsonl
from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.evaluate import score_by_model_and_scenario, score_predictions
from lassi_hpc.roofline.records import Boundedness, LabelledKernel, Prediction
from lassi_hpc.roofline.specs import gpu_spec
from lassi_hpc.testing.scripted_llm import Reply, ScriptedLLM

SPEC = gpu_spec("a100-sxm-80gb")
CUDA_C = LabelledKernel("mm", "cuda", "__global__ void mm() {}", "Compute", "SP AI 80", "grid 32")
CUDA_B = LabelledKernel("copy", "cuda", "__global__ void copy() {}", "Bandwidth", "SP AI 0.1")
OMP_B = LabelledKernel("add:omp_target1", "omp", "#pragma omp target\nx;", "Bandwidth", "AI 0")


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Compute", "Compute"),
        ("It streams memory, so bandwidth matters... Final answer: Compute", "Compute"),
        ("Lots of compute, yet the answer is **Bandwidth**.", "Bandwidth"),
        ("compute-bound", "Compute"),
        ("It is computed from memory-bound loads", None),
        ("", None),
    ],
)
def test_the_last_label_word_is_the_answer(text: str, label: Boundedness | None) -> None:
    assert parse_answer(text) == label


def test_prompt_shows_device_peaks_launch_and_profile_only_in_the_profile_scenario() -> None:
    system, user = build_messages(CUDA_C, SPEC, "profile")
    assert system.content == SYSTEM_PROMPT
    assert "Kernel: mm (CUDA)" in user.content
    assert "2039.0 GB/s" in user.content and "Launch: grid 32" in user.content
    assert "Profile: SP AI 80" in user.content
    assert "Profile:" not in build_messages(CUDA_C, SPEC, "zero-shot")[1].content


def test_few_shot_examples_match_the_language_and_exclude_the_kernel() -> None:
    messages = build_messages(CUDA_C, SPEC, "few-shot", [CUDA_C, OMP_B, CUDA_B])
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    assert "Kernel: copy" in messages[1].content and messages[2].content == "Bandwidth"
    with pytest.raises(RooflineError, match="no example of language 'omp'"):
        build_messages(OMP_B, SPEC, "few-shot", [CUDA_B])
    with pytest.raises(RooflineError, match="unknown scenario"):
        build_messages(OMP_B, SPEC, "one-shot")


def prediction(truth: Boundedness, predicted: Boundedness | None) -> Prediction:
    return Prediction("k", "cuda", "zero-shot", "m", truth, predicted, "")


def test_scores_match_hand_computed_values() -> None:
    predictions = [
        prediction("Compute", "Compute"),
        prediction("Compute", "Bandwidth"),
        prediction("Compute", "Compute"),
        prediction("Bandwidth", "Bandwidth"),
        prediction("Bandwidth", None),  # unparsed: wrong, taken as Compute in the MCC
    ]
    scores = score_predictions(predictions, samples=500, seed=1)
    assert scores.accuracy == pytest.approx(3 / 5)
    assert scores.recall == {"Compute": pytest.approx(2 / 3), "Bandwidth": pytest.approx(1 / 2)}
    # tp 2, fn 1, tn 1, fp 1: (2*1 - 1*1) / sqrt(3*3*2*2) = 1/6
    assert scores.mcc == pytest.approx(1 / 6)
    assert scores.confusion == ((2, 1, 0), (0, 1, 1))
    assert scores.unparsed == 1
    low, high = scores.accuracy_ci
    assert 0.0 <= low <= scores.accuracy <= high <= 1.0
    assert -1.0 <= scores.mcc_ci[0] <= scores.mcc_ci[1] <= 1.0
    assert score_predictions(predictions, samples=500, seed=1) == scores


def test_perfect_and_inverted_predictions_give_mcc_plus_and_minus_one() -> None:
    right = [prediction("Compute", "Compute"), prediction("Bandwidth", "Bandwidth")] * 3
    wrong = [prediction("Compute", "Bandwidth"), prediction("Bandwidth", "Compute")] * 3
    assert score_predictions(right, samples=100).mcc == pytest.approx(1.0)
    assert score_predictions(wrong, samples=100).mcc == pytest.approx(-1.0)
    one_class = [prediction("Compute", "Compute")] * 4
    assert score_predictions(one_class, samples=100).mcc == 0.0
    assert math.isnan(score_predictions(one_class, samples=100).recall["Bandwidth"])


def test_evaluation_through_the_scripted_llm_server() -> None:
    replies: list[Reply | str] = [
        "Reasoning... Compute",
        "Bandwidth",
        Reply(status=400, text="bad request"),
    ]
    kernels = [CUDA_C, CUDA_B, OMP_B]
    with ScriptedLLM(replies) as server:
        predictions = classify_kernels(server.endpoint("chat", retries=0), kernels, SPEC, "profile")
        first_request = server.requests[0]
    assert [p.predicted for p in predictions] == ["Compute", "Bandwidth", None]
    assert predictions[2].error
    assert first_request.messages[0].content == SYSTEM_PROMPT
    scores = score_by_model_and_scenario(predictions, samples=200)
    assert len(scores) == 1
    assert scores[0].accuracy == pytest.approx(2 / 3)
    assert scores[0].model == "scripted-fake"


def test_cli_evaluate_writes_predictions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = tmp_path / "validation.jsonl"
    write_jsonl(dataset, [CUDA_C, CUDA_B])
    with ScriptedLLM(["Compute"]) as server:
        code = main([
            "roofline", "evaluate", str(dataset), "--base-url", server.base_url,
            "--model", "scripted-fake", "--gpu", "a100-sxm-80gb", "--scenario", "zero-shot",
            "--bootstrap", "100", "-o", str(tmp_path / "predictions.jsonl"),
        ])  # fmt: skip
    assert code == 0
    assert "zero-shot: accuracy 0.500" in capsys.readouterr().out
    lines = (tmp_path / "predictions.jsonl").read_text().splitlines()
    assert [json.loads(line)["predicted"] for line in lines] == ["Compute", "Compute"]


@pytest.mark.parametrize(
    ("scenarios", "examples", "message"),
    [
        ([], None, "scenario few-shot needs --examples FILE"),  # the default: all three
        (["zero-shot", "few-shot"], [OMP_B], "no example of language 'cuda' for kernel 'mm'"),
    ],
)
def test_cli_evaluate_refuses_a_few_shot_it_cannot_build_before_asking_anything(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    scenarios: list[str],
    examples: list[LabelledKernel] | None,
    message: str,
) -> None:
    """The other scenarios' answers came first and were lost when few-shot failed late."""
    dataset = tmp_path / "validation.jsonl"
    write_jsonl(dataset, [CUDA_C, CUDA_B])
    options = [arg for scenario in scenarios for arg in ("--scenario", scenario)]
    if examples is not None:
        write_jsonl(tmp_path / "train.jsonl", examples)
        options += ["--examples", str(tmp_path / "train.jsonl")]
    with ScriptedLLM(["Compute"]) as server:
        code = main([
            "roofline", "evaluate", str(dataset), "--base-url", server.base_url,
            "--model", "scripted-fake", "--gpu", "a100-sxm-80gb", *options,
        ])  # fmt: skip
        asked = len(server.requests)
    assert code == 2
    assert message in capsys.readouterr().err
    assert asked == 0


def test_cli_evaluate_refuses_an_empty_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A small dataset's validation split can be empty; evaluate printed nothing and exited 0."""
    dataset = tmp_path / "validation.jsonl"
    dataset.write_text("")
    code = main([
        "roofline", "evaluate", str(dataset), "--base-url", "http://127.0.0.1:9/v1",
        "--model", "m", "--gpu", "a100-sxm-80gb", "--scenario", "zero-shot",
    ])  # fmt: skip
    assert code == 2
    assert "holds no kernels" in capsys.readouterr().err
