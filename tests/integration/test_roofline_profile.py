"""`lassi-hpc roofline profile` end to end: real nvcc (and hipcc) build, real Parsl (local HTEX),
real sandbox, real HDF5, with a FAKE `ncu` (no GPU here) that prints the hand-written ncu page of
tests/data/roofline without running the binary, and a FAKE `rocprofv3` that writes the
hand-written rocprofv3 file as pass files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lassi_hpc.cli import main
from lassi_hpc.config import load_campaign, load_site
from lassi_hpc.flow.roofline_profile import default_roofline_path, run_roofline_profile
from lassi_hpc.roofline.specs import gpu_spec
from lassi_hpc.store.roofline_codec import read_roofline
from lassi_hpc.testing.fake_rocprofv3 import install_fake_rocprofv3, split_into_passes

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CANNED = REPO / "tests" / "data" / "roofline" / "ncu_raw.csv"
CANNED_V3 = REPO / "tests" / "data" / "roofline" / "rocprofv3_counter_collection.csv"

APP_TOML = """
[app]
name = "tinycu"
pattern = "streaming"
summary = "One saxpy kernel."

[build]
command = ["make"]
binary = "main"
timeout_s = 120

[run]
timeout_s = 10

[inputs.default]
args = ["1024"]

[oracle]
compare = "stdout"

