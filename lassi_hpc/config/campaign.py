"""Campaign config: which apps and variants, how many trials, how to measure, where results go.

Relative paths in a config file are resolved against the directory of that file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lassi_hpc.config.validate import (
    build,
    checked,
    non_empty,
    non_negative,
    positive,
    read_toml,
    require_kind,
)
from lassi_hpc.errors import ConfigError, nearest

Suite = Literal["examples", "hecbench"]
StrategyName = Literal["vanilla", "lassi-ee"]


@dataclass(frozen=True)
class CampaignSection:
    name: str = checked(check=non_empty)
    description: str = ""
    suite: Suite = "examples"
    # Root of the suite's apps; "" means the bundled examples/apps of this repository.
    suite_path: str = ""
    variants: tuple[str, ...] = checked(("omp",), check=non_empty)
    results_dir: str = "results"
    trials: int = checked(1, check=positive)
    strategies: tuple[StrategyName, ...] = checked(("lassi-ee",), check=non_empty)


@dataclass(frozen=True)
class AppEntry:
    name: str = checked(check=non_empty)
    # Empty means the campaign's `variants`.
    variants: tuple[str, ...] = ()
    # The site partition that builds and measures this app; "" = the first one whose toolchain
    # builds the variant's language.
    partition: str = ""
    # suite = "hecbench" only: the app's arguments and held-out argument sets, replacing those of
    # lassi_hpc's HeCBench table (absent = the table's; docs/hecbench.md).
    args: tuple[str, ...] | None = None
    heldout_args: tuple[tuple[str, ...], ...] | None = None


@dataclass(frozen=True)
class MeasureSection:
    repetitions: int = checked(3, check=positive)
    min_window_s: float = checked(1.0, check=non_negative)
    idle_s: float = checked(0.5, check=non_negative)
    max_start_delay_s: float = checked(0.2, check=non_negative)
    # Margins around the window that count with the run, not with idle (late sensors, power that
    # stays raised after a kernel); see docs/energy.md.
    settle_s: float = checked(0.25, check=non_negative)
    sample_period_s: float = checked(0.01, check=positive)
    seed: int = 0


def _temperature_range(value: float) -> str | None:
    return None if 0.0 <= value <= 2.0 else "must be between 0 and 2"


@dataclass(frozen=True)
class LLMSection:
    """Which of the site's LLM servers generate and judge, and how requests are made."""

    generator: str = "embedded"  # a name from the site's [llm_servers]
    judge: str = ""  # "" = the generator's server
    temperature: float = checked(0.7, check=_temperature_range)
    judge_temperature: float = checked(0.0, check=_temperature_range)
    max_tokens: int = checked(2048, check=positive)
    timeout_s: float = checked(600.0, check=positive)
    retries: int = checked(3, check=non_negative)  # after the first attempt, with backoff
    seed: int = 0


@dataclass(frozen=True)
class RefineSection:
    """The self-correcting loop of one trial."""

    max_iterations: int = checked(4, check=positive)  # code changes per trial (lassi-ee)
    patience: int = checked(2, check=positive)  # stop after this many non-improving iterations
    max_fix_attempts: int = checked(2, check=non_negative)  # fixes per iteration after the first
    judge: bool = True
    rescore: bool = True  # measure the best candidate again, independently, to score it
    log_chars: int = checked(3000, check=positive)  # compile/run log shown to the LLM, trimmed
    # A candidate's run may take this many times the original's wall time on the same input.
    timeout_factor: float = checked(10.0, check=positive)


@dataclass(frozen=True)
class RooflineSection:
    """Roofline guidance of lassi-ee plans (docs/campaign.md, "Roofline guidance")."""

    guidance: bool = False  # steer the plan prompt by the app's main-kernel class
    # Ask the generator LLM for the class of each variant's main kernel that no labels file gives.
    predict: bool = False
    # App name -> labels file written by `lassi-hpc roofline label`, relative to the campaign file.
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CampaignFile:
    """The TOML file's shape, exactly."""

    campaign: CampaignSection
    apps: tuple[AppEntry, ...] = checked(check=non_empty)
    measure: MeasureSection = field(default_factory=MeasureSection)
    llm: LLMSection = field(default_factory=LLMSection)
    refine: RefineSection = field(default_factory=RefineSection)
    roofline: RooflineSection = field(default_factory=RooflineSection)


