"""How text, bytes, JSON and numeric columns go into HDF5 attributes and datasets, and come back.

Text is stored as variable-length UTF-8 strings (`h5py.string_dtype()`). Two kinds of Python text
cannot be stored that way: text with a NUL character (HDF5 strings are C strings) and text with
unpaired surrogates (how Python spells non-UTF-8 bytes of file names and arguments). Such text is
stored as opaque bytes holding its UTF-8 encoding with surrogates passed through, so that every
str round-trips exactly. Raw bytes (output files) are opaque 1-byte elements, never numbers.
"""

from __future__ import annotations

import enum
import json
import operator
import posixpath
from collections.abc import Sequence
from typing import Any, Final, TypeVar

import h5py
import numpy as np
import numpy.typing as npt

from lassi_hpc.errors import StoreError
from lassi_hpc.store.h5_direct import new_dataset, set_attr
from lassi_hpc.store.schema import ATTR_UNITS

TEXT_DTYPE: Final = h5py.string_dtype(encoding="utf-8")
OPAQUE_BYTE: Final = np.dtype("V1")
ATTR_ENCODING: Final = "encoding"  # on a text dataset stored as bytes
_TEXT_CODEC: Final = "utf-8"
_TEXT_ERRORS: Final = "surrogatepass"

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1

# Below this many elements a dataset stays contiguous: chunking and gzip only pay off for big ones.
COMPRESS_MIN_ELEMENTS: Final = 4096

E = TypeVar("E", bound=enum.Enum)


def where(obj: Any, attribute: str | None = None, *, child: str | None = None) -> str:
    """'file: /hdf5/path' (of `child` inside `obj` if given, then the attribute) for messages."""
    place = f"{obj.file.filename}: {posixpath.join(obj.name, child) if child else obj.name}"
    return f"{place} attribute {attribute!r}" if attribute is not None else place


