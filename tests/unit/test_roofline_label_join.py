"""The dataset's join of extracted kernels with labels: by app and name, never guessing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lassi_hpc.cli import main
from lassi_hpc.roofline.label_join import AmbiguousLabelError, join_labels
from lassi_hpc.roofline.labels_file import LabelsFileError, read_label_lines
from lassi_hpc.roofline.records import ExtractedKernel

DATA = Path(__file__).resolve().parents[1] / "data" / "roofline"


def kernel(name: str, file: str, app: str = "") -> ExtractedKernel:
    return ExtractedKernel(name, "cuda", f"__global__ void {name}() {{}} // {file}", file, 1, app)


def labels_file(tmp_path: Path, *records: dict[str, str]) -> Path:
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_labels_of_two_apps_go_to_their_own_kernel_of_the_same_name(tmp_path: Path) -> None:
    path = labels_file(
        tmp_path,
        {"kernel": "reduce", "app": "sum", "label": "Bandwidth"},
        {"kernel": "reduce", "app": "nbody", "label": "Compute"},
    )
    kernels = [kernel("reduce", "sum/main.cu", "sum"), kernel("reduce", "nbody/k.cu", "nbody")]
    joined = join_labels(kernels, read_label_lines(path), path)
    assert [(k.file, k.label) for k in joined] == [
        ("sum/main.cu", "Bandwidth"), ("nbody/k.cu", "Compute")
    ]  # fmt: skip


def test_a_label_without_an_app_for_a_name_defined_twice_is_refused(tmp_path: Path) -> None:
    path = labels_file(tmp_path, {"kernel": "reduce", "label": "Bandwidth"})
    kernels = [kernel("reduce", "sum/main.cu"), kernel("reduce", "nbody/k.cu")]
    with pytest.raises(AmbiguousLabelError) as caught:
        join_labels(kernels, read_label_lines(path), path)
    message = str(caught.value)
    assert f"{path}:1" in message and "'reduce'" in message
    assert "nbody/k.cu" in message and "sum/main.cu" in message and "--app" in message


def test_a_label_without_an_app_still_joins_a_name_defined_once(tmp_path: Path) -> None:
    path = labels_file(tmp_path, {"kernel": "saxpy", "label": "Bandwidth"})
    kernels = [kernel("saxpy", "a.cu", "axpy"), kernel("other", "a.cu", "axpy")]
    joined = join_labels(kernels, read_label_lines(path), path)
    assert [(k.name, k.label) for k in joined] == [("saxpy", "Bandwidth")]


def test_a_scoped_label_never_reaches_a_kernel_of_another_app(tmp_path: Path) -> None:
    path = labels_file(tmp_path, {"kernel": "reduce", "app": "sum", "label": "Bandwidth"})
    kernels = [kernel("reduce", "nbody/k.cu", "nbody"), kernel("reduce", "x.cu")]
    assert join_labels(kernels, read_label_lines(path), path) == []


def test_conflicting_labels_of_one_kernel_name_both_lines(tmp_path: Path) -> None:
    path = labels_file(
        tmp_path,
        {"kernel": "reduce", "label": "Bandwidth"},
        {"kernel": "saxpy", "label": "Bandwidth"},
        {"kernel": "reduce", "label": "Compute"},
    )
    with pytest.raises(LabelsFileError, match=rf"{path}:3: .*'reduce'.*Compute.*Bandwidth.*:1"):
        join_labels([kernel("reduce", "a.cu")], read_label_lines(path), path)


def test_a_repeated_identical_label_is_kept_once(tmp_path: Path) -> None:
    path = labels_file(
        tmp_path, {"kernel": "k", "label": "Compute"}, {"kernel": "k", "label": "Compute"}
    )
    assert len(join_labels([kernel("k", "a.cu")], read_label_lines(path), path)) == 1


def test_an_app_that_is_not_text_names_the_line(tmp_path: Path) -> None:
    path = labels_file(tmp_path, {"kernel": "k", "label": "Compute", "app": 3})  # type: ignore[dict-item]
    with pytest.raises(LabelsFileError, match=rf"{path}:1: kernel 'k': 'app' must be text"):
        read_label_lines(path)


def test_extract_and_label_with_app_build_a_dataset_of_two_apps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two apps both define `saxpy`; only one was profiled. Without --app the dataset is
    refused; with it, the profiled app's kernel alone is labelled."""
    sources = {}
    for app in ("first", "second"):
        source = tmp_path / app / "main.cu"
        source.parent.mkdir()
        source.write_text(f"__global__ void saxpy(float* x) {{ x[0] += 1.0f; }} // {app}\n")
        sources[app] = source
    kernels = tmp_path / "kernels.jsonl"
    with kernels.open("w") as out:
        for app, source in sources.items():
            part = tmp_path / f"{app}.jsonl"
            assert main(["roofline", "extract", str(source), "--app", app, "-o", str(part)]) == 0
            out.write(part.read_text())
    labels = tmp_path / "labels.jsonl"
    label = ["roofline", "label", str(DATA / "ncu_raw.csv"), "--tool", "ncu"]
    label += ["--gpu", "rtx3080-seed-paper", "-o", str(labels)]
    assert main([*label, "--app", "second"]) == 0
    assert all(json.loads(line)["app"] == "second" for line in labels.read_text().splitlines())
    dataset = ["roofline", "dataset", str(kernels), str(labels), "--gpu", "rtx3080-seed-paper"]
    dataset += ["--validation-fraction", "0.0", "--no-balance", "--out", str(tmp_path / "ds")]
    assert main(dataset) == 0
    train = [
        json.loads(line) for line in (tmp_path / "ds" / "train.jsonl").read_text().splitlines()
    ]
    assert [(r["file"], r["label"]) for r in train] == [(str(sources["second"]), "Bandwidth")]

    assert main(label) == 0  # the same profile labelled without --app
    capsys.readouterr()
    assert main(dataset) == 2  # refused: which app's saxpy was profiled is unknown
    assert "kernel 'saxpy' is labelled without an app" in capsys.readouterr().err
