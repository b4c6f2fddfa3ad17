"""The roofline HDF5 file: kernel profiles, labels and LLM evaluations under `/roofline/`.

A file of its own (default `<results_dir>/<campaign>/roofline.h5`), not the campaign results file:
that one has a single writer, the campaign driver, and profiling may run while a campaign does.
Here too one process writes at a time (`roofline profile` or `roofline evaluate`). Layout:
docs/hdf5-schema.md, section "Roofline file".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import numpy as np

from lassi_hpc.errors import StoreError
from lassi_hpc.roofline.evaluate import ClassificationScores
from lassi_hpc.roofline.records import (
    BOUNDEDNESS,
    BalancePoints,
    Boundedness,
    KernelLabel,
    KernelProfile,
    Language,
    Prediction,
)
from lassi_hpc.roofline.variant_records import (
    ROOFLINE_STATUSES,
    RooflineContents,
    RooflineEvaluation,
    RooflineStatus,
    VariantRoofline,
)
from lassi_hpc.store.encoding import (
    TEXT_DTYPE,
    get_text_attr,
    group_at,
    is_plain_text,
    read_column,
    read_json,
    set_text_attr,
    where,
    write_column,
    write_json,
)
from lassi_hpc.store.file_access import open_hdf5
from lassi_hpc.store.provenance import utc_now
from lassi_hpc.store.schema import (
    ATTR_CAMPAIGN_NAME,
    ATTR_CREATED_UTC,
    ATTR_FORMAT,
    ATTR_LASSI_HPC_VERSION,
    ATTR_NAME,
    ATTR_SCHEMA_VERSION,
    UNIT_DIMENSIONLESS,
    UNIT_SECOND,
    escape_name,
)

ROOFLINE_FORMAT: Final = "lassi_hpc-roofline"
ROOFLINE_SCHEMA_VERSION: Final = 1
ROOFLINE_FILE_NAME: Final = "roofline.h5"

ROOFLINE: Final = "roofline"
VARIANTS: Final = "variants"
EVALUATIONS: Final = "evaluations"
PROFILES: Final = "profiles"
LABELS: Final = "labels"
PREDICTIONS: Final = "predictions"
SCORES: Final = "scores"

UNIT_OPERATION: Final = "op"
UNIT_BYTE: Final = "B"
UNIT_OP_PER_BYTE: Final = "op/B"

# Variant group attributes.
ATTR_APP: Final = "app"
ATTR_VARIANT: Final = "variant"
ATTR_PARTITION: Final = "partition"
ATTR_TOOL: Final = "tool"
ATTR_GPU: Final = "gpu"
ATTR_STATUS: Final = "status"
ATTR_REASON: Final = "reason"
ATTR_INPUT_NAME: Final = "input_name"
ATTR_MODEL: Final = "model"
ATTR_SCENARIO: Final = "scenario"

_PROFILE_INTS: Final = (
    ("invocation", UNIT_DIMENSIONLESS),
    ("sp_ops", UNIT_OPERATION),
    ("dp_ops", UNIT_OPERATION),
    ("int_ops", UNIT_OPERATION),
    ("dram_bytes", UNIT_BYTE),
)
_PROFILE_TEXTS: Final = ("kernel", "device", "block_size", "grid_size")
_LABEL_FLOATS: Final = (
    "sp_ai_op_per_byte",
    "dp_ai_op_per_byte",
    "int_ai_op_per_byte",
    "balance_sp_op_per_byte",
    "balance_dp_op_per_byte",
    "balance_int_op_per_byte",
)
_LABEL_TEXTS: Final = ("kernel", "label", "ceilings_source", "reason")
_PREDICTION_TEXTS: Final = ("kernel", "language", "truth", "predicted", "answer", "error")
# Columns later versions may add: files without them read these defaults.
_OPTIONAL_TEXT_COLUMNS: Final = frozenset({"block_size", "grid_size", "reason", "error"})


class RooflineStore:
    """The writer of one roofline file: created if missing, else opened for appending.

    Writing a variant or an evaluation that is already stored replaces it, so re-running a
    command gives its latest result.
    """

    def __init__(self, file: Any, path: Path) -> None:
        self._file = file
        self.path = path

    @classmethod
    def open(cls, path: Path, campaign: str) -> RooflineStore:
        """Open `path` for writing, creating it (with `campaign` as its name) when missing."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            file = open_hdf5(path, "w")
            file.attrs.create(ATTR_FORMAT, ROOFLINE_FORMAT, dtype=TEXT_DTYPE)
            file.attrs.create(ATTR_SCHEMA_VERSION, ROOFLINE_SCHEMA_VERSION)
            set_text_attr(file, ATTR_CAMPAIGN_NAME, campaign)
            set_text_attr(file, ATTR_CREATED_UTC, utc_now())
            set_text_attr(file, ATTR_LASSI_HPC_VERSION, _version())
            file.require_group(ROOFLINE)
            return cls(file, path)
        file = open_hdf5(path, "r+")
        try:
            version = _check_header(file, path)
        except StoreError:
            file.close()
            raise
        if version != ROOFLINE_SCHEMA_VERSION:
            file.close()
            raise StoreError(
                f"{path}: roofline schema version {version}; this lassi_hpc writes only "
                f"{ROOFLINE_SCHEMA_VERSION} (write to a new file)"
            )
        return cls(file, path)

    def __enter__(self) -> RooflineStore:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def write_variant(self, record: VariantRoofline) -> None:
        """Store one variant's profiles and labels at /roofline/variants/<app>/<variant>."""
        parent = self._file.require_group(ROOFLINE).require_group(VARIANTS)
        app_group = parent.require_group(escape_name(record.app, "app"))
        set_text_attr(app_group, ATTR_NAME, record.app)
        name = escape_name(record.variant, "variant")
        if name in app_group:
            del app_group[name]
        group = app_group.create_group(name)
        for attribute, value in (
            (ATTR_NAME, record.variant),
            (ATTR_APP, record.app),
            (ATTR_VARIANT, record.variant),
            (ATTR_PARTITION, record.partition),
            (ATTR_TOOL, record.tool),
            (ATTR_GPU, record.gpu),
            (ATTR_STATUS, record.status),
            (ATTR_REASON, record.reason),
            (ATTR_INPUT_NAME, record.input_name),
        ):
            set_text_attr(group, attribute, value)
        _write_profiles(group.create_group(PROFILES), record.profiles)
        _write_labels(group.create_group(LABELS), record.labels)
        self._file.flush()

    def write_evaluation(self, evaluation: RooflineEvaluation) -> None:
        """Store predictions (and scores) at /roofline/evaluations/<model>/<scenario>."""
        parent = self._file.require_group(ROOFLINE).require_group(EVALUATIONS)
        model_group = parent.require_group(escape_name(evaluation.model, "model"))
        set_text_attr(model_group, ATTR_NAME, evaluation.model)
        name = escape_name(evaluation.scenario, "scenario")
        if name in model_group:
            del model_group[name]
        group = model_group.create_group(name)
        set_text_attr(group, ATTR_NAME, evaluation.scenario)
        set_text_attr(group, ATTR_MODEL, evaluation.model)
        set_text_attr(group, ATTR_SCENARIO, evaluation.scenario)
        set_text_attr(group, ATTR_GPU, evaluation.gpu)
        predictions = group.create_group(PREDICTIONS)
        rows = evaluation.predictions
        for column in _PREDICTION_TEXTS:
            values = [
                (p.predicted or "") if column == "predicted" else str(getattr(p, column))
                for p in rows
            ]
            _write_text_column(predictions, column, values)
        if evaluation.scores is not None:
            write_json(group, SCORES, asdict(evaluation.scores))
        self._file.flush()


