"""The Slurm dry run of `lassi-hpc check`, against FAKE sinfo / sbatch answers (the command seam);
tests/slurm runs it against the real test cluster."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from lassi_hpc.slurm.site_check import CheckResult, JobRequest, check_requests

SINFO = {
    "a100": "up|4:00:00|gpu:a100:4(S:0-1)\n",
    "long": "up|infinite|(null)\n",
    "down": "down|1:00:00|(null)\n",
}


class FakeSlurm:
    """Answers sinfo from SINFO and sbatch --test-only by accepting everything but account 'bad'."""

    def __init__(self) -> None:
        self.scripts: list[str] = []

    def __call__(self, argv: Sequence[str], stdin_text: str) -> subprocess.CompletedProcess[str]:
        if argv[0] == "sinfo" and "-p" not in argv:  # the partition list
            return subprocess.CompletedProcess(list(argv), 0, "".join(f"{p}\n" for p in SINFO), "")
        if argv[0] == "sinfo":
            partition = argv[argv.index("-p") + 1]
            return subprocess.CompletedProcess(list(argv), 0, SINFO.get(partition, ""), "")
        self.scripts.append(stdin_text)
        if "--account=bad" in stdin_text:
            error = "sbatch: error: Batch job submission failed: Invalid account"
            return subprocess.CompletedProcess(list(argv), 1, "", error)
        answer = "sbatch: Job 7 to start at 2026-11-22T10:00:00 using 4 processors on nodes n1"
        return subprocess.CompletedProcess(list(argv), 0, "", answer)


def request(partition: str, walltime: str = "01:00:00", gres: str = "", *extra: str) -> JobRequest:
    lines = (f"#SBATCH --partition={partition}", f"#SBATCH --time={walltime}", *extra)
    return JobRequest("block", partition, walltime, gres, lines)


def check(*requests: JobRequest) -> tuple[list[CheckResult], FakeSlurm]:
    fake = FakeSlurm()
    return check_requests(requests, fake), fake


def test_a_request_the_partition_can_take_passes_both_checks() -> None:
    results, fake = check(request("a100", "04:00:00", "gpu:a100:4", "#SBATCH --gres=gpu:a100:4"))
    assert all(r.ok for r in results), [r.line() for r in results]
    assert "gpu:a100:4" in results[0].detail
    assert "#SBATCH --gres=gpu:a100:4" in fake.scripts[0]  # the lines go to sbatch as written


def test_too_long_a_walltime_is_named_with_the_limit() -> None:
    results, _ = check(request("a100", "1-00:00:00"))
    assert not results[0].ok
    assert "exceeds the limit 4:00:00" in results[0].detail


def test_an_infinite_limit_takes_any_walltime() -> None:
    results, _ = check(request("long", "30-00:00:00"))
    assert results[0].ok


def test_more_gpus_than_a_node_has_fails() -> None:
    results, _ = check(request("a100", "01:00:00", "gpu:a100:8"))
    assert not results[0].ok
    assert "asks gpu:a100:8" in results[0].detail


def test_a_gpu_type_the_nodes_lack_fails() -> None:
    results, _ = check(request("a100", "01:00:00", "gpu:mi100:1"))
    assert not results[0].ok


def test_unknown_and_down_partitions_fail() -> None:
    unknown, _ = check(request("nope"))
    down, _ = check(request("down"))
    assert not unknown[0].ok and "no such partition" in unknown[0].detail
    assert "sinfo lists: a100, long, down" in unknown[0].detail
    assert "did you mean" not in unknown[0].detail  # nothing like "nope"
    assert not down[0].ok and "state down" in down[0].detail


def test_sbatch_refusal_is_reported_in_its_own_words() -> None:
    results, _ = check(request("a100", "01:00:00", "", "#SBATCH --account=bad"))
    assert results[0].ok
    assert not results[1].ok
    assert "Invalid account" in results[1].detail


def test_a_misspelt_partition_is_named_with_the_likeliest_one() -> None:
    results, _ = check(request("a10o"))
    assert not results[0].ok
    assert "did you mean 'a100'?; sinfo lists: a100, long, down" in results[0].detail
