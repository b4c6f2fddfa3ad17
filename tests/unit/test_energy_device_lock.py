"""One measurement per device at a time: flock-based device locks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lassi_hpc.energy.device_lock import hold_device_locks, lock_file_name
from lassi_hpc.errors import MeasurementError
from lassi_hpc.records import DeviceIdentity


def gpu(uid: str, host: str = "node1") -> DeviceIdentity:
    return DeviceIdentity(backend="nvml", kind="gpu", name="GPU", uid=uid, host=host)


def test_a_held_device_cannot_be_measured_twice(tmp_path: Path) -> None:
    with hold_device_locks([gpu("GPU-aaaa")], tmp_path):
        with (
            pytest.raises(MeasurementError) as caught,
            hold_device_locks([gpu("GPU-aaaa")], tmp_path, timeout_s=0.1),
        ):
            pass  # pragma: no cover - must not get here
        assert "GPU-aaaa" in str(caught.value)
        assert "pid" in str(caught.value)  # names the holder
        # Another device of the node is free meanwhile.
        with hold_device_locks([gpu("GPU-bbbb")], tmp_path, timeout_s=0.1):
            pass
    with hold_device_locks([gpu("GPU-aaaa")], tmp_path, timeout_s=0.1):
        pass  # released on the way out


def test_a_killed_holder_leaves_the_device_free(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import sys, time
                from pathlib import Path
                from lassi_hpc.energy.device_lock import hold_device_locks
                from lassi_hpc.records import DeviceIdentity
                device = DeviceIdentity("nvml", "gpu", "GPU", "GPU-cccc", "node1")
                with hold_device_locks([device], Path({str(tmp_path)!r})):
                    print("held", flush=True)
                    time.sleep(600)
            """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with (
            pytest.raises(MeasurementError),
            hold_device_locks([gpu("GPU-cccc")], tmp_path, timeout_s=0.1),
        ):
            pass  # pragma: no cover
    finally:
        holder.kill()
        holder.wait()
    with hold_device_locks([gpu("GPU-cccc")], tmp_path, timeout_s=5.0):
        pass


def test_only_devices_of_the_given_host_are_locked(tmp_path: Path) -> None:
    devices = [gpu("GPU-here", "node1"), gpu("GPU-there", "node2")]
    with hold_device_locks(devices, tmp_path, host="node1"):
        assert (tmp_path / lock_file_name("GPU-here")).exists()
        assert not (tmp_path / lock_file_name("GPU-there")).exists()


def test_lock_file_names_are_safe() -> None:
    assert lock_file_name("MIG-1/2:3 x") == "MIG-1_2_3_x.lock"