def check_roofline_header(path: Path) -> None:
    """StoreError naming `path` unless it is a roofline file of a schema this version reads."""
    with open_hdf5(path, "r") as file:
        _check_header(file, path)


def read_roofline(path: Path) -> RooflineContents:
    """Everything in the roofline file `path`; StoreError naming the file when it is not one."""
    with open_hdf5(path, "r") as file:
        _check_header(file, path)
        root = file.get(ROOFLINE)
        variants: list[VariantRoofline] = []
        evaluations: list[RooflineEvaluation] = []
        if root is not None and VARIANTS in root:
            for app_group in _subgroups(root[VARIANTS]):
                variants.extend(_read_variant(group) for group in _subgroups(app_group))
        # Files from `roofline profile` alone have no evaluations group.
        if root is not None and EVALUATIONS in root:
            for model_group in _subgroups(root[EVALUATIONS]):
                evaluations.extend(_read_evaluation(group) for group in _subgroups(model_group))
        return RooflineContents(
            path=str(path),
            campaign=get_text_attr(file, ATTR_CAMPAIGN_NAME),
            created_utc=get_text_attr(file, ATTR_CREATED_UTC),
            variants=tuple(variants),
            evaluations=tuple(evaluations),
        )


# --------------------------------------------------------------------------------------------------


def _version() -> str:
    import lassi_hpc

    return str(lassi_hpc.__version__)


