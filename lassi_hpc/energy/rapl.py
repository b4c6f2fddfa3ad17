"""RAPL CPU package energy through the Linux powercap files.

Each package domain is a directory `<root>/intel-rapl:N` holding `name` ("package-N"),
`energy_uj` (a counter in microjoules) and `max_energy_range_uj` (the value at which it wraps to 0).
Sub-domains (`intel-rapl:N:M`: core, uncore, dram) are inside the package figure and are skipped, as
is "psys" (the whole platform, which would count the packages twice). AMD Zen CPUs expose the same
files under the same names on recent kernels.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from lassi_hpc.energy.backend import BackendUnavailableError, DeviceReading
from lassi_hpc.energy.host import DEFAULT_CPUINFO_PATH, cpu_model, host_name
from lassi_hpc.errors import MeasurementError
from lassi_hpc.records import DeviceIdentity, EnergyMethod

DEFAULT_POWERCAP_ROOT = Path("/sys/class/powercap")

_PACKAGE_DIR = re.compile(r"intel-rapl:\d+")


@dataclass(frozen=True)
class RaplDomain:
    """One package domain's files."""

    directory: Path
    label: str  # the content of `name`, e.g. "package-0"
    max_energy_range_uj: int

    @property
    def energy_file(self) -> Path:
        return self.directory / "energy_uj"


def counter_delta_uj(previous_uj: int, current_uj: int, max_energy_range_uj: int) -> int:
    """Energy in microjoules between two readings of a counter that wraps at max_energy_range_uj.

    A reading lower than the previous one means the counter wrapped once; more than one wrap
    between two readings cannot be seen, so readings must come more often than the wrap period
    (max_energy_range_uj / package power: tens of minutes at a few hundred watts).
    """
    if current_uj >= previous_uj:
        return current_uj - previous_uj
    return current_uj + max_energy_range_uj - previous_uj


def find_package_domains(powercap_root: Path) -> tuple[RaplDomain, ...]:
    """The readable package domains under `powercap_root`.

    Raises BackendUnavailableError with a one-line reason (not present / not readable / none found).
    """
    if not powercap_root.is_dir():
        raise BackendUnavailableError("rapl", f"{powercap_root} is not present")
    domains = []
    for directory in sorted(powercap_root.iterdir(), key=lambda p: p.name):
        if not _PACKAGE_DIR.fullmatch(directory.name):
            continue
        label = _read_text(directory / "name").strip()
        if not label.startswith("package"):
            continue
        max_range_uj = _read_int(directory / "max_energy_range_uj")
        domain = RaplDomain(directory, label, max_range_uj)
        _read_int(domain.energy_file)
        domains.append(domain)
    if not domains:
        raise BackendUnavailableError("rapl", f"no RAPL package domain under {powercap_root}")
    return tuple(domains)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise BackendUnavailableError("rapl", f"{path} is not present") from None
    except (OSError, UnicodeDecodeError) as error:
        # energy_uj has been root-only since Linux 5.10 (a power side channel, CVE-2020-8694).
        detail = error.strerror if isinstance(error, OSError) else "not ASCII"
        raise BackendUnavailableError(
            "rapl", f"{path} is not readable ({detail}); RAPL is often readable by root only"
        ) from None


def _read_int(path: Path) -> int:
    text = _read_text(path).strip()
    try:
        return int(text)
    except ValueError:
        raise BackendUnavailableError(
            "rapl", f"{path} is not readable (not an integer: {text[:40]!r})"
        ) from None


class RaplBackend:
    """Sum of the package counters, in joules since the backend was opened."""

    name = "rapl"
    method = EnergyMethod.COUNTER

    def __init__(
        self,
        powercap_root: Path = DEFAULT_POWERCAP_ROOT,
        *,
        cpuinfo_path: Path = DEFAULT_CPUINFO_PATH,
    ) -> None:
        self.powercap_root = powercap_root
        self._domains = find_package_domains(powercap_root)
        host = host_name()
        model = cpu_model(cpuinfo_path)
        self._devices = tuple(
            DeviceIdentity(
                backend=self.name,
                kind="cpu",
                name=f"{model} ({domain.label})",
                uid=f"{host}:{domain.directory.name}",
                host=host,
            )
            for domain in self._domains
        )
        # Reads may come from the protocol and a sampler thread; the wrap bookkeeping is shared.
        self._lock = threading.Lock()
        self._last_uj = [self._read_counter_uj(d) for d in self._domains]
        self._domain_uj = [0 for _ in self._domains]
        self._total_uj = 0
        # Power comes from counter differences between successive read_devices() calls.
        self._last_sample: tuple[float, list[int]] | None = None

    def _read_counter_uj(self, domain: RaplDomain) -> int:
        try:
            return int(domain.energy_file.read_text(encoding="ascii").strip())
        except (OSError, ValueError) as error:
            raise MeasurementError(f"rapl: cannot read {domain.energy_file}: {error}") from error

    def devices(self) -> tuple[DeviceIdentity, ...]:
        return self._devices

    def _update(self) -> None:
        for index, domain in enumerate(self._domains):
            current_uj = self._read_counter_uj(domain)
            delta_uj = counter_delta_uj(
                self._last_uj[index], current_uj, domain.max_energy_range_uj
            )
            self._domain_uj[index] += delta_uj
            self._total_uj += delta_uj
            self._last_uj[index] = current_uj

    def read_energy_j(self) -> float | None:
        with self._lock:
            self._update()
            return self._total_uj / 1e6

    def read_power_w(self) -> float | None:
        # powercap offers no power reading; the sampler derives power from counter differences.
        return None

    def read_devices(self) -> tuple[DeviceReading, ...]:
        """Each package's counter; power is the counter's rate since the previous call (NaN at
        the first call). The counter itself is refreshed by the CPU about every millisecond."""
        with self._lock:
            self._update()
            now_s = time.time()
            counters_uj = list(self._domain_uj)
            previous = self._last_sample
            self._last_sample = (now_s, counters_uj)
        readings = []
        for index, device in enumerate(self._devices):
            power_w = math.nan
            if previous is not None and now_s > previous[0]:
                power_w = (counters_uj[index] - previous[1][index]) / 1e6 / (now_s - previous[0])
            readings.append(DeviceReading(device.uid, power_w, counters_uj[index] / 1e6, math.nan))
        return tuple(readings)

    def problems(self) -> tuple[str, ...]:
        return ()

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"RaplBackend(powercap_root={str(self.powercap_root)!r})"


def open_rapl(powercap_root: str | Path = DEFAULT_POWERCAP_ROOT) -> RaplBackend:
    """Registry opener of the "rapl" backend; BackendUnavailableError with a reason if it cannot."""
    return RaplBackend(Path(powercap_root))
