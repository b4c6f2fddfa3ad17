"""Configs for campaigns on the one-node test Slurm: apps routed to the a100 and mi100 partitions
(fake GPUs as GRES), the LLM a FAKE `vllm` program (the scripted server, at the HTTP seam) started
inside a block on the llm partition, exactly as a real vLLM server would be.

The bundled tiny app is copied twice so that one copy can go to each partition. The scripted
answer is an honest improvement of it, so every trial ends with an accepted candidate.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "tests" / "data" / "apps" / "tiny"

HONEST = """```cpp kernel.cpp
#include "kernel.h"

// Every repetition computed the same sum: compute it once.
double series_sum(long n, int repeats) {
  double sum = 0.0;
  if (repeats <= 0) return 0.0;
#pragma omp parallel for reduction(+ : sum)
  for (long i = 0; i < n; i++) sum += 1.0 / ((double)(i + 1) * (double)(i + 1));
  return sum;
}
```
"""


@dataclass(frozen=True)
class SlurmCampaign:
    campaign: Path
    site: Path
    results: Path  # the campaign's HDF5 file
    apps: dict[str, str]  # app -> partition


def write_slurm_campaign(
    root: Path, trials: dict[str, int], name: str = "slurmtest"
) -> SlurmCampaign:
    """Configs under `root` (which must be on a filesystem the jobs see: here, the same machine).

    `trials` maps the partitions "a100" / "mi100" to the trials of the app sent there.
    """
    suite = root / "suite"
    apps = {}
    for partition in trials:
        app = f"tiny-{partition}"
        shutil.copytree(TINY, suite / app)
        manifest = suite / app / "app.toml"
        text = manifest.read_text().replace('name = "tiny"', f'name = "{app}"')
        manifest.write_text(text.replace('["200000", "20"]', '["2000000", "20"]'))
        apps[app] = partition
    fake_bin = root / "fake-bin"
    fake_bin.mkdir()
    answer = root / "answer.txt"
    answer.write_text(HONEST)
    vllm = fake_bin / "vllm"
    # A FAKE vllm: the scripted server, taking vllm's command line (it ignores the rest).
    vllm.write_text(
        "#!/bin/bash\n"
        f'exec {sys.executable} -m lassi_hpc.testing.serve_scripted --text "$(cat {answer})" '
        '--model scripted-fake "$@"\n'
    )
    vllm.chmod(0o755)
    app_entries = "".join(
        f'\n[[apps]]\nname = "{app}"\npartition = "{partition}"\n'
        for app, partition in apps.items()
    )
    campaign = root / "campaign.toml"
    campaign.write_text(
        f"""
[campaign]
name = "{name}"
suite = "examples"
suite_path = "suite"
results_dir = "results"
trials = {max(trials.values())}
strategies = ["vanilla"]
{app_entries}
[measure]
repetitions = 2
min_window_s = 0.3
idle_s = 0.0
max_start_delay_s = 0.0
settle_s = 0.0

[llm]
generator = "fake-vllm"
max_tokens = 512
timeout_s = 60
retries = 1

[refine]
max_iterations = 1
max_fix_attempts = 0
judge = false
rescore = false
"""
    )
    path = os.environ.get("PATH", "")
    site = root / "site.toml"
    site.write_text(
        f"""
[site]
name = "test-slurm"
scheduler = "slurm"
scratch_dir = "scratch"

[slurm]
# The jobs run on this machine: the test's interpreter and the FAKE vllm come first on PATH.
setup = ["export PATH={fake_bin}:{Path(sys.executable).parent}:{path}"]
shared_dir = "{root / "shared"}"

[slurm.driver]
partition = "debug"
walltime = "00:30:00"
cores = 1

[toolchains.gcc-omp]
language = "omp"
compiler = "g++"
make_vars = {{ CC = "g++" }}

[[partitions]]
name = "a100"
toolchain = "gcc-omp"
device = "nvidia"
gpus_per_node = 2
gpu_type = "a100"
gpu_model = "fake A100 (GRES on a dummy device file)"
walltime = "00:30:00"
energy_backend = "estimate"

[[partitions]]
name = "mi100"
toolchain = "gcc-omp"
device = "amd"
gpus_per_node = 2
gpu_type = "mi100"
gpu_model = "fake MI100 (GRES on a dummy device file)"
walltime = "00:30:00"
energy_backend = "estimate"

[llm_servers.fake-vllm]
kind = "vllm"
model = "scripted-fake"
api = "completions"
workers = 2
startup_timeout_s = 120

[llm_servers.fake-vllm.slurm]
partition = "llm"
walltime = "00:30:00"
"""
    )
    return SlurmCampaign(campaign, site, root / "results" / name / f"{name}.h5", apps)