def _check_header(file: Any, path: Path) -> int:
    found = file.attrs.get(ATTR_FORMAT)
    if isinstance(found, bytes):
        found = found.decode("utf-8", "replace")
    if found != ROOFLINE_FORMAT:
        raise StoreError(
            f"{path}: not a lassi_hpc roofline file: root attribute {ATTR_FORMAT!r} is "
            f"{found!r}, expected {ROOFLINE_FORMAT!r}"
        )
    version = int(file.attrs.get(ATTR_SCHEMA_VERSION, -1))
    if not 1 <= version <= ROOFLINE_SCHEMA_VERSION:
        raise StoreError(
            f"{path}: roofline {ATTR_SCHEMA_VERSION} {version} is not one this lassi_hpc reads "
            f"(1 to {ROOFLINE_SCHEMA_VERSION}); upgrade lassi_hpc to use it"
        )
    return version


def _subgroups(group: Any) -> list[Any]:
    import h5py

    return [group[name] for name in sorted(group) if isinstance(group[name], h5py.Group)]


def _write_text_column(group: Any, name: str, values: Sequence[str]) -> None:
    # A native string array reads well in any HDF5 tool; text HDF5 cannot hold (NUL, unpaired
    # surrogates in an LLM's answer) goes into one JSON text instead (scalar, or opaque bytes).
    if all(is_plain_text(value) for value in values):
        group.create_dataset(name, data=np.array(list(values), dtype=object), dtype=TEXT_DTYPE)
    else:
        write_json(group, name, list(values))


def _read_text_column(group: Any, name: str, rows: int) -> list[str]:
    if name not in group:
        if name in _OPTIONAL_TEXT_COLUMNS:
            return [""] * rows
        raise StoreError(f"{where(group, child=name)}: dataset is missing")
    dataset = group[name]
    if dataset.shape == () or dataset.dtype.kind == "V":  # JSON text, or its opaque bytes
        values = read_json(group, name)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise StoreError(f"{where(dataset)} should be a JSON list of text")
        found: list[str] = values
    else:
        found = [str(v) for v in dataset.asstr()[()]]
    if rows >= 0 and len(found) != rows:
        raise StoreError(f"{where(dataset)} has {len(found)} rows, expected {rows}")
    return found


def _write_profiles(group: Any, profiles: Sequence[KernelProfile]) -> None:
    for column in _PROFILE_TEXTS:
        _write_text_column(group, column, [str(getattr(p, column)) for p in profiles])
    for column, units in _PROFILE_INTS:
        write_column(group, column, [getattr(p, column) for p in profiles], np.int64, units)
    write_column(group, "duration_s", [p.duration_s for p in profiles], np.float64, UNIT_SECOND)


def _read_profiles(group: Any) -> tuple[KernelProfile, ...]:
    kernels = _read_text_column(group, "kernel", -1)
    rows = len(kernels)
    texts = {name: _read_text_column(group, name, rows) for name in _PROFILE_TEXTS}
    ints = {name: read_column(group, name) for name, _ in _PROFILE_INTS}
    durations = read_column(group, "duration_s")
    return tuple(
        KernelProfile(
            kernel=kernels[i],
            invocation=int(ints["invocation"][i]),
            duration_s=float(durations[i]),
            sp_ops=int(ints["sp_ops"][i]),
            dp_ops=int(ints["dp_ops"][i]),
            int_ops=int(ints["int_ops"][i]),
            dram_bytes=int(ints["dram_bytes"][i]),
            device=texts["device"][i],
            block_size=texts["block_size"][i],
            grid_size=texts["grid_size"][i],
        )
        for i in range(rows)
    )


def _write_labels(group: Any, labels: Sequence[KernelLabel]) -> None:
    for column in _LABEL_TEXTS:
        _write_text_column(group, column, [str(getattr(label, column)) for label in labels])
    write_column(
        group, "invocation", [label.invocation for label in labels], np.int64, UNIT_DIMENSIONLESS
    )
    columns = {
        "sp_ai_op_per_byte": [label.sp_ai_op_per_byte for label in labels],
        "dp_ai_op_per_byte": [label.dp_ai_op_per_byte for label in labels],
        "int_ai_op_per_byte": [label.int_ai_op_per_byte for label in labels],
        "balance_sp_op_per_byte": [label.balance.sp_op_per_byte for label in labels],
        "balance_dp_op_per_byte": [label.balance.dp_op_per_byte for label in labels],
        "balance_int_op_per_byte": [label.balance.int_op_per_byte for label in labels],
    }
    for column in _LABEL_FLOATS:
        write_column(group, column, columns[column], np.float64, UNIT_OP_PER_BYTE)


