"""Choose an energy backend: the configured one, or with "auto" the best one this machine has."""

from __future__ import annotations

from typing import Any

from lassi_hpc.energy.backend import (
    BACKENDS,
    BackendChoiceError,
    BackendUnavailableError,
    EnergyBackend,
    backend_spec,
    open_backend,
    unknown_choice_message,
)

# Meters first, GPU before CPU; the estimate is always available and comes last. "fake" is never
# chosen automatically: it must be asked for by name.
AUTO_ORDER: tuple[str, ...] = ("nvml", "amdsmi", "rapl", "estimate")


def detect_backend(
    preference: str = "auto", **options: Any
) -> tuple[EnergyBackend, tuple[str, ...]]:
    """Open the preferred backend; return it with one-line reasons why better ones were skipped.

    `preference` is "auto" or a registry name ("nvml", "amdsmi", "rapl", "estimate", "fake").
    A named backend that cannot be opened raises BackendUnavailableError (no silent fallback).
    With "auto", backends are tried in AUTO_ORDER and the reasons read "<name>: <why>".
    `options` go to the backends that declare them (e.g. powercap_root for rapl,
    busy_core_power_w for estimate); an option no candidate declares raises BackendChoiceError.
    """
    candidates = AUTO_ORDER if preference == "auto" else (backend_spec(preference).name,)
    known = tuple(dict.fromkeys(o for name in candidates for o in BACKENDS[name].options))
    for option in options:
        if option not in known:
            raise BackendChoiceError(
                unknown_choice_message(f"option of energy backend {preference!r}", option, known)
            )
    if preference != "auto":
        return open_backend(preference, **options), ()
    reasons: list[str] = []
    for name in candidates:
        accepted = {k: v for k, v in options.items() if k in BACKENDS[name].options}
        try:
            return open_backend(name, **accepted), tuple(reasons)
        except BackendUnavailableError as error:
            reasons.append(f"{name}: {error.reason}")
    raise BackendUnavailableError("auto", "; ".join(reasons))
