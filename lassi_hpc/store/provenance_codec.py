"""Provenance <-> the /provenance group (and its /provenance/resumes/<nnnn> siblings)."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import numpy as np

from lassi_hpc.store.encoding import TEXT_DTYPE, read_json, read_text, write_json, write_text
from lassi_hpc.store.h5_direct import new_group, set_attr
from lassi_hpc.store.provenance import Provenance
from lassi_hpc.store.schema import (
    ATTR_INDEX,
    ATTR_SYNTAX,
    PROV_CAMPAIGN_CONFIG,
    PROV_COLLECTED_UTC,
    PROV_DEVICES,
    PROV_GIT_REVISION,
    PROV_HOST,
    PROV_SITE_CONFIG,
    PROV_VERSIONS,
    PROVENANCE_RESUMES,
)


def config_syntax(text: str) -> str:
    """'json' or 'toml' when `text` parses as that, else 'text'."""
    try:
        json.loads(text)
    except json.JSONDecodeError:
        pass
    else:
        return "json"
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return "text"
    return "toml"


def write_provenance(group: Any, provenance: Provenance) -> None:
    """Fill an empty group with `provenance` as scalar text datasets."""
    for name, text in (
        (PROV_CAMPAIGN_CONFIG, provenance.campaign_config),
        (PROV_SITE_CONFIG, provenance.site_config),
    ):
        write_text(group, name, text)
        group[name].attrs.create(ATTR_SYNTAX, config_syntax(text), dtype=TEXT_DTYPE)
    write_json(group, PROV_VERSIONS, provenance.versions())
    write_json(group, PROV_HOST, dict(provenance.host))
    write_json(group, PROV_DEVICES, provenance.devices_as_dicts())
    write_text(group, PROV_GIT_REVISION, provenance.git_revision)
    write_text(group, PROV_COLLECTED_UTC, provenance.collected_utc)


def read_provenance(group: Any) -> dict[str, Any]:
    """One provenance group as a dict: config texts, parsed JSON objects, revision, time."""
    return {
        PROV_CAMPAIGN_CONFIG: read_text(group, PROV_CAMPAIGN_CONFIG),
        PROV_SITE_CONFIG: read_text(group, PROV_SITE_CONFIG),
        PROV_VERSIONS: read_json(group, PROV_VERSIONS),
        PROV_HOST: read_json(group, PROV_HOST),
        PROV_DEVICES: read_json(group, PROV_DEVICES),
        PROV_GIT_REVISION: read_text(group, PROV_GIT_REVISION),
        PROV_COLLECTED_UTC: read_text(group, PROV_COLLECTED_UTC),
    }


def append_resume(provenance_group: Any, provenance: Provenance) -> str:
    """Record the provenance of a session that resumed the file; returns the new group's path."""
    resumes = provenance_group.require_group(PROVENANCE_RESUMES)
    index = len(resumes)
    group = new_group(resumes, f"{index:04d}")
    set_attr(group, ATTR_INDEX, np.int64(index))
    write_provenance(group, provenance)
    return str(group.name)


def read_resumes(provenance_group: Any) -> list[dict[str, Any]]:
    """The provenance of every resumed session, oldest first."""
    resumes = provenance_group.get(PROVENANCE_RESUMES)
    if resumes is None:
        return []
    ordered = sorted(resumes.values(), key=lambda g: int(g.attrs[ATTR_INDEX]))
    return [read_provenance(group) for group in ordered]
