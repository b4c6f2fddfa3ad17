"""The error raised for unusable roofline inputs: a profile, a spec table entry, a dataset file."""

from __future__ import annotations

from lassi_hpc.errors import LassiError


class RooflineError(LassiError):
    """A roofline input cannot be used; the message names the file (or GPU) and what is wrong."""
