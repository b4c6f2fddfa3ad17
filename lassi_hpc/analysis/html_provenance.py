"""The report's "Campaign configs and environment" section: the results file's provenance (configs
as written, tool versions, host, devices, git revision), each as preformatted text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lassi_hpc.analysis.html_format import text
from lassi_hpc.store.schema import (
    PROV_CAMPAIGN_CONFIG,
    PROV_COLLECTED_UTC,
    PROV_DEVICES,
    PROV_GIT_REVISION,
    PROV_HOST,
    PROV_SITE_CONFIG,
    PROV_VERSIONS,
    PROVENANCE_RESUMES,
)

_SHOWN_FIRST = (
    (PROV_CAMPAIGN_CONFIG, "Campaign config"),
    (PROV_SITE_CONFIG, "Site config"),
    (PROV_VERSIONS, "Tool and driver versions"),
    (PROV_HOST, "Host"),
    (PROV_DEVICES, "Devices"),
    (PROV_GIT_REVISION, "Git revision"),
    (PROV_COLLECTED_UTC, "Collected (UTC)"),
    (PROVENANCE_RESUMES, "Resumed sessions"),
)


def provenance_section(provenance: Mapping[str, Any]) -> str:
    """The section as HTML: the known provenance entries in a fixed order, then any others."""
    parts = ['<section id="provenance"><h2>Campaign configs and environment</h2>']
    if not provenance:
        parts.append('<p class="empty">The results file records no provenance.</p>')
    else:
        known = dict(_SHOWN_FIRST)
        keys = [key for key, _ in _SHOWN_FIRST]
        keys += sorted(key for key in provenance if key not in known)
        for key in keys:
            heading = known.get(key, key)
            parts.append(
                f'<h3 id="provenance-{text(key)}">{text(heading)} '
                f"<code>{text(key)}</code></h3><pre>{text(provenance_text(provenance.get(key)))}"
                "</pre>"
            )
    parts.append("</section>")
    return "".join(parts)


def provenance_text(value: object) -> str:
    """A provenance value as readable text: dicts, lists and JSON strings pretty-printed, other
    text as written (a TOML config stays TOML), nothing as "(not recorded)"."""
    if value is None or value == "":
        return "(not recorded)"
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "["):
            try:
                return _pretty_json(json.loads(stripped))
            except ValueError:
                return value
        return value
    if isinstance(value, list | dict) and not value:
        return "(none)"
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return _pretty_json(value)


def _pretty_json(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
