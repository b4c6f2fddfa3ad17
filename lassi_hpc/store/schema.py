"""The HDF5 layout of a campaign results file: version, names, units and name escaping.

docs/hdf5-schema.md describes every group, dataset and attribute; this module holds the names so
that the writer, the reader and the tests spell them once. Changing a name or a meaning here means
a new SCHEMA_VERSION (see the policy in the doc).
"""

from __future__ import annotations

from typing import Final

from lassi_hpc.errors import StoreError

SCHEMA_VERSION: Final = 2  # 2: trials carry a `summary` dataset
"""Version of the layout this code writes; readers accept this and older, never newer."""

FORMAT: Final = "lassi_hpc-results"
"""Value of the root `format` attribute that marks a file as ours."""

# Root attributes.
ATTR_FORMAT: Final = "format"
ATTR_SCHEMA_VERSION: Final = "schema_version"
ATTR_CREATED_UTC: Final = "created_utc"
ATTR_LASSI_HPC_VERSION: Final = "lassi_hpc_version"
ATTR_CAMPAIGN_NAME: Final = "campaign_name"

# Provenance: scalar text datasets in /provenance and in each /provenance/resumes/<n>.
PROVENANCE: Final = "provenance"
PROVENANCE_RESUMES: Final = "resumes"
PROV_CAMPAIGN_CONFIG: Final = "campaign_config"
PROV_SITE_CONFIG: Final = "site_config"
PROV_VERSIONS: Final = "versions"
PROV_HOST: Final = "host"
PROV_DEVICES: Final = "devices"
PROV_GIT_REVISION: Final = "git_revision"
PROV_COLLECTED_UTC: Final = "collected_utc"
ATTR_SYNTAX: Final = "syntax"  # on the two config datasets: "toml", "json" or "text"

# /apps/<app>/<variant>/...
APPS: Final = "apps"
ATTR_NAME: Final = "name"  # original (unescaped) name on every group whose link name is escaped
BASELINE: Final = "baseline"
TRIALS: Final = "trials"  # /apps/<app>/<variant>/trials/<strategy>/<nnnn>: one refactoring trial

# Baseline group.
BUILD: Final = "build"
RUNS: Final = "runs"
FILES: Final = "files"
VERDICTS: Final = "verdicts"
MEASUREMENT: Final = "measurement"
REPETITIONS: Final = "repetitions"
TRACE_PREFIX: Final = "trace_"
EXTRA: Final = "extra"
PLACEMENT: Final = "placement"
STDOUT: Final = "stdout"
STDERR: Final = "stderr"
DEVICES: Final = "devices"
CONTEXT_DEVICES: Final = "context_devices"
ATTR_INDEX: Final = "index"  # position in the record's tuple; HDF5 lists links alphabetically

# Trial group (measurements, builds, runs and verdicts inside it use the baseline's names).
STEPS: Final = "steps"
REQUEST: Final = "request"
MESSAGES: Final = "messages"
CONTENT: Final = "content"
RESPONSE: Final = "response"
TEXT: Final = "text"
ERROR: Final = "error"
EVALUATION: Final = "evaluation"
SCREEN: Final = "screen"
LOG: Final = "log"
JUDGE: Final = "judge"
REASON: Final = "reason"
RESCORE: Final = "rescore"
SUMMARY: Final = "summary"  # JSON rows of the trial (trial_rows.summary_json)

# The `units` attribute every numeric dataset carries.
ATTR_UNITS: Final = "units"
UNIT_JOULE: Final = "J"
UNIT_WATT: Final = "W"
UNIT_SECOND: Final = "s"
UNIT_DIMENSIONLESS: Final = "1"

# Repetition columns and their units, in the order they are written.
REPETITION_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("energy_j", UNIT_JOULE),
    ("duration_s", UNIT_SECOND),
    ("average_power_w", UNIT_WATT),
    ("idle_power_w", UNIT_WATT),
    ("runs_in_window", UNIT_DIMENSIONLESS),
)
# Written by every version since they were added; files written before read them as NaN.
REPETITION_OPTIONAL_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("window_s", UNIT_SECOND),
    ("window_energy_j", UNIT_JOULE),
    ("counter_energy_j", UNIT_JOULE),
    ("integrated_energy_j", UNIT_JOULE),
    ("start_delay_s", UNIT_SECOND),
)
TRACE_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("time_s", UNIT_SECOND),
    ("power_w", UNIT_WATT),
)
# Per-device power of a trace: a 2-D dataset [device, sample] in W, its devices' uids beside it.
TRACE_DEVICE_POWER: Final = "device_power_w"
TRACE_DEVICE_UIDS: Final = "device_uids"

# Escaping of user names (apps, variants, inputs, output files) into HDF5 link names.
_ESCAPES: Final = {"%": "%25", "/": "%2F", "\x00": "%00"}
_UNESCAPES: Final = {"25": "%", "2F": "/", "00": "\x00", "2E": "."}


def escape_name(name: str, what: str) -> str:
    """The HDF5 link name for a user-chosen name (app, variant, input, output file).

    "/" separates HDF5 path components and NUL ends a C string, so both are percent-encoded, as is
    "%" itself (so the mapping is reversible) and a leading "." (HDF5 reads "." as the current
    group, and names starting with "." stay free for lassi_hpc's own use). The original name is
    also stored in an attribute (`name`, `input_name`); readers use that. `what` names the kind of
    name in errors.
    """
    if not name:
        raise StoreError(f"{what} name is empty; an HDF5 results file needs a non-empty name")
    escaped = "".join(_ESCAPES.get(char, char) for char in name)
    if escaped.startswith("."):
        escaped = "%2E" + escaped[1:]
    return escaped


def unescape_name(escaped: str) -> str:
    """Inverse of escape_name."""
    out: list[str] = []
    i = 0
    while i < len(escaped):
        char = escaped[i]
        if char == "%" and escaped[i + 1 : i + 3] in _UNESCAPES:
            out.append(_UNESCAPES[escaped[i + 1 : i + 3]])
            i += 3
        else:
            out.append(char)
            i += 1
    return "".join(out)


def variant_path(app: str, variant: str) -> str:
    """Absolute HDF5 path of the group of one app variant."""
    return f"/{APPS}/{escape_name(app, 'app')}/{escape_name(variant, 'variant')}"


def baseline_path(app: str, variant: str) -> str:
    """Absolute HDF5 path of the baseline group of one app variant."""
    return f"{variant_path(app, variant)}/{BASELINE}"


def index_name(index: int) -> str:
    """Link name of the `index`-th (0-based) member of a numbered group: "0000", "0001", ..."""
    return f"{index:04d}"


def trial_path(app: str, variant: str, strategy: str, trial: int) -> str:
    """Absolute HDF5 path of one trial: .../trials/<strategy>/<trial as 4 digits>."""
    if trial < 0:
        raise StoreError(
            f"trial {app!r}/{variant!r} {strategy} {trial}: trial numbers start at 0, got {trial}"
        )
    strategy_name = escape_name(strategy, "strategy")
    return f"{variant_path(app, variant)}/{TRIALS}/{strategy_name}/{index_name(trial)}"


def trace_name(repetition: int) -> str:
    """Group name of the power trace of repetition `repetition` (0-based)."""
    return f"{TRACE_PREFIX}{repetition}"
