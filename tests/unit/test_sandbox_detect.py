"""Layer detection, forcing a layer, and the one-line report."""

from __future__ import annotations

import dataclasses

import pytest

from lassi_hpc.errors import ConfigError
from lassi_hpc.sandbox import SANDBOX_ENV_VAR, IsolationMode, isolation_report
from lassi_hpc.sandbox.detect import host_capabilities, requested_mode, resolve_mode


def test_report_is_one_line_and_names_every_layer() -> None:
    report = isolation_report()
    assert "\n" not in report
    for layer in ("bwrap", "unshare", "uid-drop", "rlimits"):
        assert layer in report
    chosen = report.split(" as ")[0]
    assert chosen in ("bwrap", "unshare", "rlimits"), report


def test_requested_mode_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SANDBOX_ENV_VAR, raising=False)
    assert requested_mode() is IsolationMode.AUTO
    monkeypatch.setenv(SANDBOX_ENV_VAR, "UNSHARE")
    assert requested_mode() is IsolationMode.UNSHARE
    assert requested_mode("rlimits") is IsolationMode.RLIMITS, "an argument beats the variable"


def test_unknown_mode_lists_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SANDBOX_ENV_VAR, "docker")
    with pytest.raises(ConfigError) as caught:
        requested_mode()
    message = str(caught.value)
    assert "LASSI_HPC_SANDBOX" in message and "'docker'" in message
    assert "must be one of: auto, bwrap, unshare, rlimits" in message


def test_auto_falls_back_layer_by_layer() -> None:
    caps = host_capabilities()
    no_bwrap = dataclasses.replace(caps, bwrap_problem="not installed")
    neither = dataclasses.replace(no_bwrap, unshare_problem="not permitted")
    with_both = dataclasses.replace(caps, bwrap_problem="", unshare_problem="")
    assert resolve_mode("auto", with_both) is IsolationMode.BWRAP
    assert resolve_mode("auto", no_bwrap) is IsolationMode.UNSHARE
    assert resolve_mode("auto", neither) is IsolationMode.RLIMITS


def test_forcing_an_unusable_layer_says_why() -> None:
    caps = dataclasses.replace(host_capabilities(), bwrap_problem="not installed (bubblewrap)")
    with pytest.raises(ConfigError, match=r"'bwrap' was requested but is not usable.*bubblewrap"):
        resolve_mode("bwrap", caps)
