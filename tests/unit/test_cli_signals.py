"""SIGTERM stops a driver like Ctrl-C: its context managers run, and a second SIGTERM does not cut
their cleanup short. The driver is a child process that waits on a future the way the campaign
driver does."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lassi_hpc.cli_signals import interrupt_on_sigterm

DRIVER = """
import concurrent.futures, contextlib, sys, time
from pathlib import Path
from lassi_hpc.cli_signals import interrupt_on_sigterm

interrupt_on_sigterm()
closed = Path(sys.argv[1])

@contextlib.contextmanager
def results_writer():
    try:
        yield
    finally:
        print("cleanup starts", flush=True)
        time.sleep(1.0)  # the test's second SIGTERM arrives here
        closed.write_text("closed")

try:
    with results_writer():
        print("waiting", flush=True)
        concurrent.futures.wait([concurrent.futures.Future()])  # never completes
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


def expect_line(driver: subprocess.Popen[str], line: str) -> None:
    assert driver.stdout is not None
    assert driver.stdout.readline().strip() == line


def test_sigterm_unwinds_the_driver_like_ctrl_c(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(closed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        expect_line(driver, "waiting")
        driver.send_signal(signal.SIGTERM)
        expect_line(driver, "cleanup starts")
        driver.send_signal(signal.SIGTERM)
        stdout, stderr = driver.communicate(timeout=30)
    finally:
        driver.kill()
        driver.wait()
    assert driver.returncode == 130
    assert stdout.strip() == "interrupted"
    assert closed.read_text() == "closed"  # the cleanup ran to its end
    assert "SIGTERM again; still stopping" in stderr


def test_it_must_be_installed_from_the_main_thread() -> None:
    errors: list[BaseException] = []

    def install() -> None:
        try:
            interrupt_on_sigterm()
        except ValueError as error:
            errors.append(error)

    thread = threading.Thread(target=install)
    thread.start()
    thread.join()
    assert len(errors) == 1


@pytest.fixture(autouse=True)
def _keep_sigterm_handler() -> object:
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    """`lassi-hpc roofline extract ... | head -1`: the output outgrows the pipe, head goes away."""
    apps = Path(__file__).resolve().parents[2] / "examples" / "apps"
    sources = sorted(str(p) for p in apps.glob("*/cuda/*.cu")) * 30
    child = subprocess.Popen(
        [sys.executable, "-m", "lassi_hpc.cli", "roofline", "extract", *sources],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    assert child.stdout.readline().startswith(b'{"name": ')
    child.stdout.close()
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=60) == 128 + signal.SIGPIPE
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr
