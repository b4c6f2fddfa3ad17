"""status.json beside a campaign's results file: where a running (or stopped) driver stands.

The HDF5 file is locked while the driver writes it, so `lassi-hpc status` reads this small file for
the live picture. It is replaced atomically on every update, so a reader never sees half of it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

STATUS_NAME = "status.json"


class StatusFile:
    """Accumulates the driver's state and rewrites the file on each update."""

    def __init__(self, path: Path, campaign: str) -> None:
        self.path = path
        self._state: dict[str, Any] = {
            "campaign": campaign,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at_s": time.time(),
        }

    def update(self, **fields: Any) -> None:
        self._state.update(fields)
        self._state["updated_at_s"] = time.time()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(self._state, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(partial, self.path)


def read_status(path: Path) -> dict[str, Any] | None:
    """The last state written, or None when there is no status file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return data if isinstance(data, dict) else None


def driver_alive(state: dict[str, Any]) -> bool:
    """Whether the process that wrote `state` still runs (only knowable on the same host)."""
    if state.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(state["pid"]), 0)
    except (ProcessLookupError, KeyError, ValueError):
        return False
    except PermissionError:
        return True
    return True
