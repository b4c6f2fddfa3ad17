"""`lassi-hpc measure`: the command line around the measurement protocol (FAKE device, estimate)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from lassi_hpc.cli import main

QUICK = ["--reps", "2", "--min-window", "0.05", "--idle", "0.05", "--settle", "0.02"]


def test_json_on_a_fake_device_says_what_was_measured_and_how(
    capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    trace = tmp_path / "trace.csv"
    code = main(
        ["measure", "--backend", "fake", "--sampler", "thread", "--json", *QUICK,
         "--trace-csv", str(trace), "--", sys.executable, "-c", "print('hello from the command')"]
    )  # fmt: skip
    out, err = capfd.readouterr()  # file descriptors: the command writes to fd 2 directly
    assert code == 0
    document = json.loads(out)  # only the document on stdout
    measurement = document["measurement"]
    assert measurement["method"] == "counter"
    assert measurement["backend"] == "fake"
    assert "fake-device" in measurement["flags"]
    assert measurement["is_estimate"] is False
    assert len(measurement["repetitions"]) == 2
    assert document["command"][-1] == "print('hello from the command')"
    assert "hello from the command" in err  # the command's output went to stderr
    with trace.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and set(rows[0]) == {"repetition", "time_s", "power_w", "fake-device-0_w"}
    assert {row["repetition"] for row in rows} == {"0", "1"}


def test_an_estimate_is_labelled_in_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["measure", "--backend", "estimate", *QUICK, "--quiet-command", "--", "true"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "ESTIMATE, not a measurement" in out
    assert "flags: estimate" in out


def test_a_failing_command_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["measure", "--backend", "estimate", *QUICK, "--", "sh", "-c", "exit 3"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "run 1 of repetition 1 failed (exit-code): exited with status 3" in err


def test_no_command_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["measure", "--backend", "estimate", "--"]) == 2
    assert "no command given" in capsys.readouterr().err


def test_an_unknown_backend_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["measure", "--backend", "nvmll", "--sampler", "none", "--", "true"]) == 2
    err = capsys.readouterr().err
    assert "unknown energy backend 'nvmll'" in err
    assert "did you mean 'nvml'" in err
