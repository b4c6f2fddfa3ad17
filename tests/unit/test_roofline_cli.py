"""`lassi-hpc roofline extract | label | dataset` chained on small files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rocprof_support import pass_files

from lassi_hpc.cli import main

DATA = Path(__file__).resolve().parents[1] / "data" / "roofline"

SOURCE = """
__global__ void saxpy(float a, const float* x, float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}
__global__ void matmul(const float* a, const float* b, float* c, int n) {
  float sum = 0.0f;
  for (int k = 0; k < n; k++) sum += a[k] * b[k];
  c[0] = sum;
}
__global__ void unprofiled(int* a) { a[0] = 0; }
"""


def test_extract_label_dataset(tmp_path: Path) -> None:
    source = tmp_path / "app.cu"
    source.write_text(SOURCE)
    kernels = tmp_path / "kernels.jsonl"
    labels = tmp_path / "labels.jsonl"
    assert main(["roofline", "extract", str(source), "-o", str(kernels)]) == 0
    assert main([
        "roofline", "label", str(DATA / "ncu_raw.csv"), "--tool", "ncu",
        "--gpu", "rtx3080-seed-paper", "-o", str(labels),
    ]) == 0  # fmt: skip
    records = [json.loads(line) for line in labels.read_text().splitlines()]
    assert {r["kernel"]: r["label"] for r in records} == {
        "saxpy": "Bandwidth", "matmul": "Compute", "dscale": "Compute"
    }  # fmt: skip
    out = tmp_path / "dataset"
    assert main([
        "roofline", "dataset", str(kernels), str(labels), "--out", str(out),
        "--gpu", "rtx3080-seed-paper", "--validation-fraction", "0.0",
    ]) == 0  # fmt: skip
    train = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert sorted((r["name"], r["label"]) for r in train) == [
        ("matmul", "Compute"), ("saxpy", "Bandwidth")
    ]  # fmt: skip
    assert "SP ops 2097152" in next(r for r in train if r["name"] == "saxpy")["profile_text"]
    chat = (out / "train-chat.jsonl").read_text().splitlines()
    assert json.loads(chat[0])["messages"][-1]["role"] == "assistant"
    assert (out / "dataset.csv").read_text().startswith("name,language,label")


@pytest.mark.parametrize(("gpu", "warned"), [("a100-sxm-80gb", True), ("rtx3080", False)])
def test_label_warns_when_the_profile_is_of_another_gpu(
    gpu: str, warned: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    # ncu_raw.csv was taken on an RTX 3080.
    code = main(["roofline", "label", str(DATA / "ncu_raw.csv"), "--tool", "ncu", "--gpu", gpu])
    assert code == 0
    warning = (
        "warning: profiled on 'NVIDIA GeForce RTX 3080', labelled against the balance points "
        f"of {gpu}"
    )
    assert (warning in capsys.readouterr().err) is warned


def test_label_with_an_unknown_gpu_is_a_clear_error(tmp_path: Path) -> None:
    code = main([
        "roofline", "label", str(DATA / "ncu_raw.csv"), "--tool", "ncu", "--gpu", "v100",
    ])  # fmt: skip
    assert code == 2


def test_label_merges_rocprof_passes_given_as_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passes = []
    for text, name in pass_files():
        (tmp_path / name).write_text(text)
        passes.append(str(tmp_path / name))
    code = main([
        "roofline", "label", *passes, "--tool", "rocprof", "--gpu", "mi100", "--wave-size", "32",
    ])  # fmt: skip
    assert code == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["kernel"] == "stream_triad" and record["gpu"] == "mi100"
    assert record["profile"]["dp_ops"] == 2 * 16_384 * 32  # FMA counts 2, 32 lanes a wave
    assert record["profile"]["dram_bytes"] == (16_384 + 8_192) * 1024


def test_label_refuses_several_ncu_files(capsys: pytest.CaptureFixture[str]) -> None:
    profile = str(DATA / "ncu_raw.csv")
    code = main(["roofline", "label", profile, profile, "--tool", "ncu", "--gpu", "h100-sxm"])
    assert code != 0
    assert "ncu writes one CSV for all its passes" in capsys.readouterr().err
