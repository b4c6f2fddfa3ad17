"""A scripted `run_once` for tests of the measurement protocol: no process is started.

Each call lets `gap_s` pass (process start-up), then `duration_s` of "work" during which a fake
device, when given, draws `busy_power_w`, and returns the CommandResult such a run would give.
With a ManualClock everything is deterministic.
"""

from __future__ import annotations

from lassi_hpc.energy.clock import Clock
from lassi_hpc.energy.fake import FakeBackend
from lassi_hpc.records import CommandResult, FailureKind


def fake_command_result(
    started_at_s: float,
    ended_at_s: float,
    *,
    cpu_s: float = 0.0,
    failure: FailureKind | None = None,
    failure_detail: str = "",
    argv: tuple[str, ...] = ("fake-workload",),
) -> CommandResult:
    """A CommandResult for a run between two host times (seconds); failed when `failure` is set."""
    failed = failure is not None
    return CommandResult(
        argv=argv,
        cwd="/nonexistent/fake-workload",
        returncode=1 if failed else 0,
        stdout="",
        stderr=failure_detail,
        wall_s=ended_at_s - started_at_s,
        cpu_s=cpu_s,
        started_at_s=started_at_s,
        ended_at_s=ended_at_s,
        failure=failure,
        failure_detail=failure_detail,
        isolation="fake",
    )


class FakeWorkload:
    """Callable as `run_once`; `results` keeps every CommandResult it returned, in order.

    `fail_on_run` (1-based) makes that call return a failed result (exit code 1).
    """

    def __init__(
        self,
        clock: Clock,
        duration_s: float,
        *,
        device: FakeBackend | None = None,
        busy_power_w: float = 0.0,
        idle_power_w: float = 0.0,
        gap_s: float = 0.0,
        cpu_s: float = 0.0,
        fail_on_run: int | None = None,
    ) -> None:
        self.clock = clock
        self.duration_s = duration_s
        self.device = device
        self.busy_power_w = busy_power_w
        self.idle_power_w = idle_power_w
        self.gap_s = gap_s
        self.cpu_s = cpu_s
        self.fail_on_run = fail_on_run
        self.results: list[CommandResult] = []

    def __call__(self) -> CommandResult:
        self.clock.sleep(self.gap_s)
        started_at_s = self.clock.now_s()
        if self.device is not None:
            self.device.set_power_w(self.busy_power_w)
        self.clock.sleep(self.duration_s)
        ended_at_s = self.clock.now_s()
        if self.device is not None:
            self.device.set_power_w(self.idle_power_w)
        failing = len(self.results) + 1 == self.fail_on_run
        result = fake_command_result(
            started_at_s,
            ended_at_s,
            cpu_s=self.cpu_s,
            failure=FailureKind.EXIT_CODE if failing else None,
            failure_detail="exited with status 1" if failing else "",
        )
        self.results.append(result)
        return result
