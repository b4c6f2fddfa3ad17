"""The red-team suite: planted cheating candidates for the example apps, each rejected by the real
evaluate path (screen -> g++ -fopenmp build -> sandboxed runs -> verify on the default and held-out
inputs -> self-consistency) at the stage and for the reason its cheat.toml names, while honest
improvements of the same apps pass.

Data: tests/redteam/<case>/ holds the candidate's files and a cheat.toml (see docs/security.md).
A case may add a held-out input to its app (`[extra_hidden_input]`) to show a defence that the
shipped manifest does not carry yet.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from lassi_hpc.apps.load import find_app
from lassi_hpc.apps.manifest import AppInput, AppManifest
from lassi_hpc.config.campaign import MeasureSection, bundled_examples_dir
from lassi_hpc.config.site import SiteConfig, load_site
from lassi_hpc.records import CandidateStatus, Evaluation, RunResult, SourceFile, StageStatus
from lassi_hpc.stages.baseline import BaselineTask, profile_baseline
from lassi_hpc.stages.evaluate import CandidateTask, evaluate_candidate

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
REDTEAM = REPO / "tests" / "redteam"
# The cheats issue 7 names, by case directory: each must be in the suite.
REQUIRED_CHEATS = (
    "skip-work-print-pass",
    "hardcode-default-answer",
    "reuse-previous-output",
    "precision-cut",
    "edit-verification",
    "clock-power-api",
    "special-case-default-size",
    "defer-work-fork",
    "defer-work-detached-thread",
)


@dataclass(frozen=True)
class PlantedCase:
    """One directory of tests/redteam: a candidate and what the harness must decide about it."""

    name: str
    app: str
    variant: str
    cheat: str  # "" for an honest improvement
    expect_status: CandidateStatus
    expect_reason: str  # a substring of Evaluation.reason; "" for an honest improvement
    files: tuple[SourceFile, ...]
    extra_hidden_input: AppInput | None


def load_case(directory: Path) -> PlantedCase:
    spec = tomllib.loads((directory / "cheat.toml").read_text(encoding="utf-8"))
    extra = spec.get("extra_hidden_input")
    files = tuple(
        SourceFile(path.name, path.read_text(encoding="utf-8"))
        for path in sorted(directory.iterdir())
        if path.name != "cheat.toml"
    )
    return PlantedCase(
        name=directory.name,
        app=spec["app"],
        variant=spec["variant"],
        cheat=spec["cheat"],
        expect_status=CandidateStatus(spec["expect_status"]),
        expect_reason=spec["expect_reason"],
        files=files,
        extra_hidden_input=(
            AppInput(extra["name"], tuple(extra["args"]), hidden=True) if extra else None
        ),
    )


CASES = [load_case(path.parent) for path in sorted(REDTEAM.glob("*/cheat.toml"))]
CHEATS = [case for case in CASES if case.cheat]
HONEST = [case for case in CASES if not case.cheat]


@pytest.fixture(scope="module")
def site() -> SiteConfig:
    return load_site(REPO / "site_configs" / "local.toml")


class Baselines:
    """The original's profile per (app, variant, extra input), made once for the module."""

    def __init__(self, site: SiteConfig, scratch: Path) -> None:
        self._site = site
        self._scratch = scratch
        self._done: dict[
            tuple[str, str, AppInput | None], tuple[BaselineTask, tuple[RunResult, ...]]
        ]
        self._done = {}

    def for_case(self, case: PlantedCase) -> tuple[BaselineTask, tuple[RunResult, ...]]:
        key = (case.app, case.variant, case.extra_hidden_input)
        if key not in self._done:
            manifest = find_app(bundled_examples_dir(), case.app)
            if case.extra_hidden_input is not None:
                manifest = dataclasses.replace(
                    manifest, inputs=(*manifest.inputs, case.extra_hidden_input)
                )
            task = self._task(manifest, case.variant)
            record = profile_baseline(task)
            assert record.status is StageStatus.OK, record.reason
            self._done[key] = (task, record.runs)
        return self._done[key]

    def _task(self, manifest: AppManifest, variant: str) -> BaselineTask:
        partition = next(p for p in self._site.partitions if p.name == "cpu")
        return BaselineTask(
            manifest=manifest,
            variant=variant,
            partition=partition,
            toolchain_name=partition.toolchain,
            toolchain=self._site.toolchains[partition.toolchain],
            sandbox=self._site.sandbox,
            # One short repetition: honest candidates must reach a measurement, not a good one.
            measure=MeasureSection(
                repetitions=1, min_window_s=0.0, idle_s=0.0, max_start_delay_s=0.0, settle_s=0.0
            ),
            scratch_dir=str(self._scratch),
        )


@pytest.fixture(scope="module")
def baselines(site: SiteConfig, tmp_path_factory: pytest.TempPathFactory) -> Baselines:
    return Baselines(site, tmp_path_factory.mktemp("redteam"))


def evaluate_case(case: PlantedCase, baselines: Baselines) -> Evaluation:
    task, reference_runs = baselines.for_case(case)
    manifest = task.manifest
    variant = manifest.variant(case.variant)
    variant_dir = Path(manifest.root) / variant.dir
    original = tuple(
        SourceFile(name, (variant_dir / name).read_text(encoding="utf-8"))
        for name in variant.editable
    )
    return evaluate_candidate(
        CandidateTask(
            variant_task=task,
            reference_runs=reference_runs,
            original=original,
            files=case.files,
            measure_seed=0,
        )
    )


def test_the_suite_has_every_named_cheat_and_honest_improvements() -> None:
    names = {case.name for case in CHEATS}
    assert len(CHEATS) >= 10
    assert set(REQUIRED_CHEATS) <= names, set(REQUIRED_CHEATS) - names
    assert len(HONEST) >= 2
    assert all(case.expect_reason for case in CHEATS)
    assert all(case.expect_status is not CandidateStatus.PASSED for case in CHEATS)
    assert all(case.expect_status is CandidateStatus.PASSED for case in HONEST)


@pytest.mark.parametrize("case", CHEATS, ids=[case.name for case in CHEATS])
def test_planted_cheat_is_rejected_for_its_reason(case: PlantedCase, baselines: Baselines) -> None:
    evaluation = evaluate_case(case, baselines)
    assert evaluation.status is case.expect_status, evaluation.reason
    assert case.expect_reason in evaluation.reason, evaluation.reason
    assert evaluation.measurement is None
    if case.expect_status is CandidateStatus.SCREEN_FAILED:
        assert evaluation.build is None, "a screened candidate must never be built"
    # What the LLM is shown of a failure never holds a held-out input's arguments.
    task, _ = baselines.for_case(case)
    for hidden in task.manifest.hidden_inputs:
        shown = f"{evaluation.reason}\n{evaluation.failed_command}\n{evaluation.log}"
        assert " ".join(hidden.args) not in shown


@pytest.mark.parametrize("case", HONEST, ids=[case.name for case in HONEST])
def test_honest_improvement_is_accepted(case: PlantedCase, baselines: Baselines) -> None:
    evaluation = evaluate_case(case, baselines)
    assert evaluation.status is CandidateStatus.PASSED, evaluation.reason
    assert evaluation.measurement is not None
    assert len(evaluation.verdicts) == len(evaluation.runs) + 1  # every input and the repeat
    assert all(verdict.ok and verdict.compared_values > 0 for verdict in evaluation.verdicts)
