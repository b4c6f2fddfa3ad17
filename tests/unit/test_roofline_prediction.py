"""A predicted roofline label (`[roofline] predict`): the main kernel of the editable sources,
the request, the parsed answer or the reason for none; and the one labels-file reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_store_support import lassi_ee_trial

from lassi_hpc.config.campaign import LLMSection
from lassi_hpc.records import LLMResponse, SourceFile
from lassi_hpc.roofline.classify import SYSTEM_PROMPT
from lassi_hpc.roofline.labels_file import LabelsFileError, read_label_lines
from lassi_hpc.stages.roofline_guidance import RooflineGuidanceError
from lassi_hpc.stages.roofline_prediction import (
    ANSWER_LINE_CHARS,
    main_kernel_or_reason,
    predicted_label,
    prediction_device,
    prediction_request,
)
from lassi_hpc.store.trial_rows import rows_from_summary, summary_json

KERNELS = SourceFile(
    "kernels.cu",
    """__global__ void small(float* x) { x[0] = 1.0f; }

__global__ void big(const float* a, float* b, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    b[i] = a[i] * 2.0f;
  }
}
""",
)
TARGET = SourceFile(
    "add.cpp",
    "void add(double* x, int n) {\n#pragma omp target teams distribute parallel for\n"
    "  for (int i = 0; i < n; i++) x[i] += 1.0;\n}\n",
)


def answer(text: str, error: str = "") -> LLMResponse:
    return LLMResponse(
        text, "stop" if not error else "", "m", "http://fake/v1", 0, 10, 5, 0.1, 1, error
    )


def test_the_main_kernel_is_the_largest_of_all_editable_sources() -> None:
    kernel = main_kernel_or_reason((TARGET, KERNELS))
    assert not isinstance(kernel, str)
    assert (kernel.name, kernel.file) == ("big", "kernels.cu")
    only_target = main_kernel_or_reason((TARGET,))
    assert not isinstance(only_target, str) and only_target.name == "add:omp_target1"
    plain = SourceFile("main.cpp", "int main() { return 0; }\n")
    assert main_kernel_or_reason((plain,)) == (
        "no __global__ function or OpenMP target region in main.cpp"
    )


def test_the_request_is_zero_shot_and_greedy_with_the_kernel_and_device() -> None:
    kernel = main_kernel_or_reason((KERNELS,))
    assert not isinstance(kernel, str)
    device = prediction_device("NVIDIA A100-SXM4-80GB", "ignored")
    assert device.startswith("Device: a100-sxm-80gb") and "Balance points" in device
    assert prediction_device("", "host CPU") == "Device: host CPU."
    request = prediction_request(kernel, device, LLMSection(seed=7, max_tokens=300))
    assert (request.purpose, request.temperature, request.seed, request.max_tokens) == (
        "roofline",
        0.0,
        7,
        300,
    )
    system, user = request.messages
    assert system.content == SYSTEM_PROMPT
    assert "Kernel: big (CUDA)" in user.content and device in user.content
    assert "b[i] = a[i] * 2.0f;" in user.content and "small" not in user.content


@pytest.mark.parametrize(
    ("response", "label", "source", "reason"),
    [
        (answer("Loads dominate.\n\nBandwidth\n"), "bandwidth-bound", "predicted", ""),
        (answer("COMPUTE"), "compute-bound", "predicted", ""),
        (answer("Hard to say."), "", "none", "names neither Compute nor Bandwidth"),
        (answer("", error="HTTP 500: boom\nmore"), "", "none", "request failed: HTTP 500: boom"),
    ],
)
def test_the_answer_gives_a_predicted_label_or_the_reason_for_none(
    response: LLMResponse, label: str, source: str, reason: str
) -> None:
    kernel = main_kernel_or_reason((KERNELS,))
    assert not isinstance(kernel, str)
    predicted = predicted_label(kernel, response)
    assert (predicted.label, predicted.source, predicted.kernel) == (label, source, "big")
    assert reason in predicted.reason and bool(predicted.reason) == bool(reason)
    pairs = dict(predicted.as_pairs(guidance=True))
    assert pairs["roofline_label_source"] == source
    assert pairs["roofline_prediction"] == predicted.prediction
    assert pairs["roofline_prediction_reason"] == predicted.reason


def test_the_stored_answer_line_is_the_last_one_and_short() -> None:
    kernel = main_kernel_or_reason((KERNELS,))
    assert not isinstance(kernel, str)
    predicted = predicted_label(kernel, answer("reasoning\n" + "x" * 1000 + " Compute"))
    assert predicted.label == "compute-bound"
    assert predicted.prediction == ("x" * 1000)[:ANSWER_LINE_CHARS]


def test_one_labels_file_reader_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    good = json.dumps({"kernel": "k", "label": "Compute", "profile_text": "AI 9"})
    path.write_text(good + "\n\n" + json.dumps({"kernel": "k", "label": "Bandwidth"}) + "\n")
    assert [(line.record, line.where) for line in read_label_lines(path)] == [
        ({"kernel": "k", "label": "Compute", "profile_text": "AI 9"}, f"{path}:1"),
        ({"kernel": "k", "label": "Bandwidth"}, f"{path}:3"),
    ]
    path.write_text(good + "\n[1]\n")
    with pytest.raises(LabelsFileError, match=r"labels\.jsonl:2: must be a JSON object"):
        read_label_lines(path)
    assert RooflineGuidanceError is LabelsFileError  # campaign guidance reads through it too
    with pytest.raises(LabelsFileError, match=r"cannot read labels file .*missing\.jsonl"):
        read_label_lines(tmp_path / "missing.jsonl")


def test_a_summary_stored_before_the_roofline_columns_is_still_used() -> None:
    summary = json.loads(summary_json(lassi_ee_trial()))
    for name in ("roofline_guidance", "roofline_label", "roofline_label_source"):
        del summary["trial"][name]
    restored = rows_from_summary(json.dumps(summary))
    assert restored is not None
    row, _ = restored
    assert (row.roofline_guidance, row.roofline_label, row.best_step) == ("", "", 3)
    summary["trial"]["unknown_field"] = 1  # another version's fields: recomputed instead
    assert rows_from_summary(json.dumps(summary)) is None