[variants.cuda]
language = "cuda"
dir = "cuda"
sources = ["main.cu", "Makefile"]
editable = ["main.cu"]
"""

MAIN_CU = """
#include <cstdio>
#include <cstdlib>
__global__ void saxpy(int n, float a, const float* x, float* y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}
int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 1024;
  float *x, *y;
  cudaMalloc(&x, n * sizeof(float));
  cudaMalloc(&y, n * sizeof(float));
  saxpy<<<(n + 255) / 256, 256>>>(n, 2.0f, x, y);
  cudaDeviceSynchronize();
  std::printf("PASS\\n");
  return 0;
}
"""

MAKEFILE = """
CC ?= nvcc
ARCH ?= sm_80
main: main.cu
\t$(CC) -arch=$(ARCH) -O2 main.cu -o main
"""

FAKE_NCU = """#!/bin/sh
# FAKE ncu for tests: prints the canned raw page; checks the built binary is there, never runs it,
# and checks that every argument of the program naming a file beside its directory is readable.
[ -x ./main ] || { echo "FAKE ncu: no ./main in $(pwd)" >&2; exit 3; }
for arg in "$@"; do
  case "$arg" in
    ../*) [ -r "$arg" ] || { echo "FAKE ncu: cannot read $arg from $(pwd)" >&2; exit 4; } ;;
  esac
done
cat "$(dirname "$0")/canned.csv"
"""

# The app reads a file from beside its variant directory, as many HeCBench apps do.
RUN_FILE_LINES = {
    'args = ["1024"]': 'args = ["1024", "../data/scale.txt"]',
    'editable = ["main.cu"]': 'editable = ["main.cu"]\nrun_files = ["data/scale.txt"]',
}

SITE = """
[site]
name = "roofline-test"
scheduler = "local"
scratch_dir = "scratch"

[toolchains.nvcc]
language = "cuda"
compiler = "nvcc"
make_vars = {{ CC = "nvcc", ARCH = "sm_80" }}

[[partitions]]
name = "gpu"
toolchain = "nvcc"
device = "nvidia"
energy_backend = "estimate"
run_env = {{ PATH = "{fake_bin}:/usr/local/bin:/usr/bin:/bin" }}

[sandbox]
memory_bytes = 0
"""


def write_configs(tmp_path: Path, with_run_file: bool = False) -> tuple[Path, Path]:
    app = tmp_path / "suite" / "tinycu"
    (app / "cuda").mkdir(parents=True)
    app_toml = APP_TOML
    if with_run_file:
        for line, replacement in RUN_FILE_LINES.items():
            assert line in app_toml
            app_toml = app_toml.replace(line, replacement)
        (app / "data").mkdir()
        (app / "data" / "scale.txt").write_text("2.0\n")
    (app / "app.toml").write_text(app_toml)
    (app / "cuda" / "main.cu").write_text(MAIN_CU)
    (app / "cuda" / "Makefile").write_text(MAKEFILE)
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    shutil.copy(CANNED, fake_bin / "canned.csv")
    (fake_bin / "ncu").write_text(FAKE_NCU)
    (fake_bin / "ncu").chmod(0o755)
    (fake_bin / "canned.csv").chmod(0o644)
    fake_bin.chmod(0o755)
    campaign = tmp_path / "campaign.toml"
    campaign.write_text(
        """
[campaign]
name = "rtest"
suite = "examples"
suite_path = "suite"
results_dir = "results"
variants = ["cuda"]

[[apps]]
name = "tinycu"
"""
    )
    site = tmp_path / "site.toml"
    site.write_text(SITE.format(fake_bin=fake_bin))
    return campaign, site


@pytest.fixture
def configs(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc is not installed")
    return write_configs(tmp_path)


def test_profile_builds_runs_the_fake_ncu_through_parsl_and_stores_labels(
    configs: tuple[Path, Path],
) -> None:
    campaign_file, site_file = configs
    campaign = load_campaign(campaign_file)
    outcome = run_roofline_profile(
        campaign, load_site(site_file), gpu=gpu_spec("rtx3080-seed-paper")
    )
    assert outcome.errors == ()
    assert outcome.path == default_roofline_path(campaign)
    contents = read_roofline(outcome.path)
    assert contents.campaign == "rtest"
    (variant,) = contents.variants
    assert (variant.app, variant.variant, variant.partition) == ("tinycu", "cuda", "gpu")
    assert variant.status == "ok", variant.reason
    assert (variant.tool, variant.gpu, variant.input_name) == (
        "ncu",
        "rtx3080-seed-paper",
        "default",
    )
    assert len(variant.profiles) == 5  # every launch of the canned page
    assert {label.kernel: label.label for label in variant.labels} == {
        "saxpy": "Bandwidth",
        "matmul": "Compute",
        "dscale": "Compute",
    }


def test_profile_runs_where_the_inputs_beside_the_variant_directory_are_readable(
    tmp_path: Path,
) -> None:
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc is not installed")
    campaign_file, site_file = write_configs(tmp_path, with_run_file=True)
    command = ["roofline", "profile", str(campaign_file), "--site", str(site_file)]
    assert main([*command, "--gpu", "rtx3080-seed-paper"]) == 0
    (variant,) = read_roofline(default_roofline_path(load_campaign(campaign_file))).variants
    assert variant.status == "ok", variant.reason
    assert len(variant.labels) == 3


def test_profile_cli_without_a_gpu_model_asks_for_gpu(configs: tuple[Path, Path]) -> None:
    campaign_file, site_file = configs
    completed = subprocess.run(
        [sys.executable, "-m", "lassi_hpc.cli", "roofline", "profile", str(campaign_file),
         "--site", str(site_file)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert completed.returncode != 0
    assert "partition 'gpu' has no gpu_model" in completed.stderr
    assert "--gpu" in completed.stderr


# The same app in HIP, built by hipcc for an MI100 (gfx908; hipcc here is ROCm's, targeting AMD).
HIP_LINES = {
    "[variants.cuda]": "[variants.hip]",
    'language = "cuda"': 'language = "hip"',
    'dir = "cuda"': 'dir = "hip"',
    '["main.cu", "Makefile"]': '["main.cpp", "Makefile"]',
    'editable = ["main.cu"]': 'editable = ["main.cpp"]',
    'variants = ["cuda"]': 'variants = ["hip"]',
    "[toolchains.nvcc]": "[toolchains.hipcc]",
    'compiler = "nvcc"': 'compiler = "hipcc"\nenv = { HIP_PLATFORM = "amd" }',
    'make_vars = { CC = "nvcc", ARCH = "sm_80" }': 'make_vars = { CC = "hipcc" }',
    'toolchain = "nvcc"': 'toolchain = "hipcc"',
    'device = "nvidia"': 'device = "amd"',
}
HIP_MAKEFILE = """
CC ?= hipcc
main: main.cpp
\t$(CC) --offload-arch=gfx908 -O2 main.cpp -o main
"""


def to_hip(text: str) -> str:
    for line, replacement in HIP_LINES.items():
        text = text.replace(line, replacement)
    return text


def write_hip_configs(tmp_path: Path) -> tuple[Path, Path]:
    """The cuda app's configs turned to hip, with the FAKE rocprofv3 (and no rocprof) on the
    partition's PATH."""
    campaign, site = write_configs(tmp_path)
    app = tmp_path / "suite" / "tinycu"
    (app / "cuda").rename(app / "hip")
    main_cpp = "#include <hip/hip_runtime.h>\n" + MAIN_CU.replace("cuda", "hip")
    (app / "hip" / "main.cpp").write_text(main_cpp)
    (app / "hip" / "main.cu").unlink()
    (app / "hip" / "Makefile").write_text(HIP_MAKEFILE)
    configs = (app / "app.toml", campaign, site)
    texts = [path.read_text() for path in configs]
    unmatched = [line for line in HIP_LINES if not any(line in text for text in texts)]
    assert not unmatched, f"the cuda configs changed; no longer found: {unmatched}"
    for path, text in zip(configs, texts, strict=True):
        path.write_text(to_hip(text))
    install_fake_rocprofv3(tmp_path / "fake-bin", split_into_passes(CANNED_V3.read_text()))
    return campaign, site


def test_a_hip_variant_is_profiled_with_rocprofv3_where_rocprof_is_missing(
    tmp_path: Path,
) -> None:
    if shutil.which("hipcc") is None:
        pytest.skip("hipcc is not installed")
    campaign_file, site_file = write_hip_configs(tmp_path)
    campaign = load_campaign(campaign_file)
    outcome = run_roofline_profile(campaign, load_site(site_file), gpu=gpu_spec("mi100"))
    assert outcome.errors == ()
    (variant,) = read_roofline(outcome.path).variants
    assert (variant.variant, variant.tool, variant.status) == ("hip", "rocprofv3", "ok"), (
        variant.reason
    )
    assert [label.kernel for label in variant.labels] == ["stream_triad"]


def test_a_hip_variant_without_either_rocprof_says_which_it_looked_for(tmp_path: Path) -> None:
    if shutil.which("hipcc") is None:
        pytest.skip("hipcc is not installed")
    campaign_file, site_file = write_hip_configs(tmp_path)
    (tmp_path / "fake-bin" / "rocprofv3").unlink()
    command = [
        "roofline",
        "profile",
        str(campaign_file),
        "--site",
        str(site_file),
        "--gpu",
        "mi100",
    ]
    assert main(command) == 1  # the record is stored, but nothing was profiled
    (variant,) = read_roofline(default_roofline_path(load_campaign(campaign_file))).variants
    assert (variant.tool, variant.status) == ("rocprof or rocprofv3", "profile-failed")
    assert "rocprof or rocprofv3 not found on PATH" in variant.reason