def is_plain_text(text: str) -> bool:
    """True when `text` can be an HDF5 UTF-8 string: no NUL and no unpaired surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode(_TEXT_CODEC)
    except UnicodeEncodeError:
        return False
    return True


def _text_as_bytes(text: str) -> bytes:
    return text.encode(_TEXT_CODEC, _TEXT_ERRORS)


def _bytes_as_text(data: bytes) -> str:
    return data.decode(_TEXT_CODEC, _TEXT_ERRORS)


def compression(elements: int) -> dict[str, Any]:
    if elements < COMPRESS_MIN_ELEMENTS:
        return {}
    return {"chunks": True, "compression": "gzip", "compression_opts": 4}


def _new_dataset(group: Any, name: str, data: npt.NDArray[Any]) -> Any:
    """Dataset `name` holding `data`: contiguous when small, chunked and compressed when large."""
    if data.size < COMPRESS_MIN_ELEMENTS:
        return new_dataset(group, name, data)
    return group.create_dataset(name, data=data, **compression(data.size))


# --------------------------------------------------------------------------------------------------
# Attributes


def attr(obj: Any, name: str) -> Any:
    """The raw value of attribute `name`, or a StoreError naming the file, object and attribute."""
    try:
        return obj.attrs[name]
    except KeyError:
        raise StoreError(f"{where(obj, name)} is missing") from None


def set_text_attr(obj: Any, name: str, text: str) -> None:
    """Store `text` as a UTF-8 string attribute (opaque UTF-8 bytes when it cannot be one)."""
    if is_plain_text(text):
        set_attr(obj, name, np.array(text, dtype=TEXT_DTYPE))
    else:
        set_attr(obj, name, np.void(_text_as_bytes(text)))


def _decode_text(value: Any, obj: Any, name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):  # fixed-length strings written by other tools
        return _bytes_as_text(value)
    if isinstance(value, np.void | np.ndarray) and value.dtype.kind == "V":
        return _bytes_as_text(value.tobytes())
    raise StoreError(f"{where(obj, name)} should be text, found {type(value).__name__} {value!r}")


def get_text_attr(obj: Any, name: str) -> str:
    """The text of attribute `name` as written by set_text_attr."""
    return _decode_text(attr(obj, name), obj, name)


def set_text_list_attr(obj: Any, name: str, values: Sequence[str]) -> None:
    """Store a list of str as a 1-D UTF-8 string array attribute.

    Should an element not be plain text, the list is stored instead as one JSON text (ASCII, with
    \\u escapes, which round-trip unpaired surrogates); readers tell the two apart by shape.
    """
    if all(is_plain_text(value) for value in values):
        set_attr(obj, name, np.array(list(values), dtype=TEXT_DTYPE))
    else:
        set_attr(obj, name, np.array(json.dumps(list(values), ensure_ascii=True), dtype=TEXT_DTYPE))


def get_text_list_attr(obj: Any, name: str) -> tuple[str, ...]:
    """The list written by set_text_list_attr."""
    value = attr(obj, name)
    if isinstance(value, str):
        decoded = json.loads(value)
        if not isinstance(decoded, list) or not all(isinstance(v, str) for v in decoded):
            raise StoreError(f"{where(obj, name)} should be a JSON list of text, found {value!r}")
        return tuple(decoded)
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return tuple(_decode_text(item, obj, name) for item in value)
    raise StoreError(f"{where(obj, name)} should be a list of text, found {value!r}")


def check_int64(what: str, value: object) -> int:
    """`value` as an int; StoreError naming `what` unless it is an integer that fits an int64."""
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        number = None
    if number is None or not _INT64_MIN <= number <= _INT64_MAX:
        raise StoreError(f"{what} is {value!r}; must be an integer that fits 64 bits")
    return number


def get_float_attr(obj: Any, name: str) -> float:
    """Attribute `name` as a Python float."""
    return float(attr(obj, name))


def get_int_attr(obj: Any, name: str) -> int:
    """Attribute `name` as a Python int."""
    return int(attr(obj, name))


def get_bool_attr(obj: Any, name: str) -> bool:
    """Attribute `name` as a Python bool."""
    return bool(attr(obj, name))


def get_enum_attr(obj: Any, name: str, kind: type[E]) -> E:
    """Attribute `name` as a member of enum `kind`, or a StoreError listing the allowed values."""
    text = get_text_attr(obj, name)
    try:
        return kind(text)
    except ValueError:
        allowed = ", ".join(str(member.value) for member in kind)
        raise StoreError(f"{where(obj, name)} is {text!r}; must be one of: {allowed}") from None


def enum_value(value: str, kind: type[E], what: str) -> str:
    """The value of the member of enum `kind` that `value` is or names; a StoreError listing the
    allowed values otherwise (`what` names the value in the message)."""
    try:
        return str(kind(value).value)
    except ValueError:
        allowed = ", ".join(str(member.value) for member in kind)
        raise StoreError(f"{what} {value!r} is unknown; must be one of: {allowed}") from None


# --------------------------------------------------------------------------------------------------
# Datasets


def write_text(group: Any, name: str, text: str) -> Any:
    """A scalar UTF-8 string dataset (opaque UTF-8 bytes, `encoding` attribute, when not plain);
    returns the dataset."""
    if is_plain_text(text):
        return new_dataset(group, name, np.array(text, dtype=TEXT_DTYPE))
    dataset = write_bytes(group, name, _text_as_bytes(text))
    set_text_attr(dataset, ATTR_ENCODING, "utf-8")
    return dataset


def read_text(group: Any, name: str) -> str:
    """The text written by write_text."""
    dataset = dataset_at(group, name)
    if dataset.dtype.kind == "V":
        return _bytes_as_text(dataset[()].tobytes())
    return _decode_text(dataset.asstr()[()], dataset, "value")


def write_json(group: Any, name: str, value: Any) -> None:
    """A scalar text dataset holding `value` as JSON."""
    write_text(group, name, json.dumps(value, ensure_ascii=False, indent=1))


def read_json(group: Any, name: str) -> Any:
    """The value written by write_json."""
    text = read_text(group, name)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(f"{where(group, child=name)} is not valid JSON: {exc}") from None


def read_pairs(group: Any, name: str) -> tuple[tuple[str, str], ...]:
    """[key, value] pairs written by write_json; none when the dataset is absent (older files)."""
    if name not in group:
        return ()
    pairs = read_json(group, name)
    if not isinstance(pairs, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) for v in pair)
        for pair in pairs
    ):
        raise StoreError(f"{where(group, child=name)} should be a JSON list of [key, value] pairs")
    return tuple((key, value) for key, value in pairs)


def write_bytes(group: Any, name: str, content: bytes) -> Any:
    """A 1-D dataset of opaque bytes (compressed when large); returns the dataset."""
    data = np.frombuffer(content, dtype=OPAQUE_BYTE)
    return _new_dataset(group, name, data)


def read_bytes(group: Any, name: str) -> bytes:
    """The bytes written by write_bytes."""
    dataset = dataset_at(group, name)
    if dataset.dtype.kind != "V":
        raise StoreError(f"{where(dataset)} should hold opaque bytes, found dtype {dataset.dtype}")
    return bytes(dataset[()].tobytes())


def write_column(
    group: Any,
    name: str,
    values: Sequence[float] | Sequence[int] | npt.NDArray[Any],
    dtype: type,
    units: str,
) -> None:
    """A numeric dataset (1-D; a trace's device rows are 2-D) with its `units` attribute
    (compressed when large)."""
    data: npt.NDArray[Any] = np.asarray(values, dtype=dtype)
    set_text_attr(_new_dataset(group, name, data), ATTR_UNITS, units)


def read_column(group: Any, name: str) -> npt.NDArray[Any]:
    """The 1-D numeric dataset `name` as a numpy array."""
    data: npt.NDArray[Any] = np.asarray(dataset_at(group, name)[()])
    if data.ndim != 1:
        raise StoreError(f"{where(group, child=name)} should be 1-D, found shape {data.shape}")
    return data


def dataset_at(group: Any, name: str) -> Any:
    """Dataset `name` in `group`, or a StoreError naming what is missing."""
    found = group.get(name)
    if not isinstance(found, h5py.Dataset):
        raise StoreError(f"{where(group, child=name)}: dataset is missing")
    return found


def group_at(group: Any, name: str) -> Any:
    """Subgroup `name` of `group`, or a StoreError naming what is missing."""
    found = group.get(name)
    if not isinstance(found, h5py.Group):
        raise StoreError(f"{where(group, child=name)}: group is missing")
    return found


def children(group: Any) -> list[Any]:
    """The groups and datasets linked from `group`; StoreError for a link that leads nowhere."""
    found = []
    for name in group:
        child = group.get(name)
        if child is None:
            raise StoreError(f"{where(group, child=name)}: links to no readable object (damaged)")
        found.append(child)
    return found