@dataclass(frozen=True)
class CampaignConfig:
    """A validated campaign with paths resolved; `source` is the file it came from."""

    name: str
    description: str
    suite: Suite
    suite_path: Path
    apps: tuple[tuple[str, tuple[str, ...]], ...]  # (app name, variants)
    results_dir: Path
    trials: int
    strategies: tuple[StrategyName, ...]
    measure: MeasureSection
    llm: LLMSection
    refine: RefineSection
    source: Path
    text: str  # the file as written, for provenance
    app_partitions: dict[str, str] = field(default_factory=dict)  # app -> site partition
    app_args: dict[str, tuple[str, ...]] = field(default_factory=dict)  # hecbench: app -> args
    app_heldout_args: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    roofline_guidance: bool = False
    roofline_label_files: dict[str, Path] = field(default_factory=dict)  # app -> labels file
    roofline_predict: bool = False

    @property
    def results_file(self) -> Path:
        return self.results_dir / self.name / f"{self.name}.h5"


def bundled_examples_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "examples" / "apps"


def load_campaign(path: Path) -> CampaignConfig:
    data = read_toml(path)
    file = str(path)
    require_kind(data, file, "campaign")
    parsed = build(CampaignFile, data, file)
    base = path.resolve().parent
    section = parsed.campaign
    names = [entry.name for entry in parsed.apps]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise ConfigError(file, f"apps[{index}].name", f"app {name!r} is listed twice")
    if section.suite == "hecbench" and not section.suite_path:
        raise ConfigError(file, "campaign.suite_path", "required when suite = 'hecbench'")
    suite_path = base / section.suite_path if section.suite_path else bundled_examples_dir()
    _check_hecbench_fields(file, section.suite, suite_path, parsed.apps)
    label_files = _roofline_label_files(file, base, parsed.roofline, names)
    return CampaignConfig(
        name=section.name,
        description=section.description,
        suite=section.suite,
        suite_path=suite_path,
        apps=tuple((e.name, e.variants or section.variants) for e in parsed.apps),
        results_dir=(base / section.results_dir).resolve(),
        trials=section.trials,
        strategies=tuple(dict.fromkeys(section.strategies)),
        measure=parsed.measure,
        llm=parsed.llm,
        refine=parsed.refine,
        source=path.resolve(),
        text=path.read_text(encoding="utf-8"),
        app_partitions={e.name: e.partition for e in parsed.apps if e.partition},
        app_args={e.name: e.args for e in parsed.apps if e.args is not None},
        app_heldout_args={
            e.name: e.heldout_args for e in parsed.apps if e.heldout_args is not None
        },
        roofline_guidance=parsed.roofline.guidance,
        roofline_label_files=label_files,
        roofline_predict=parsed.roofline.predict,
    )


def _roofline_label_files(
    file: str, base: Path, roofline: RooflineSection, apps: list[str]
) -> dict[str, Path]:
    """App -> resolved labels file; each app must be the campaign's and each file must exist."""
    if roofline.guidance and not roofline.labels and not roofline.predict:
        raise ConfigError(
            file,
            "roofline.labels",
            'guidance = true needs labels files (app = "file from `lassi-hpc roofline label`") '
            "or predict = true",
        )
    resolved: dict[str, Path] = {}
    for app, name in roofline.labels.items():
        key = f"roofline.labels.{app}"
        if app not in apps:
            hint = nearest(app, apps)
            raise ConfigError(
                file,
                key,
                "is not an app of this campaign" + (f" (did you mean {hint!r}?)" if hint else ""),
                allowed=apps,
            )
        labels_path = (base / name).resolve()
        if not labels_path.is_file():
            raise ConfigError(file, key, f"labels file {labels_path} does not exist")
        resolved[app] = labels_path
    return resolved


def _check_hecbench_fields(
    file: str, suite: Suite, suite_path: Path, apps: tuple[AppEntry, ...]
) -> None:
    if suite == "hecbench" and not (suite_path / "src").is_dir():
        raise ConfigError(
            file,
            "campaign.suite_path",
            f"{suite_path} is not a HeCBench checkout (it has no src/ directory); set it to the "
            "root of your clone of https://github.com/zjin-lcf/HeCBench",
        )
    if suite == "hecbench":
        return
    for index, entry in enumerate(apps):
        for key in ("args", "heldout_args"):
            if getattr(entry, key) is not None:
                raise ConfigError(
                    file, f"apps[{index}].{key}", "allowed only with suite = 'hecbench'"
                )
