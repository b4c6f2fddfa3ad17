"""The campaign results store: one HDF5 file per campaign, one writer (the driver), many readers.

Layout and policies: docs/hdf5-schema.md.
"""

from lassi_hpc.store.provenance import Provenance, collect_provenance
from lassi_hpc.store.reader import ResultsReader
from lassi_hpc.store.schema import FORMAT, SCHEMA_VERSION, escape_name, unescape_name
from lassi_hpc.store.tables import (
    BaselineRow,
    CandidateRow,
    StepFailureRow,
    TrialRow,
    as_columns,
)
from lassi_hpc.store.writer import ResultsWriter

__all__ = [
    "FORMAT",
    "SCHEMA_VERSION",
    "BaselineRow",
    "CandidateRow",
    "Provenance",
    "ResultsReader",
    "ResultsWriter",
    "StepFailureRow",
    "TrialRow",
    "as_columns",
    "collect_provenance",
    "escape_name",
    "unescape_name",
]
