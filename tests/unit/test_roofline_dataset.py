"""Dataset: deduplication, class balance per language, seeded split, exports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from lassi_hpc.records import ChatMessage
from lassi_hpc.roofline.dataset import (
    balance_classes,
    deduplicate,
    read_labelled_jsonl,
    split_train_validation,
    write_chat_jsonl,
    write_csv,
    write_jsonl,
)
from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.records import Boundedness, LabelledKernel, Language


def kernel(name: str, language: Language, label: Boundedness, body: str = "") -> LabelledKernel:
    return LabelledKernel(name, language, f"void {name}() {{ {body or name}; }}", label)


def corpus() -> list[LabelledKernel]:
    kernels = [kernel(f"cc{i}", "cuda", "Compute") for i in range(6)]
    kernels += [kernel(f"cb{i}", "cuda", "Bandwidth") for i in range(3)]
    kernels += [kernel(f"oc{i}", "omp", "Compute") for i in range(4)]
    kernels += [kernel(f"ob{i}", "omp", "Bandwidth") for i in range(10)]
    return kernels


def test_deduplication_ignores_layout_and_keeps_the_first() -> None:
    first = LabelledKernel("a", "cuda", "void a() {\n  x = 1;\n}", "Compute")
    copy = LabelledKernel("b", "cuda", "void  a() { x = 1;   }", "Bandwidth")
    other_language = LabelledKernel("c", "omp", first.source, "Compute")
    assert deduplicate([first, copy, other_language]) == [first, other_language]


def test_balance_per_language_is_seeded_and_keeps_order() -> None:
    kept = balance_classes(corpus(), seed=3)
    counts = {(k.language, k.label): 0 for k in kept}
    for k in kept:
        counts[(k.language, k.label)] += 1
    assert counts == {
        ("cuda", "Compute"): 3, ("cuda", "Bandwidth"): 3,
        ("omp", "Compute"): 4, ("omp", "Bandwidth"): 4,
    }  # fmt: skip
    assert kept == balance_classes(corpus(), seed=3)
    assert kept != balance_classes(corpus(), seed=4)
    order = [k.name for k in corpus()]
    assert [order.index(k.name) for k in kept] == sorted(order.index(k.name) for k in kept)


def test_split_is_stratified_and_deterministic() -> None:
    kernels = balance_classes(corpus(), seed=0)
    train, validation = split_train_validation(kernels, 0.25, seed=7)
    assert len(validation) == 1 + 1 + 1 + 1  # round(0.25 * 3) and round(0.25 * 4) per stratum
    assert sorted(k.name for k in train + validation) == sorted(k.name for k in kernels)
    assert (train, validation) == split_train_validation(kernels, 0.25, seed=7)
    with pytest.raises(RooflineError, match="validation fraction"):
        split_train_validation(kernels, 1.0, seed=0)


def test_jsonl_round_trip_chat_format_and_csv(tmp_path: Path) -> None:
    kernels = [kernel("a", "cuda", "Compute"), kernel("b", "omp", "Bandwidth")]
    write_jsonl(tmp_path / "d.jsonl", kernels)
    assert read_labelled_jsonl(tmp_path / "d.jsonl") == kernels

    write_chat_jsonl(
        tmp_path / "chat.jsonl",
        kernels,
        lambda k: (ChatMessage("system", "sys"), ChatMessage("user", k.source)),
    )
    lines = [json.loads(line) for line in (tmp_path / "chat.jsonl").read_text().splitlines()]
    assert [m["role"] for m in lines[0]["messages"]] == ["system", "user", "assistant"]
    assert lines[1]["messages"][-1]["content"] == "Bandwidth"

    write_csv(tmp_path / "d.csv", kernels)
    with (tmp_path / "d.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["name"], r["label"], r["source"]) for r in rows] == [
        ("a", "Compute", kernels[0].source), ("b", "Bandwidth", kernels[1].source)
    ]  # fmt: skip


def test_reading_a_bad_label_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"name": "a", "language": "cuda", "source": "x", "label": "Memory"}\n')
    with pytest.raises(RooflineError, match=r"d.jsonl:1: label 'Memory'"):
        read_labelled_jsonl(path)
