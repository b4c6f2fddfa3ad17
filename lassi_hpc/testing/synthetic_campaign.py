"""Synthetic campaign files: seeded, realistic-looking, clearly fake results files for scale work.

`write_synthetic_campaign` writes a results file with the real ResultsWriter (so it is a real
results file, readable by ResultsReader and the report) holding per app a measured baseline and,
per strategy, `trials` refactoring trials shaped as the refine stage makes them. Nothing was built,
run or measured: every measurement has backend "fake" on a device marked `is_fake` and the flag
"synthetic", and the provenance's campaign config says how the file was drawn. The model behind
the numbers is described in synthetic_model, the shape of the trials in synthetic_trials; the
returned SyntheticCampaign holds each app's hidden truths, for sanity checks.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import lassi_hpc
from lassi_hpc.records import Strategy
from lassi_hpc.store.provenance import Provenance, git_revision, host_identity, package_versions
from lassi_hpc.store.writer import ResultsWriter
from lassi_hpc.testing.synthetic_model import (
    StrategyTruth,
    SyntheticApp,
    SyntheticCampaignError,
    SyntheticSettings,
    TraceShape,
    draw_app,
    fake_device,
)
from lassi_hpc.testing.synthetic_trials import synthetic_baseline, synthetic_trial

__all__ = [
    "CAMPAIGN_NAME",
    "PROGRESS_EVERY_TRIALS",
    "REOPEN_EVERY_TRIALS",
    "StrategyTruth",
    "SyntheticApp",
    "SyntheticCampaign",
    "SyntheticCampaignError",
    "write_synthetic_campaign",
]

CAMPAIGN_NAME = "synthetic"
PROGRESS_EVERY_TRIALS = 250
# The writer keeps HDF5 from evicting metadata while a record is written, and it writes nothing
# else, so HDF5's metadata cache never shrinks: it grows by about 1 MB per trial, and every flush
# gets slower with it (4x after 800 trials). Closing the file drops the cache; at this period the
# reopening costs less than the growth.
REOPEN_EVERY_TRIALS = 10


@dataclass(frozen=True)
class SyntheticCampaign:
    """What write_synthetic_campaign wrote.

    `trials` is per app and strategy, `trials_written` the trials in the file;
    `seconds_to_write` the wall time of the whole write (s); `app_truths` each app's hidden
    truths, in app order.
    """

    path: Path
    apps: int
    trials: int
    repetitions: int
    strategies: tuple[str, ...]
    trials_written: int
    seconds_to_write: float
    app_truths: tuple[SyntheticApp, ...]


def write_synthetic_campaign(
    path: str | Path,
    *,
    apps: int,
    trials: int,
    repetitions: int = 5,
    strategies: Sequence[str] = ("lassi-ee", "vanilla"),
    targets: Sequence[tuple[str, str]] = (("cuda", "a100"), ("hip", "mi100")),
    trace_samples: int = 200,
    seed: int = 0,
    durable: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> SyntheticCampaign:
    """Write a new synthetic results file at `path` (which must not exist yet).

    `trials` is the number of trials per app and strategy (as a campaign's `trials`): the file
    holds apps x len(strategies) x trials trials. `strategies` are Strategy values; `targets` the
    (variant, partition) pairs apps take in turn. Each measurement has `repetitions` repetitions
    (2 or more) with a power trace of `trace_samples` samples 10 ms apart. `durable=False` skips
    the fsync after each record: faster, and unsafe only against a node crash, which does not
    matter for a file that can be drawn again. `progress(done, total)` is called every
    PROGRESS_EVERY_TRIALS trials and once at the end.
    """
    started_s = time.perf_counter()
    settings = _settings(apps, trials, repetitions, strategies, targets, trace_samples, seed)
    shape = TraceShape.of(trace_samples)
    truths = tuple(draw_app(settings, index) for index in range(apps))
    total = apps * len(settings.strategies) * trials
    done = 0
    provenance = _provenance(settings, apps, trials)
    writer = ResultsWriter.create(path, CAMPAIGN_NAME, provenance, durable=durable)
    try:
        for app in truths:
            writer.write_baseline(synthetic_baseline(app, settings, shape))
            for strategy in settings.strategies:
                for trial in range(trials):
                    writer.write_trial(synthetic_trial(app, settings, shape, strategy, trial))
                    done += 1
                    if done % REOPEN_EVERY_TRIALS == 0:
                        writer.close()
                        writer = ResultsWriter.open_existing(path, durable=durable)
                    if progress is not None and done % PROGRESS_EVERY_TRIALS == 0:
                        progress(done, total)
    finally:
        writer.close()
    if progress is not None and done % PROGRESS_EVERY_TRIALS != 0:
        progress(done, total)
    return SyntheticCampaign(
        path=Path(path),
        apps=apps,
        trials=trials,
        repetitions=repetitions,
        strategies=settings.strategies,
        trials_written=done,
        seconds_to_write=time.perf_counter() - started_s,
        app_truths=truths,
    )


def _settings(
    apps: int,
    trials: int,
    repetitions: int,
    strategies: Sequence[str],
    targets: Sequence[tuple[str, str]],
    trace_samples: int,
    seed: int,
) -> SyntheticSettings:
    """The checked settings; SyntheticCampaignError names the first unusable parameter."""
    for name, value, least in (
        ("apps", apps, 1),
        ("trials", trials, 0),
        ("repetitions", repetitions, 2),
        ("trace_samples", trace_samples, 2),
    ):
        if value < least:
            raise SyntheticCampaignError(
                f"synthetic campaign: {name} is {value}; must be {least} or more"
            )
    allowed = [strategy.value for strategy in Strategy]
    for strategy in strategies:
        if strategy not in allowed:
            raise SyntheticCampaignError(
                f"synthetic campaign: unknown strategy {strategy!r}; must be one of: "
                + ", ".join(allowed)
            )
    if not strategies or len(set(strategies)) != len(strategies):
        raise SyntheticCampaignError(
            f"synthetic campaign: strategies {list(strategies)} must name one or more, each once"
        )
    if not targets:
        raise SyntheticCampaignError(
            "synthetic campaign: targets is empty; give at least one (variant, partition)"
        )
    return SyntheticSettings(
        strategies=tuple(strategies),
        targets=tuple((variant, partition) for variant, partition in targets),
        repetitions=repetitions,
        trace_samples=trace_samples,
        seed=seed,
    )


def _provenance(settings: SyntheticSettings, apps: int, trials: int) -> Provenance:
    """How the file was made: the generator's parameters as TOML, this host and lassi_hpc."""
    strategies = ", ".join(f'"{strategy}"' for strategy in settings.strategies)
    targets = ", ".join(f'["{variant}", "{partition}"]' for variant, partition in settings.targets)
    partitions = sorted({partition for _, partition in settings.targets})
    campaign = (
        "# Written by lassi_hpc.testing.synthetic_campaign: nothing was built, run or measured;\n"
        "# every figure is drawn from a seeded model.\n"
        "[synthetic]\n"
        f"apps = {apps}\n"
        f"trials = {trials}\n"
        f"repetitions = {settings.repetitions}\n"
        f"strategies = [{strategies}]\n"
        f"targets = [{targets}]\n"
        f"trace_samples = {settings.trace_samples}\n"
        f"seed = {settings.seed}\n"
    )
    site = (
        "# Synthetic: one fake GPU per partition.\n"
        '[site]\nname = "synthetic"\n'
        f"partitions = [{', '.join(f'{p!r}' for p in partitions)}]\n"
    ).replace("'", '"')
    return Provenance(
        campaign_config=campaign,
        site_config=site,
        python=sys.version.replace("\n", " "),
        packages=package_versions(),
        compilers={},
        drivers={},
        host=host_identity(),
        devices=tuple(fake_device(partition) for partition in partitions),
        git_revision=git_revision(Path(lassi_hpc.__file__).resolve().parents[1], 10.0),
    )
