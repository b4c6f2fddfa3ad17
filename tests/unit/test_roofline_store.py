"""The roofline HDF5 file: profiles, labels and evaluations round-trip; older and foreign files;
the "Roofline classification" HTML section built from it; gpu_model to spec mapping."""

from __future__ import annotations

import base64
import math
from html.parser import HTMLParser
from pathlib import Path

import h5py
import pytest

from lassi_hpc.errors import StoreError
from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.evaluate import score_predictions
from lassi_hpc.roofline.gpu_models import spec_for_partition, spec_name_for_gpu_model
from lassi_hpc.roofline.label import label_profile
from lassi_hpc.roofline.records import KernelProfile, Prediction
from lassi_hpc.roofline.report_section import roofline_page, roofline_section_beside
from lassi_hpc.roofline.specs import balance_points, gpu_spec
from lassi_hpc.roofline.variant_records import RooflineEvaluation, VariantRoofline
from lassi_hpc.store.roofline_codec import (
    ROOFLINE_FILE_NAME,
    RooflineStore,
    read_roofline,
)

SPEC = gpu_spec("rtx3080-seed-paper")
PROFILES = (
    KernelProfile("saxpy", 1, 12e-6, 2_097_152, 0, 8_388_608, 12_582_912, "RTX 3080", "(256,1,1)"),
    KernelProfile("saxpy", 2, 10e-6, 2_097_152, 0, 8_388_608, 12_582_912, "RTX 3080"),
    KernelProfile("cached", 1, 3e-6, 1000, 0, 10, 0, "RTX 3080"),
)  # fmt: skip


def variant(app: str = "triad", status: str = "ok") -> VariantRoofline:
    balance = balance_points(SPEC)
    labels = tuple(label_profile(p, balance, SPEC.source) for p in (PROFILES[1], PROFILES[2]))
    return VariantRoofline(
        app=app,
        variant="cuda",
        partition="gpu",
        tool="ncu",
        gpu=SPEC.name,
        status="ok",
        reason="",
        input_name="default",
        profiles=PROFILES,
        labels=labels,
    )


def predictions(model: str, scenario: str) -> tuple[Prediction, ...]:
    rows = [
        ("k1", "Compute", "Compute", "It is Compute"),
        ("k2", "Bandwidth", "Bandwidth", "Bandwidth."),
        ("k3", "Bandwidth", "Compute", "compute"),
        ("k4", "Compute", None, "no idea \x00 \udcff"),  # NUL and a lone surrogate round-trip
    ]
    return tuple(
        Prediction(kernel, "cuda", scenario, model, truth, predicted, answer)  # type: ignore[arg-type]
        for kernel, truth, predicted, answer in rows
    )


def evaluation(model: str = "m/1", scenario: str = "zero-shot") -> RooflineEvaluation:
    found = predictions(model, scenario)
    return RooflineEvaluation(model, scenario, SPEC.name, found, score_predictions(found, 200))


def test_variant_and_evaluation_round_trip(tmp_path: Path) -> None:
    path = tmp_path / ROOFLINE_FILE_NAME
    stored_variant, stored_evaluation = variant(), evaluation()
    with RooflineStore.open(path, "camp") as store:
        store.write_variant(stored_variant)
        store.write_evaluation(stored_evaluation)
    contents = read_roofline(path)
    assert contents.campaign == "camp"
    assert contents.variants == (stored_variant,)
    (read_back,) = contents.evaluations
    assert read_back.predictions == stored_evaluation.predictions
    assert read_back.scores is not None and stored_evaluation.scores is not None
    assert read_back.scores.confusion == stored_evaluation.scores.confusion
    assert read_back.scores.accuracy == pytest.approx(stored_evaluation.scores.accuracy)
    assert read_back.scores.mcc_ci == pytest.approx(stored_evaluation.scores.mcc_ci)
    assert math.isinf(contents.variants[0].labels[1].sp_ai_op_per_byte)  # zero DRAM bytes
    with h5py.File(path, "r") as file:
        group = file["roofline/variants/triad/cuda"]
        assert group["profiles/dram_bytes"].attrs["units"] == "B"
        assert group["labels/sp_ai_op_per_byte"].attrs["units"] == "op/B"
        assert "m%2F1" in file["roofline/evaluations"]


