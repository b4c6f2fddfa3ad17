"""The slurm tier: tests against the real one-node test cluster of scripts/test-slurm.sh.

Every test here gets the `slurm` marker. Where no test cluster runs they skip with the reason,
except under CI=true, where they fail: CI starts the cluster and must run them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lassi_hpc.testing.slurm_cluster import SlurmCluster, SlurmClusterError, probe_cluster

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # pytest calls this hook with the items of the whole session, not only this directory's.
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.slurm)


@pytest.fixture(scope="session")
def slurm_cluster() -> SlurmCluster:
    """The running test cluster (node name, partitions); skips, or fails in CI, without one."""
    try:
        return probe_cluster()
    except SlurmClusterError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(str(error))
        pytest.skip(str(error))
