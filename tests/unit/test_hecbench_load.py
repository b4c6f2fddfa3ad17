"""load_hecbench_app on the fixture tree (own small apps in HeCBench's layout, not HeCBench)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lassi_hpc.apps.hecbench import editable_files, is_verification_file, load_hecbench_app
from lassi_hpc.apps.hecbench_table import HECBENCH_APPS, HECBENCH_MASKS, HecbenchAppFacts
from lassi_hpc.config.campaign import load_campaign
from lassi_hpc.config.site import load_site
from lassi_hpc.errors import AppError, ConfigError
from lassi_hpc.flow.baseline import plan_baseline
from lassi_hpc.flow.trial_plan import header_sources

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "tests" / "data" / "hecbench"
LAPTOP = REPO / "examples" / "campaigns" / "hecbench-omp-laptop.toml"
STUDY = REPO / "examples" / "campaigns" / "hecbench-lassi-ee.toml"

FIXTURE_TABLE = {
    "histo": HecbenchAppFacts(
        name="histo",
        args=("4096", "2"),
        heldout_args=(("1000", "3"),),
        self_check_pass=r"^SUCCESS$",
        self_check_fail=r"^FAILURE$",
        expected_run_s=1.0,
    ),
    "vecsum": HecbenchAppFacts(
        name="vecsum",
        args=("1000", "2"),
        self_check_pass=r"^PASS$",
        verification_files=("main.cu",),  # as if the cuda check lived in main.cu
    ),
}


def test_a_table_app_gets_its_arguments_oracle_and_held_out_sets() -> None:
    manifest = load_hecbench_app(SUITE, "histo", ["omp", "cuda"], table=FIXTURE_TABLE)
    assert manifest.default_input.args == ("4096", "2")
    assert [i.args for i in manifest.hidden_inputs] == [("1000", "3")]
    assert manifest.oracle.self_check_pass == r"^SUCCESS$"
    assert manifest.oracle.mask == HECBENCH_MASKS
    assert manifest.oracle.weak_check == ""
    assert manifest.run.timeout_s == 120.0


def test_verification_code_and_makefiles_are_never_editable() -> None:
    manifest = load_hecbench_app(SUITE, "histo", ["omp", "cuda"], table=FIXTURE_TABLE)
    omp = manifest.variant("omp")
    assert set(omp.sources) == {"Makefile", "main.cpp", "verify.cpp", "verify.h"}
    assert omp.editable == ("main.cpp",)
    assert manifest.variant("cuda").editable == ("main.cu",)
    vecsum = load_hecbench_app(SUITE, "vecsum", ["omp"], table=FIXTURE_TABLE)
    assert vecsum.variant("omp").editable == ("main.cpp",)  # reference.h is verification code


def test_an_app_whose_only_code_is_verification_is_refused() -> None:
    with pytest.raises(AppError, match="no editable code file left"):
        load_hecbench_app(SUITE, "vecsum", ["cuda"], table=FIXTURE_TABLE)


def test_campaign_overrides_replace_the_table() -> None:
    manifest = load_hecbench_app(
        SUITE, "histo", ["omp"], args=["8", "1"], heldout_args=[], table=FIXTURE_TABLE
    )
    assert manifest.default_input.args == ("8", "1")
    assert manifest.hidden_inputs == ()


def test_an_app_outside_the_table_loads_with_a_flagged_generic_oracle() -> None:
    manifest = load_hecbench_app(SUITE, "stencil1d", ["omp"], table={})
    assert manifest.default_input.args == ("262144", "20")  # the Makefile's run target
    assert manifest.hidden_inputs == ()
    assert "not in lassi_hpc's HeCBench oracle table" in manifest.oracle.weak_check
    assert manifest.oracle.self_check_pass == ""


def test_verification_names() -> None:
    assert is_verification_file("reference.h")
    assert is_verification_file("src/Verify.cu")
    assert is_verification_file("check_result.cpp")
    assert is_verification_file("kernel_ref.h", ("kernel_ref.h",))
    assert not is_verification_file("kernels.cu")
    assert editable_files(["Makefile", "Makefile.nvc", "main.cu", "reference.h", "data.txt"]) == (
        "main.cu",
    )


def _fixture_campaign(tmp_path: Path) -> Path:
    """The laptop campaign pointed at the fixture tree, with the fixture's apps."""
    text = LAPTOP.read_text(encoding="utf-8")
    text = text.replace('suite_path = "/path/to/HeCBench"', f'suite_path = "{SUITE}"')
    text = text.replace('results_dir = "../../results"', 'results_dir = "results"')
    head, _, tail = text.partition("[[apps]]")
    tail = tail[tail.index("[measure]") :]
    apps = '[[apps]]\nname = "stencil1d"\n\n[[apps]]\nname = "histo"\nargs = ["4096", "2"]\n\n'
    path = tmp_path / "laptop.toml"
    path.write_text(head + apps + tail, encoding="utf-8")
    return path


def test_the_laptop_campaign_pointed_at_the_fixture_loads_and_plans(tmp_path: Path) -> None:
    campaign = load_campaign(_fixture_campaign(tmp_path))
    assert campaign.suite == "hecbench"
    assert campaign.app_args == {"histo": ("4096", "2")}
    site = load_site(REPO / "site_configs" / "local-hecbench.toml")
    tasks = plan_baseline(campaign, site)
    assert [(t.manifest.name, t.variant, t.partition.name) for t in tasks] == [
        ("stencil1d", "omp", "cpu"),
        ("histo", "omp", "cpu"),
    ]
    histo = tasks[1].manifest
    assert histo.default_input.args == ("4096", "2")
    assert histo.variant("omp").editable == ("main.cpp",)
    cflags = "-std=c++17 -Wall -fopenmp -O3 $(HECBENCH_INCLUDES)"
    assert tasks[0].toolchain.make_vars["CFLAGS"] == cflags


