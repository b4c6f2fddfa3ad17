"""How a results file was made: configs, versions, host, devices, git revision, time.

`collect_provenance` runs in the campaign driver when a results file is created (or resumed); the
writer stores the result under /provenance. Nothing here raises for a missing tool or package: what
cannot be found is recorded as "not found" / "not installed" / "unknown", because a results file
without provenance is worse than one that says a compiler was absent.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import h5py

import lassi_hpc
from lassi_hpc.records import DeviceIdentity

NOT_FOUND: Final = "not found"
NOT_INSTALLED: Final = "not installed"
UNKNOWN: Final = "unknown"

DEFAULT_COMPILERS: Final = ("g++", "nvcc", "hipcc")

# Python distributions whose versions shape a campaign's results (optional ones may be absent).
PACKAGES: Final = (
    "lassi_hpc",
    "parsl",
    "h5py",
    "numpy",
    "psutil",
    "nvidia-ml-py",
    "amdsmi",
    "mpi4py",
    "vllm",
    "llama_cpp_python",
)

# Driver versions readable without a vendor library (first line of each file).
DRIVER_FILES: Final = (
    ("nvidia", "/proc/driver/nvidia/version"),
    ("amdgpu", "/sys/module/amdgpu/version"),
    ("rocm", "/opt/rocm/.info/version"),
)

_VERSION_PATTERN: Final = re.compile(r"\d+\.\d+")


def utc_now() -> str:
    """Current UTC time, ISO 8601 to the second with a Z suffix."""
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    return now.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Provenance:
    """Everything recorded about how a results file was made.

    `campaign_config` / `site_config` are the resolved configs as text (TOML or JSON, as the driver
    passes them). `packages`, `compilers` and `drivers` map a name to a version line; `host` holds
    hostname, os, machine, cpu_model, cpus_total, cpus_usable, memory_bytes (bytes) and
    slurm_job_id. `collected_utc` is ISO 8601 with a Z suffix.
    """

    campaign_config: str
    site_config: str
    python: str
    packages: Mapping[str, str]
    compilers: Mapping[str, str]
    drivers: Mapping[str, str]
    host: Mapping[str, str | int]
    devices: tuple[DeviceIdentity, ...]
    git_revision: str
    collected_utc: str = field(default_factory=utc_now)

    def versions(self) -> dict[str, Any]:
        """The `versions` JSON object stored in the file."""
        return {
            "python": self.python,
            "packages": dict(self.packages),
            "compilers": dict(self.compilers),
            "drivers": dict(self.drivers),
        }

    def devices_as_dicts(self) -> list[dict[str, Any]]:
        """The `devices` JSON list stored in the file (DeviceIdentity fields)."""
        # Through JSON, so that tuples come back as the lists a reader of the file sees.
        return list(json.loads(json.dumps([dataclasses.asdict(d) for d in self.devices])))


def collect_provenance(
    campaign_text: str,
    site_text: str,
    devices: Sequence[DeviceIdentity],
    compilers: Sequence[str] = DEFAULT_COMPILERS,
    *,
    repo_dir: str | os.PathLike[str] | None = None,
    timeout_s: float = 10.0,
) -> Provenance:
    """Gather the provenance of a campaign run on this host.

    `compilers` are run with `--version` (each limited to `timeout_s` seconds); `repo_dir` is where
    the git revision is read (default: the current directory), with "-dirty" appended when the
    work tree has uncommitted changes, or "unknown" outside a repository.
    """
    return Provenance(
        campaign_config=campaign_text,
        site_config=site_text,
        python=sys.version.replace("\n", " "),
        packages=package_versions(),
        compilers={name: compiler_version(name, timeout_s) for name in compilers},
        drivers=driver_versions(),
        host=host_identity(),
        devices=tuple(devices),
        git_revision=git_revision(
            Path(repo_dir) if repo_dir is not None else Path.cwd(), timeout_s
        ),
    )


def package_versions() -> dict[str, str]:
    """Installed versions of PACKAGES ("not installed" when absent) and of the HDF5 library."""
    versions: dict[str, str] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = NOT_INSTALLED
    if versions["lassi_hpc"] == NOT_INSTALLED:
        # Run from a source checkout without `pip install`: the module still knows its version.
        versions["lassi_hpc"] = f"{lassi_hpc.__version__} (source tree)"
    versions["libhdf5"] = str(h5py.version.hdf5_version)
    return versions


def compiler_version(name: str, timeout_s: float) -> str:
    """The version line of `name --version`, "not found" when absent, or what went wrong.

    The first line holding a dotted number is taken rather than simply the first line, because
    nvcc's first line ("nvcc: NVIDIA (R) Cuda compiler driver") carries no version.
    """
    executable = shutil.which(name)
    if executable is None:
        return NOT_FOUND
    try:
        completed = subprocess.run(
            [executable, "--version"],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout_s,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return f"{UNKNOWN} (--version took more than {timeout_s:g} s)"
    except OSError as exc:
        return f"{UNKNOWN} ({exc.strerror or exc})"
    lines = [line.strip() for line in (completed.stdout + completed.stderr).splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return f"{UNKNOWN} (--version printed nothing, exit status {completed.returncode})"
    return next((line for line in lines if _VERSION_PATTERN.search(line)), lines[0])


def driver_versions() -> dict[str, str]:
    """GPU driver and ROCm versions from the kernel and the install tree ("not found" if absent)."""
    versions: dict[str, str] = {}
    for name, path in DRIVER_FILES:
        try:
            first = Path(path).read_text(errors="replace").splitlines()
        except OSError:
            versions[name] = NOT_FOUND
            continue
        versions[name] = first[0].strip() if first else UNKNOWN
    return versions


def host_identity() -> dict[str, str | int]:
    """Hostname, OS, CPU model, CPU counts, memory (bytes) and the Slurm job id ("" outside)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 0
    return {
        "hostname": socket.gethostname(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpus_total": os.cpu_count() or 0,
        # Under Slurm or taskset the process may use fewer CPUs than the node has.
        "cpus_usable": usable,
        "memory_bytes": _memory_bytes(),
        # The driver sbatch script clears SLURM_* (so that Parsl's blocks are fresh jobs) and
        # keeps its job id in LASSI_HPC_DRIVER_JOB_ID.
        "slurm_job_id": os.environ.get("SLURM_JOB_ID")
        or os.environ.get("LASSI_HPC_DRIVER_JOB_ID", ""),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model"):
                return value.strip()
    except OSError:
        pass
    return platform.processor() or UNKNOWN


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def git_revision(repo_dir: Path, timeout_s: float) -> str:
    """HEAD's commit of the repository holding `repo_dir` (+"-dirty"), or "unknown"."""
    if shutil.which("git") is None:
        return UNKNOWN
    try:
        head = subprocess.run(
            ["git", "-C", str(repo_dir), "rev-parse", "--verify", "HEAD"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if head.returncode != 0:
            return UNKNOWN
        status = subprocess.run(
            ["git", "-C", str(repo_dir), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (subprocess.TimeoutExpired, OSError):
        return UNKNOWN
    revision = head.stdout.strip()
    return f"{revision}-dirty" if status.returncode == 0 and status.stdout.strip() else revision
