"""Which GPUs a measurement covers: the `select` option of the NVML and AMD SMI backends.

`select` is one of:

- "visible" (the default): the devices the workload sees through the runtime's variables:
  NVIDIA: CUDA_VISIBLE_DEVICES, else NVIDIA_VISIBLE_DEVICES; AMD: ROCR_VISIBLE_DEVICES, then
  HIP_VISIBLE_DEVICES (or CUDA_VISIBLE_DEVICES, which HIP reads when HIP_VISIBLE_DEVICES is unset)
  applied to what ROCR left. A variable that is unset selects every device;
- "all": every device the vendor library enumerates;
- a list of UUIDs / PCI bus ids (or one string with commas), never indices.

Tokens in the variables may be indices, UUIDs ("GPU-…"; a unique prefix, as CUDA accepts) or MIG
ids ("MIG-…"). Every token is resolved to a device named by its UUID; a MIG id selects the GPU that
holds the instance (its energy and power are the whole GPU's). A token that names no device raises
BackendUnavailableError naming the token and the devices seen: measuring a different set of GPUs
than the workload uses would give a wrong figure silently. A negative index ends the list, as it
does for CUDA ("-1" is the usual way to hide every GPU).

Index tokens are trusted only where the two numberings agree. CUDA numbers devices by
CUDA_DEVICE_ORDER, FASTEST_FIRST by default, while NVML enumerates them by PCI bus id; the two agree
when CUDA_DEVICE_ORDER=PCI_BUS_ID or when every GPU is the same model (FASTEST_FIRST then falls back
to bus order). On a node with mixed models an index token raises instead. UUIDs always work. ROCr
numbers devices in KFD topology order, which is the order AMD SMI enumerates them in.
NVIDIA_VISIBLE_DEVICES is the container runtime's variable: inside a container NVML already sees
only the exposed devices, renumbered, and outside one CUDA ignores the variable, so its index tokens
(and "all", "none", "void") select every device NVML sees; its UUID tokens are resolved as usual.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lassi_hpc.energy.backend import BackendUnavailableError

VISIBLE = "visible"
ALL = "all"


@dataclass(frozen=True)
class SelectableDevice:
    """One device as the vendor library enumerates it.

    `index` is its position in the library's enumeration; `uid` its UUID (how the backend names
    it); `aliases` other ids that name it (MIG instance UUIDs, the ROCr "GPU-<serial>" form).
    """

    index: int
    uid: str
    pci_bus_id: str
    model: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Selection:
    """The devices a measurement covers, in selection order, each once.

    `how` says what decided it (e.g. "CUDA_VISIBLE_DEVICES='1,GPU-8f…'", "all devices"); `tokens`
    maps a device's uid to the token that chose it when that token was not its own uid or index
    (e.g. a MIG id), so the backend can record it.
    """

    devices: tuple[SelectableDevice, ...]
    how: str
    tokens: Mapping[str, str]


def pci_bus_id_key(text: str) -> str:
    """A PCI bus id in one spelling: lower case, domain as 4 hex digits ("0000:3b:00.0").

    NVML writes "00000000:3B:00.0" (8-digit domain), AMD SMI and lspci "0000:3b:00.0".
    """
    cleaned = text.strip().lower()
    match = re.fullmatch(r"(?:([0-9a-f]+):)?([0-9a-f]{1,2}):([0-9a-f]{1,2})\.([0-7])", cleaned)
    if not match:
        return cleaned
    domain, bus, device, function = match.groups()
    return f"{int(domain or '0', 16):04x}:{int(bus, 16):02x}:{int(device, 16):02x}.{function}"


def device_list_tokens(value: str) -> tuple[str, ...]:
    """The tokens of a visible-devices variable: comma separated, blanks dropped, up to a negative
    index (which ends the list for CUDA and HIP)."""
    tokens: list[str] = []
    for raw in value.split(","):
        token = raw.strip()
        if not token:
            continue
        if re.fullmatch(r"-\d+", token):
            break
        tokens.append(token)
    return tuple(tokens)


def _describe(devices: Sequence[SelectableDevice]) -> str:
    if not devices:
        return "none"
    return ", ".join(f"{d.index}: {d.uid} ({d.pci_bus_id}, {d.model})" for d in devices)


def _matches_id(token: str, device: SelectableDevice) -> bool:
    wanted = token.lower()
    # The MIG ids of drivers before R470 name the parent GPU: "MIG-GPU-<uuid>/<gi>/<ci>".
    old_mig = re.fullmatch(r"mig-(gpu-[^/]+)/\d+/\d+", wanted)
    if old_mig:
        wanted = old_mig.group(1)
    names = (device.uid, *device.aliases)
    if any(wanted == name.lower() for name in names):
        return True
    return pci_bus_id_key(token) == pci_bus_id_key(device.pci_bus_id)


def _matches_prefix(token: str, device: SelectableDevice) -> bool:
    wanted = token.lower()
    return any(name.lower().startswith(wanted) for name in (device.uid, *device.aliases))


def resolve_token(
    token: str,
    candidates: Sequence[SelectableDevice],
    *,
    backend: str,
    source: str,
    indices_allowed: bool,
    index_problem: str = "",
) -> SelectableDevice:
    """The device `token` names among `candidates` (indices count within `candidates`).

    `source` names where the token came from, for the error ("CUDA_VISIBLE_DEVICES", "select").
    `index_problem`, when not empty, says why index tokens cannot be trusted here.
    Raises BackendUnavailableError when the token names no device, or more than one.
    """
    seen = f"devices seen: {_describe(candidates)}"
    if re.fullmatch(r"\d+", token):
        if not indices_allowed:
            raise BackendUnavailableError(
                backend,
                f"{source} token {token!r} is an index; name devices by UUID or PCI bus id "
                f"({seen})",
            )
        if index_problem:
            raise BackendUnavailableError(backend, f"{source} token {token!r}: {index_problem}")
        position = int(token)
        if position >= len(candidates):
            raise BackendUnavailableError(
                backend, f"{source} token {token!r} names no device ({seen})"
            )
        return candidates[position]
    exact = [device for device in candidates if _matches_id(token, device)]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        raise BackendUnavailableError(
            backend, f"{source} token {token!r} names several devices ({seen})"
        )
    prefixed = [device for device in candidates if _matches_prefix(token, device)]
    if len(prefixed) == 1 and token.lower().startswith(("gpu-", "mig-")):
        return prefixed[0]
    if len(prefixed) > 1:
        raise BackendUnavailableError(
            backend, f"{source} token {token!r} is a prefix of several devices ({seen})"
        )
    raise BackendUnavailableError(backend, f"{source} token {token!r} names no device ({seen})")


def _resolve_all(
    tokens: Sequence[str],
    candidates: Sequence[SelectableDevice],
    *,
    backend: str,
    source: str,
    indices_allowed: bool,
    index_problem: str = "",
) -> tuple[tuple[SelectableDevice, ...], dict[str, str]]:
    chosen: dict[str, SelectableDevice] = {}
    chosen_by: dict[str, str] = {}
    for token in tokens:
        device = resolve_token(
            token,
            candidates,
            backend=backend,
            source=source,
            indices_allowed=indices_allowed,
            index_problem=index_problem,
        )
        if device.uid not in chosen:
            chosen[device.uid] = device
            if token.lower() != device.uid.lower() and not token.isdigit():
                chosen_by[device.uid] = token
    return tuple(chosen.values()), chosen_by


def _explicit(
    select: str | Sequence[str], devices: Sequence[SelectableDevice], backend: str
) -> Selection | None:
    """The selection for "all" or an explicit list; None for "visible"."""
    if isinstance(select, str):
        if select == VISIBLE:
            return None
        if select == ALL:
            return Selection(tuple(devices), "all devices (select='all')", {})
        tokens = device_list_tokens(select)
    else:
        tokens = tuple(str(item).strip() for item in select)
    if not tokens:
        raise BackendUnavailableError(
            backend,
            f"select={select!r} names no device; it must be 'visible', 'all' or a list of "
            "UUIDs / PCI bus ids",
        )
    chosen, chosen_by = _resolve_all(
        tokens, devices, backend=backend, source="select", indices_allowed=False
    )
    return Selection(chosen, f"select={list(tokens)!r}", chosen_by)


def select_nvidia_devices(
    select: str | Sequence[str],
    devices: Sequence[SelectableDevice],
    environ: Mapping[str, str],
    *,
    backend: str = "nvml",
) -> Selection:
    """The NVIDIA devices a measurement covers (see the module docstring for the rules)."""
    explicit = _explicit(select, devices, backend)
    if explicit is not None:
        return explicit
    cuda = environ.get("CUDA_VISIBLE_DEVICES")
    if cuda is not None:
        index_problem = ""
        order = environ.get("CUDA_DEVICE_ORDER", "FASTEST_FIRST")
        models = sorted({device.model for device in devices})
        if order != "PCI_BUS_ID" and len(models) > 1:
            index_problem = (
                f"CUDA numbers devices with CUDA_DEVICE_ORDER={order} and the GPUs differ "
                f"({', '.join(models)}), so CUDA's indices need not be NVML's; name devices by "
                "UUID or set CUDA_DEVICE_ORDER=PCI_BUS_ID"
            )
        chosen, chosen_by = _resolve_all(
            device_list_tokens(cuda),
            devices,
            backend=backend,
            source="CUDA_VISIBLE_DEVICES",
            indices_allowed=True,
            index_problem=index_problem,
        )
        return Selection(chosen, f"CUDA_VISIBLE_DEVICES={cuda!r}", chosen_by)
    container = environ.get("NVIDIA_VISIBLE_DEVICES")
    if container is not None:
        tokens = device_list_tokens(container)
        named = [t for t in tokens if t.lower() not in {"all", "none", "void"} and not t.isdigit()]
        if not named:
            return Selection(
                tuple(devices), f"all devices NVML sees (NVIDIA_VISIBLE_DEVICES={container!r})", {}
            )
        chosen, chosen_by = _resolve_all(
            named, devices, backend=backend, source="NVIDIA_VISIBLE_DEVICES", indices_allowed=False
        )
        return Selection(chosen, f"NVIDIA_VISIBLE_DEVICES={container!r}", chosen_by)
    return Selection(tuple(devices), "all devices (no CUDA_VISIBLE_DEVICES)", {})


def select_amd_devices(
    select: str | Sequence[str],
    devices: Sequence[SelectableDevice],
    environ: Mapping[str, str],
    *,
    backend: str = "amdsmi",
) -> Selection:
    """The AMD devices a measurement covers (see the module docstring for the rules)."""
    explicit = _explicit(select, devices, backend)
    if explicit is not None:
        return explicit
    visible = tuple(devices)
    how: list[str] = []
    chosen_by: dict[str, str] = {}
    rocr = environ.get("ROCR_VISIBLE_DEVICES")
    if rocr is not None:
        visible, by = _resolve_all(
            device_list_tokens(rocr),
            visible,
            backend=backend,
            source="ROCR_VISIBLE_DEVICES",
            indices_allowed=True,
        )
        chosen_by.update(by)
        how.append(f"ROCR_VISIBLE_DEVICES={rocr!r}")
    for variable in ("HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"):
        hip = environ.get(variable)
        if hip is None:
            continue
        # HIP numbers the devices ROCr left visible, from 0.
        visible, by = _resolve_all(
            device_list_tokens(hip),
            visible,
            backend=backend,
            source=variable + (" (after ROCR_VISIBLE_DEVICES)" if rocr is not None else ""),
            indices_allowed=True,
        )
        chosen_by.update(by)
        how.append(f"{variable}={hip!r}")
        break
    if not how:
        return Selection(visible, "all devices (no ROCR_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES)", {})
    return Selection(visible, ", then ".join(how), chosen_by)
