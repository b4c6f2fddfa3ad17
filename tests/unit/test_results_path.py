"""`status` and `report` find a campaign's results file from its directory, also after
`roofline profile` wrote its roofline.h5 there (its default place)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_roofline_store import variant
from test_store_support import measured_baseline, provenance

from lassi_hpc.cli import main
from lassi_hpc.errors import LassiError
from lassi_hpc.flow.status_view import results_path
from lassi_hpc.store import ResultsWriter
from lassi_hpc.store.roofline_codec import ROOFLINE_FILE_NAME, RooflineStore


def campaign_dir(tmp_path: Path) -> Path:
    results = tmp_path / "demo" / "demo.h5"
    results.parent.mkdir()
    with ResultsWriter.create(results, "demo", provenance()) as writer:
        writer.write_baseline(measured_baseline())
    with RooflineStore.open(results.parent / ROOFLINE_FILE_NAME, "demo") as store:
        store.write_variant(variant())
    return results.parent


def test_the_roofline_file_beside_the_results_is_not_a_second_results_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = campaign_dir(tmp_path)
    assert results_path(directory) == directory / "demo.h5"
    assert main(["status", str(directory)]) == 0
    assert "baselines: 1" in capsys.readouterr().out


def test_two_results_files_are_still_ambiguous(tmp_path: Path) -> None:
    directory = campaign_dir(tmp_path)
    (directory / "other.h5").write_bytes(b"")
    with pytest.raises(LassiError, match="expected one results file"):
        results_path(directory)
