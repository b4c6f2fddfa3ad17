"""The classification dataset: deduplication, class balance per language, a seeded
train/validation split, and export to JSONL, chat-format JSONL and CSV."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from lassi_hpc.records import ChatMessage
from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.records import BOUNDEDNESS, LANGUAGES, ExtractedKernel, LabelledKernel

_T = TypeVar("_T", ExtractedKernel, LabelledKernel)
CSV_COLUMNS = ("name", "language", "label", "file", "launch_text", "profile_text", "source")


def source_fingerprint(source: str) -> str:
    """sha256 of the source with every whitespace run made one space (layout-blind)."""
    normalised = re.sub(r"\s+", " ", source).strip()
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def deduplicate(kernels: Sequence[LabelledKernel]) -> list[LabelledKernel]:
    """The first kernel of each (language, fingerprint), in input order."""
    seen: set[tuple[str, str]] = set()
    kept: list[LabelledKernel] = []
    for kernel in kernels:
        key = (kernel.language, source_fingerprint(kernel.source))
        if key not in seen:
            seen.add(key)
            kept.append(kernel)
    return kept


def balance_classes(kernels: Sequence[LabelledKernel], seed: int) -> list[LabelledKernel]:
    """Per language, every class cut down (at random, seeded) to the size of the smallest class
    of that language; input order is kept. A language with only one class keeps nothing."""
    rng = random.Random(seed)
    chosen: set[int] = set()
    for language in LANGUAGES:
        by_class = {
            label: [i for i, k in enumerate(kernels) if k.language == language and k.label == label]
            for label in BOUNDEDNESS
        }
        size = min(len(members) for members in by_class.values())
        for members in by_class.values():
            chosen.update(rng.sample(members, size))
    return [kernel for i, kernel in enumerate(kernels) if i in chosen]


def split_train_validation(
    kernels: Sequence[LabelledKernel], validation_fraction: float, seed: int
) -> tuple[list[LabelledKernel], list[LabelledKernel]]:
    """(train, validation), stratified by language and class: in each stratum,
    round(fraction x size) kernels drawn with a seeded RNG go to validation. Order is kept."""
    if not 0.0 <= validation_fraction < 1.0:
        raise RooflineError(f"validation fraction {validation_fraction!r} must lie in [0, 1)")
    rng = random.Random(seed)
    validation: set[int] = set()
    for language in LANGUAGES:
        for label in BOUNDEDNESS:
            members = [
                i for i, k in enumerate(kernels) if k.language == language and k.label == label
            ]
            validation.update(rng.sample(members, round(validation_fraction * len(members))))
    train = [k for i, k in enumerate(kernels) if i not in validation]
    return train, [k for i, k in enumerate(kernels) if i in validation]


def write_jsonl(path: Path, kernels: Sequence[LabelledKernel]) -> None:
    """One JSON object per kernel, with the fields of LabelledKernel."""
    _write_lines(path, (json.dumps(asdict(k), ensure_ascii=False) for k in kernels))


def write_chat_jsonl(
    path: Path,
    kernels: Sequence[LabelledKernel],
    messages_of: Callable[[LabelledKernel], tuple[ChatMessage, ...]],
) -> None:
    """The chat fine-tuning format: {"messages": [system, user, assistant]} per kernel, the
    assistant message being the label. `messages_of` gives the prompt messages of a kernel."""
    lines = (
        json.dumps(
            {
                "messages": [
                    *({"role": m.role, "content": m.content} for m in messages_of(kernel)),
                    {"role": "assistant", "content": kernel.label},
                ]
            },
            ensure_ascii=False,
        )
        for kernel in kernels
    )
    _write_lines(path, lines)


def write_csv(path: Path, kernels: Sequence[LabelledKernel]) -> None:
    """A CSV with columns CSV_COLUMNS, one row per kernel (sources keep their newlines, quoted)."""
    try:
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            for kernel in kernels:
                row = asdict(kernel)
                writer.writerow([row[column] for column in CSV_COLUMNS])
    except OSError as error:
        raise RooflineError(f"cannot write {path}: {error.strerror}") from None


def read_labelled_jsonl(path: Path) -> list[LabelledKernel]:
    """Kernels written by write_jsonl; RooflineError naming the file and line otherwise."""
    kernels: list[LabelledKernel] = []
    for number, record in _read_records(path):
        where = f"{path}:{number}"
        if record.get("label") not in BOUNDEDNESS:
            raise RooflineError(
                f"{where}: label {record.get('label')!r} must be one of: {', '.join(BOUNDEDNESS)}"
            )
        kernels.append(_build(LabelledKernel, record, where))
    return kernels


def read_extracted_jsonl(path: Path) -> list[ExtractedKernel]:
    """Kernels written by `lassi-hpc roofline extract`."""
    return [_build(ExtractedKernel, record, f"{path}:{n}") for n, record in _read_records(path)]


def write_extracted_jsonl(path: Path, kernels: Sequence[ExtractedKernel]) -> None:
    """One JSON object per extracted kernel."""
    _write_lines(path, (json.dumps(asdict(k), ensure_ascii=False) for k in kernels))


def _build(cls: type[_T], record: dict[str, Any], where: str) -> _T:
    if record.get("language") not in LANGUAGES:
        raise RooflineError(
            f"{where}: language {record.get('language')!r} must be one of: {', '.join(LANGUAGES)}"
        )
    try:
        return cls(**record)
    except TypeError as error:
        raise RooflineError(f"{where}: not a {cls.__name__}: {error}") from None


def _read_records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise RooflineError(f"cannot read {path}: {error.strerror}") from None
    records: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise RooflineError(f"{path}:{number}: not JSON: {error}") from None
        if not isinstance(record, dict):
            raise RooflineError(f"{path}:{number}: expected a JSON object")
        records.append((number, record))
    return records


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    try:
        with path.open("w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line + "\n")
    except OSError as error:
        raise RooflineError(f"cannot write {path}: {error.strerror}") from None