def _read_labels(group: Any) -> tuple[KernelLabel, ...]:
    kernels = _read_text_column(group, "kernel", -1)
    rows = len(kernels)
    texts = {name: _read_text_column(group, name, rows) for name in _LABEL_TEXTS}
    floats = {name: read_column(group, name) for name in _LABEL_FLOATS}
    invocations = read_column(group, "invocation")
    return tuple(
        KernelLabel(
            kernel=kernels[i],
            invocation=int(invocations[i]),
            sp_ai_op_per_byte=float(floats["sp_ai_op_per_byte"][i]),
            dp_ai_op_per_byte=float(floats["dp_ai_op_per_byte"][i]),
            int_ai_op_per_byte=float(floats["int_ai_op_per_byte"][i]),
            label=_boundedness(texts["label"][i], group),
            balance=BalancePoints(
                sp_op_per_byte=float(floats["balance_sp_op_per_byte"][i]),
                dp_op_per_byte=float(floats["balance_dp_op_per_byte"][i]),
                int_op_per_byte=float(floats["balance_int_op_per_byte"][i]),
            ),
            ceilings_source=texts["ceilings_source"][i],
            reason=texts["reason"][i],
        )
        for i in range(rows)
    )


def _boundedness(value: str, group: Any) -> Boundedness:
    for known in BOUNDEDNESS:
        if value == known:
            return known
    raise StoreError(f"{where(group)}: label {value!r}; must be one of: {', '.join(BOUNDEDNESS)}")


def _read_variant(group: Any) -> VariantRoofline:
    status = get_text_attr(group, ATTR_STATUS)
    known: RooflineStatus | None = next((s for s in ROOFLINE_STATUSES if s == status), None)
    if known is None:
        raise StoreError(
            f"{where(group, ATTR_STATUS)} is {status!r}; must be one of: "
            + ", ".join(ROOFLINE_STATUSES)
        )
    return VariantRoofline(
        app=get_text_attr(group, ATTR_APP),
        variant=get_text_attr(group, ATTR_VARIANT),
        partition=get_text_attr(group, ATTR_PARTITION),
        tool=get_text_attr(group, ATTR_TOOL),
        gpu=get_text_attr(group, ATTR_GPU),
        status=known,
        reason=get_text_attr(group, ATTR_REASON),
        input_name=get_text_attr(group, ATTR_INPUT_NAME),
        profiles=_read_profiles(group_at(group, PROFILES)),
        labels=_read_labels(group_at(group, LABELS)),
    )


def _read_evaluation(group: Any) -> RooflineEvaluation:
    model = get_text_attr(group, ATTR_MODEL)
    scenario = get_text_attr(group, ATTR_SCENARIO)
    columns = group_at(group, PREDICTIONS)
    kernels = _read_text_column(columns, "kernel", -1)
    texts = {name: _read_text_column(columns, name, len(kernels)) for name in _PREDICTION_TEXTS}
    predictions = tuple(
        Prediction(
            kernel=kernels[i],
            language=_language(texts["language"][i], columns),
            scenario=scenario,
            model=model,
            truth=_boundedness(texts["truth"][i], columns),
            predicted=(
                None
                if texts["predicted"][i] == ""
                else _boundedness(texts["predicted"][i], columns)
            ),
            answer=texts["answer"][i],
            error=texts["error"][i],
        )
        for i in range(len(kernels))
    )
    scores: ClassificationScores | None = None
    if SCORES in group:  # absent when stored without scoring
        scores = _scores_from_json(read_json(group, SCORES), group)
    return RooflineEvaluation(
        model=model,
        scenario=scenario,
        gpu=get_text_attr(group, ATTR_GPU),
        predictions=predictions,
        scores=scores,
    )


def _language(value: str, group: Any) -> Language:
    if value == "cuda":
        return "cuda"
    if value == "omp":
        return "omp"
    raise StoreError(f"{where(group)}: language {value!r}; must be one of: cuda, omp")


def _scores_from_json(value: Any, group: Any) -> ClassificationScores:
    def pair(found: Any) -> tuple[float, float]:
        low, high = found
        return (_number(low), _number(high))

    try:
        confusion = value["confusion"]
        return ClassificationScores(
            model=str(value["model"]),
            scenario=str(value["scenario"]),
            kernels=int(value["kernels"]),
            unparsed=int(value["unparsed"]),
            accuracy=_number(value["accuracy"]),
            accuracy_ci=pair(value["accuracy_ci"]),
            recall={str(k): _number(v) for k, v in value["recall"].items()},
            recall_ci={str(k): pair(v) for k, v in value["recall_ci"].items()},
            mcc=_number(value["mcc"]),
            mcc_ci=pair(value["mcc_ci"]),
            confusion=(
                (int(confusion[0][0]), int(confusion[0][1]), int(confusion[0][2])),
                (int(confusion[1][0]), int(confusion[1][1]), int(confusion[1][2])),
            ),
        )
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise StoreError(f"{where(group, child=SCORES)} is not a scores record: {error}") from None


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)
