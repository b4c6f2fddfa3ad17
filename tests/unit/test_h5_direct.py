"""h5_direct makes the objects h5py's high-level API makes: same types, shapes, values, property
lists and link name encodings, so files written either way read the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from h5py import h5l, h5t

from lassi_hpc.store.encoding import TEXT_DTYPE
from lassi_hpc.store.h5_direct import new_dataset, new_group, set_attr

ATTRIBUTE_VALUES: list[Any] = [
    np.int64(-7),
    np.int8(3),
    np.float64(2.5),
    np.bool_(True),
    np.array("tëxt", dtype=TEXT_DTYPE),
    np.array(["a", "bé", ""], dtype=TEXT_DTYPE),
    np.array([], dtype=TEXT_DTYPE),
    np.void(b"\x00\xffraw"),
]

DATASET_VALUES: list[Any] = [
    np.array("a text ü", dtype=TEXT_DTYPE),
    np.frombuffer(b"\x00\x01bytes", dtype=np.dtype("V1")),
    np.array([1.5, 2.5, -3.0]),
    np.array([1, 2, 3], dtype=np.int64),
    np.array([], dtype=np.float64),
    np.arange(6, dtype=np.float64).reshape(2, 3),  # a trace's device rows
]


def _link_encoding(parent: Any, name: str) -> int:
    return int(parent.id.links.get_info(name.encode("utf-8")).cset)


def _same_attribute(ours: Any, theirs: Any, name: str) -> None:
    mine = h5py.h5a.open(ours.id, name.encode())
    other = h5py.h5a.open(theirs.id, name.encode())
    assert mine.get_type() == other.get_type()
    assert mine.shape == other.shape
    expected = theirs.attrs[name]
    found = ours.attrs[name]
    if isinstance(expected, np.ndarray):
        np.testing.assert_array_equal(found, expected)
    else:
        assert found == expected


@pytest.mark.parametrize("value", ATTRIBUTE_VALUES, ids=lambda v: str(np.asarray(v).dtype))
def test_attribute_matches_h5py(tmp_path: Path, value: Any) -> None:
    with h5py.File(tmp_path / "f.h5", "w") as file:
        ours, theirs = file.create_group("ours"), file.create_group("theirs")
        set_attr(ours, "value", value)
        theirs.attrs.create("value", value)
        _same_attribute(ours, theirs, "value")


def test_attribute_is_replaced(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "f.h5", "w") as file:
        set_attr(file, "n", np.int64(1))
        set_attr(file, "n", np.array("now text", dtype=TEXT_DTYPE))
        assert file.attrs["n"] == "now text"
        assert list(file.attrs) == ["n"]


@pytest.mark.parametrize("value", DATASET_VALUES, ids=lambda v: f"{v.dtype}-{v.shape}")
def test_dataset_matches_h5py(tmp_path: Path, value: Any) -> None:
    with h5py.File(tmp_path / "f.h5", "w") as file:
        ours = new_dataset(file, "ours", value)
        theirs = file.create_dataset("theirs", data=value)
        assert ours.id.get_type() == theirs.id.get_type()
        assert ours.shape == theirs.shape
        mine_plist, their_plist = ours.id.get_create_plist(), theirs.id.get_create_plist()
        assert mine_plist.get_layout() == their_plist.get_layout()
        assert mine_plist.get_obj_track_times() == their_plist.get_obj_track_times()
        assert mine_plist.get_nfilters() == their_plist.get_nfilters() == 0
        np.testing.assert_array_equal(ours[()], theirs[()])


@pytest.mark.parametrize(("name", "encoding"), [("plain", h5t.CSET_ASCII), ("nämé", h5t.CSET_UTF8)])
def test_group_matches_h5py(tmp_path: Path, name: str, encoding: int) -> None:
    with h5py.File(tmp_path / "f.h5", "w") as file:
        ours, theirs = file.create_group("ours"), file.create_group("theirs")
        mine = new_group(ours, name)
        other = theirs.create_group(name)
        assert _link_encoding(ours, name) == _link_encoding(theirs, name) == encoding
        assert ours.id.links.get_info(name.encode("utf-8")).type == h5l.TYPE_HARD
        assert (
            mine.id.get_create_plist().get_obj_track_times()
            == other.id.get_create_plist().get_obj_track_times()
        )
        assert isinstance(ours[name], h5py.Group)


def test_existing_group_is_refused(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "f.h5", "w") as file:
        new_group(file, "g")
        with pytest.raises(ValueError):
            new_group(file, "g")
