"""Turn parsed TOML into frozen dataclasses, rejecting anything unexpected with a precise error.

The schema is the dataclass itself: field names are the allowed keys, annotations the allowed types,
defaults make a key optional. Supported annotations: str, int, float, bool, Literal[...], nested
dataclasses, tuple[X, ...], dict[str, X] and X | None. Field metadata may add a `check` callable
returning an error text (or None) for value rules such as "must be > 0".
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from lassi_hpc.errors import ConfigError, nearest

T = TypeVar("T")

Check = Callable[[Any], str | None]


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a syntax error becomes a ConfigError naming the file and position."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found") from None
    except OSError as error:
        raise ConfigError(str(path), "", f"cannot read file: {error.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(path), "", f"not valid TOML: {error}") from None


_KIND_NAMES = {"campaign": "a campaign config", "site": "a site config", "app": "an app manifest"}


def require_kind(data: Mapping[str, Any], file: str, kind: str) -> None:
    """Refuse a config of another kind (a site file given where a campaign is expected, as with
    swapped arguments) with that said, instead of a list of its top-level tables as unknown keys."""
    if kind in data:
        return
    others = [other for other in _KIND_NAMES if other != kind and other in data]
    if others:
        raise ConfigError(
            file,
            "",
            f"this is {_KIND_NAMES[others[0]]} ([{others[0]}]), not {_KIND_NAMES[kind]}",
        )


def positive(value: Any) -> str | None:
    return None if value > 0 else "must be > 0"


def non_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be >= 0"


def non_empty(value: Any) -> str | None:
    return None if len(value) > 0 else "must not be empty"


def checked(default: Any = dataclasses.MISSING, *, check: Check) -> Any:
    """A dataclass field with a value rule: `repetitions: int = checked(3, check=positive)`."""
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata={"check": check})
    if isinstance(default, (list, dict, set)):
        raise TypeError("use an immutable default (tuple) for checked fields")
    return dataclasses.field(default=default, metadata={"check": check})


def build(cls: type[T], data: Any, file: str, key: str = "") -> T:
    """Validate `data` (a TOML table) against dataclass `cls`; `key` is its dotted path."""
    if not isinstance(data, Mapping):
        raise ConfigError(file, key, "must be a table", value=data, show_value=True)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    for name in data:
        if name not in fields:
            hint = nearest(name, fields)
            problem = f"unknown key {name!r}" + (f" (did you mean {hint!r}?)" if hint else "")
            raise ConfigError(file, _join(key, name), problem, allowed=sorted(fields))
    values: dict[str, Any] = {}
    for name, field in fields.items():
        path = _join(key, name)
        if name in data:
            value = _convert(hints[name], data[name], file, path)
            check = field.metadata.get("check")
            if check is not None and (problem := check(value)) is not None:
                raise ConfigError(file, path, problem, value=value, show_value=True)
            values[name] = value
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(file, path, "required key is missing")
    return cls(**values)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _convert(tp: Any, value: Any, file: str, key: str) -> Any:
    origin = get_origin(tp)
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            raise ConfigError(
                file, key, "invalid value", value=value, allowed=map(str, choices), show_value=True
            )
        return value
    if origin in (types.UnionType, typing.Union):
        options = [a for a in get_args(tp) if a is not type(None)]
        if len(options) != 1:
            raise TypeError(f"unsupported union {tp} in config schema")
        return _convert(options[0], value, file, key)
    if origin is tuple:
        item_type = get_args(tp)[0]
        if not isinstance(value, list):
            raise ConfigError(file, key, "must be an array", value=value, show_value=True)
        return tuple(_convert(item_type, v, file, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        _, item_type = get_args(tp)
        if not isinstance(value, Mapping):
            raise ConfigError(file, key, "must be a table", value=value, show_value=True)
        return {str(k): _convert(item_type, v, file, _join(key, str(k))) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return build(tp, value, file, key)  # type: ignore[arg-type]
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(file, key, "must be a number", value=value, show_value=True)
        return float(value)
    if tp is int or tp is bool or tp is str:
        # bool is a subclass of int in Python but not in TOML: keep them apart.
        if type(value) is not tp:
            need = {int: "an integer", bool: "true or false", str: "a string"}[tp]
            raise ConfigError(file, key, f"must be {need}", value=value, show_value=True)
        return value
    raise TypeError(f"unsupported type {_type_name(tp)} in config schema")