def test_writing_again_replaces_and_appends(tmp_path: Path) -> None:
    path = tmp_path / "r.h5"
    with RooflineStore.open(path, "camp") as store:
        store.write_variant(variant())
    failed = VariantRoofline("triad", "cuda", "gpu", "ncu", SPEC.name, "profile-failed", "boom")
    with RooflineStore.open(path, "other name is ignored") as store:
        store.write_variant(failed)
        store.write_variant(variant("second"))
    contents = read_roofline(path)
    assert contents.campaign == "camp"
    assert {v.app: v.status for v in contents.variants} == {
        "triad": "profile-failed",
        "second": "ok",
    }
    assert contents.evaluations == ()  # a profile-only file has no evaluations group


def test_older_file_without_optional_columns_and_scores_reads(tmp_path: Path) -> None:
    path = tmp_path / "r.h5"
    with RooflineStore.open(path, "camp") as store:
        store.write_variant(variant())
        store.write_evaluation(evaluation())
    with h5py.File(path, "r+") as file:
        del file["roofline/variants/triad/cuda/profiles/grid_size"]
        del file["roofline/variants/triad/cuda/labels/reason"]
        del file["roofline/evaluations/m%2F1/zero-shot/predictions/error"]
        del file["roofline/evaluations/m%2F1/zero-shot/scores"]
    contents = read_roofline(path)
    assert all(p.grid_size == "" for p in contents.variants[0].profiles)
    assert all(label.reason == "" for label in contents.variants[0].labels)
    assert contents.evaluations[0].scores is None
    # The report scores an evaluation stored without scores itself.
    assert "roofline-scores" in roofline_page(contents)


def test_foreign_and_newer_files_are_refused(tmp_path: Path) -> None:
    results = tmp_path / "campaign.h5"
    with h5py.File(results, "w") as file:
        file.attrs["format"] = "lassi_hpc-results"
    with pytest.raises(StoreError, match="not a lassi_hpc roofline file"):
        read_roofline(results)
    with pytest.raises(StoreError, match="not a lassi_hpc roofline file"):
        RooflineStore.open(results, "x")
    newer = tmp_path / "newer.h5"
    with RooflineStore.open(newer, "camp"):
        pass
    with h5py.File(newer, "r+") as file:
        file.attrs["schema_version"] = 99
    with pytest.raises(StoreError, match="schema_version 99"):
        read_roofline(newer)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.images: list[str] = []
        self.open_tables = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "img":
            self.images.append(str(found.get("src")))
        if tag == "table":
            self.open_tables += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.open_tables -= 1


def test_report_section_beside_a_results_file(tmp_path: Path) -> None:
    results = tmp_path / "camp.h5"
    assert roofline_section_beside(str(results)) == ""  # no roofline file: no section
    with RooflineStore.open(tmp_path / ROOFLINE_FILE_NAME, "camp") as store:
        store.write_variant(variant("<script>"))
        store.write_evaluation(evaluation())
        store.write_evaluation(evaluation(scenario="profile"))
    section = roofline_section_beside(str(results))
    parser = _Collector()
    parser.feed(section)
    parser.close()
    assert parser.open_tables == 0
    assert {"roofline", "roofline-labels", "roofline-scores", "img-roofline-scores"} <= parser.ids
    (image,) = parser.images
    png = base64.b64decode(image.removeprefix("data:image/png;base64,"))
    assert png.startswith(b"\x89PNG")
    assert "<script>" not in section and "&lt;script&gt;" in section
    assert section.count('class="roofline-confusion"') == 2
    assert "Confusion matrix: m/1, profile" in section
    assert "Bandwidth" in section and "MCC" in section


def test_unreadable_roofline_file_gives_a_note_not_a_failure(tmp_path: Path) -> None:
    (tmp_path / ROOFLINE_FILE_NAME).write_bytes(b"not hdf5")
    section = roofline_section_beside(str(tmp_path / "camp.h5"))
    assert "Cannot read" in section


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("A100-SXM4-40GB", "a100-pcie-40gb"),
        ("NVIDIA A100-SXM4-80GB", "a100-sxm-80gb"),
        ("NVIDIA H100 80GB HBM3", "h100-sxm"),
        ("H200", "h200"),
        ("AMD Instinct MI100", "mi100"),
        ("rtx3080-seed-paper", "rtx3080-seed-paper"),
        ("Tesla V100", None),
        ("", None),
    ],
)
def test_gpu_model_to_spec(model: str, name: str | None) -> None:
    assert spec_name_for_gpu_model(model) == name


def test_partition_without_a_known_gpu_model_asks_for_gpu() -> None:
    with pytest.raises(RooflineError, match=r"partition 'gpu' has gpu_model 'Tesla V100'.*--gpu"):
        spec_for_partition("gpu", "Tesla V100")
