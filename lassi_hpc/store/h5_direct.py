"""Groups, small datasets and attributes created through h5py's low-level API.

A trial is stored as about 70 groups, 65 datasets and 300 attributes. h5py's high-level calls
spend 50-200 µs of Python on each (type conversion, property lists, weak-reference registries),
which made storing a trial take about 40 ms. These helpers make the same HDF5 calls with the
same property lists as h5py 3 does (no object timestamps, names ASCII or UTF-8, intermediate
groups created), with types, dataspaces and property lists built once, so the file's contents
are those the high-level calls write (tests/unit/test_h5_direct.py compares them).

Only what a record needs goes through here: new groups, datasets small enough to stay
contiguous, and attributes. Everything else uses h5py's high-level API.
"""

from __future__ import annotations

from typing import Any, Final

import h5py
import numpy as np
import numpy.typing as npt
from h5py import h5a, h5d, h5g, h5p, h5s, h5t

_SCALAR_SPACE: Final = h5s.create(h5s.SCALAR)
# (file type, memory type) per numpy dtype, as h5py's attrs.create derives them.
_TYPES: dict[np.dtype[Any], tuple[Any, Any]] = {}


def _link_create_plist(encoding: int) -> Any:
    plist = h5p.create(h5p.LINK_CREATE)
    plist.set_create_intermediate_group(True)
    plist.set_char_encoding(encoding)
    return plist


def _untimed(kind: Any) -> Any:
    plist = h5p.create(kind)
    plist.set_obj_track_times(False)
    return plist


_LCPL_ASCII: Final = _link_create_plist(h5t.CSET_ASCII)
_LCPL_UTF8: Final = _link_create_plist(h5t.CSET_UTF8)
_GROUP_PLIST: Final = _untimed(h5p.GROUP_CREATE)
_DATASET_PLIST: Final = _untimed(h5p.DATASET_CREATE)


def _name(name: str) -> tuple[bytes, Any]:
    """`name` encoded as h5py encodes it, with the matching link creation property list."""
    if name.isascii():
        return name.encode("ascii"), _LCPL_ASCII
    return name.encode("utf-8"), _LCPL_UTF8


def _types(dtype: np.dtype[Any]) -> tuple[Any, Any]:
    found = _TYPES.get(dtype)
    if found is None:
        found = (h5t.py_create(dtype, logical=True), h5t.py_create(dtype))
        _TYPES[dtype] = found
    return found


def _space(shape: tuple[int, ...]) -> Any:
    return _SCALAR_SPACE if shape == () else h5s.create_simple(shape)


def set_attr(obj: Any, name: str, value: npt.NDArray[Any] | np.generic) -> None:
    """Attribute `name` of `obj` holds `value` (a numpy scalar or array of the dtype to store),
    replacing an attribute of that name."""
    data = np.asarray(value)
    file_type, memory_type = _types(data.dtype)
    encoded, _ = _name(name)
    with h5py._objects.phil:
        if h5a.exists(obj.id, encoded):
            h5a.delete(obj.id, encoded)
        attribute = h5a.create(obj.id, encoded, file_type, _space(data.shape))
        try:
            attribute.write(data, mtype=memory_type)
        except BaseException:
            attribute.close()
            h5a.delete(obj.id, encoded)
            raise
        attribute.close()


def new_group(parent: Any, name: str) -> h5py.Group:
    """Subgroup `name` of `parent`, which must not exist yet."""
    encoded, link_plist = _name(name)
    with h5py._objects.phil:
        return h5py.Group(h5g.create(parent.id, encoded, lcpl=link_plist, gcpl=_GROUP_PLIST))


def new_dataset(parent: Any, name: str, data: npt.NDArray[Any]) -> h5py.Dataset:
    """Contiguous dataset `name` of `parent` holding `data` (its dtype is the dataset's)."""
    file_type, _ = _types(data.dtype)
    encoded, link_plist = _name(name)
    with h5py._objects.phil:
        dataset = h5d.create(
            parent.id, encoded, file_type, _space(data.shape), dcpl=_DATASET_PLIST, lcpl=link_plist
        )
        dataset.write(h5s.ALL, h5s.ALL, data)
        return h5py.Dataset(dataset)