@pytest.mark.parametrize("campaign", [LAPTOP, STUDY])
def test_a_campaign_whose_suite_path_is_a_placeholder_names_the_key(campaign: Path) -> None:
    with pytest.raises(ConfigError, match=r"campaign\.suite_path: .* is not a HeCBench checkout"):
        load_campaign(campaign)


def test_the_study_campaign_lists_the_table_and_routes_to_the_gpu_partitions(
    tmp_path: Path,
) -> None:
    text = STUDY.read_text(encoding="utf-8")
    (tmp_path / "src").mkdir()
    path = tmp_path / "study.toml"
    path.write_text(text.replace('"/path/to/HeCBench"', f'"{tmp_path}"'), encoding="utf-8")
    campaign = load_campaign(path)
    assert [name for name, _ in campaign.apps] == list(HECBENCH_APPS)
    assert all(variants == ("cuda", "hip") for _, variants in campaign.apps)
    assert campaign.trials == 30 and set(campaign.strategies) == {"vanilla", "lassi-ee"}
    site = load_site(REPO / "site_configs" / "slurm-a100-mi100.toml")
    assert site.partition_for("cuda").name == "a100"  # type: ignore[union-attr]
    assert site.partition_for("hip").name == "mi100"  # type: ignore[union-attr]


def test_hecbench_only_keys_are_refused_for_the_examples_suite(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[campaign]\nname = "x"\n\n[[apps]]\nname = "stencil2d"\nargs = ["1"]\n')
    with pytest.raises(ConfigError, match=r"apps\[0\]\.args: allowed only with suite"):
        load_campaign(path)


def test_bsearch_is_built_with_its_own_check_and_judged_by_it(tmp_path: Path) -> None:
    # A stand-in of our own for src/bsearch-cuda: only the layout matters here.
    app_dir = tmp_path / "src" / "bsearch-cuda"
    app_dir.mkdir(parents=True)
    (app_dir / "Makefile").write_text("run: main\n\t./main 8 1\n")
    (app_dir / "main.cu").write_text("int main() { return 0; }\n")
    manifest = load_hecbench_app(tmp_path, "bsearch", ["cuda"])
    assert manifest.build.command == ("make", "VERIFY=yes")
    assert manifest.oracle.empty_output_ok
    assert manifest.oracle.self_check_fail == "incorrect result"
    assert "verify()" in manifest.oracle.weak_check


def test_prompts_show_the_headers_a_variant_builds_with_from_its_sibling(tmp_path: Path) -> None:
    path = _fixture_campaign(tmp_path)
    text = path.read_text(encoding="utf-8")
    head, _, tail = text.partition("[[apps]]")
    path.write_text(head + '[[apps]]\nname = "envelope"\n\n' + tail[tail.index("[measure]") :])
    site = load_site(REPO / "site_configs" / "local-hecbench.toml")
    (task,) = plan_baseline(load_campaign(path), site)
    shown = {source.name: source.text for source in header_sources(task)}
    assert set(shown) == {"../envelope-cuda/reference.h", "../envelope-cuda/window.h"}
    reference = SUITE / "src" / "envelope-cuda" / "reference.h"
    assert shown["../envelope-cuda/reference.h"] == reference.read_text(encoding="utf-8")


RUN_MAKEFILE = """CC = icpx
LAUNCHER  =
SIZE      = 4096   # elements
REPEAT   := $(COUNT)
COUNT     = 3
program = main
ifeq ($(DEBUG),yes)
  DEBUG_SIZE = 16
endif
FLAGS = -O3
FLAGS += -g
$(program): main.cpp
\t$(CC) -o $(program) main.cpp
run: $(program)
\t$(LAUNCHER) ./$(program) {args}
"""


def run_target_app(tmp_path: Path, args: str) -> Path:
    variant = tmp_path / "src" / "odd-omp"
    variant.mkdir(parents=True)
    (variant / "main.cpp").write_text("int main() { return 0; }\n")
    (variant / "Makefile").write_text(RUN_MAKEFILE.format(args=args))
    return tmp_path


def test_run_line_make_variables_are_replaced_by_the_makefiles_values(tmp_path: Path) -> None:
    suite = run_target_app(tmp_path, "$(SIZE) ${REPEAT} -v")
    manifest = load_hecbench_app(suite, "odd", ["omp"], table={})
    # Passed verbatim, `$(SIZE)` reached the program as text and the baseline failed.
    assert manifest.default_input.args == ("4096", "3", "-v")


@pytest.mark.parametrize("args", ["$(DEBUG_SIZE) 2", "$(FLAGS)", "$(UNSET) 1"])
def test_run_line_variables_of_unknown_value_ask_for_args(tmp_path: Path, args: str) -> None:
    suite = run_target_app(tmp_path, args)
    with pytest.raises(AppError, match=r"make variables whose values are not known.*args = "):
        load_hecbench_app(suite, "odd", ["omp"], table={})
    manifest = load_hecbench_app(suite, "odd", ["omp"], args=["7"], table={})
    assert manifest.default_input.args == ("7",)


def test_an_app_outside_the_table_without_a_run_target_asks_for_args(tmp_path: Path) -> None:
    suite = run_target_app(tmp_path, "1")
    makefile = suite / "src" / "odd-omp" / "Makefile"
    makefile.write_text(makefile.read_text().split("run:")[0])
    with pytest.raises(AppError, match=r"no `run` target.*args = \[\.\.\.\]` under this app"):
        load_hecbench_app(suite, "odd", ["omp"], table={})
