"""The baseline driver: plan the work, send it to partition executors through Parsl, store results.

Only this process writes the HDF5 file. Re-running the same command skips app variants whose
baseline is already stored, so an interrupted baseline resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import parsl

from lassi_hpc.apps.hecbench import load_hecbench_app
from lassi_hpc.apps.load import find_app
from lassi_hpc.apps.manifest import AppManifest
from lassi_hpc.config.campaign import CampaignConfig
from lassi_hpc.config.site import Partition, SiteConfig
from lassi_hpc.energy import detect_backend
from lassi_hpc.errors import AppError, ConfigError, LassiError
from lassi_hpc.flow.parsl_config import parsl_config
from lassi_hpc.flow.partition_tasks import run_on_partitions
from lassi_hpc.flow.progress import Progress, how_obtained
from lassi_hpc.flow.run_dirs import parsl_run_dir
from lassi_hpc.flow.worker_tasks import profile_baseline_on_worker
from lassi_hpc.records import BaselineRecord, DeviceIdentity, StageStatus
from lassi_hpc.stages.baseline import BaselineTask
from lassi_hpc.store import ResultsWriter, collect_provenance
from lassi_hpc.store.tables import WEAK_CHECK_EXTRA_KEY


class BaselineIncompleteError(LassiError):
    """Some tasks raised instead of returning a record; they are retried on the next run."""


def plan_baseline(campaign: CampaignConfig, site: SiteConfig) -> list[BaselineTask]:
    """One task per (app, variant), routed to the app's partition in the campaign, else to the
    first partition whose toolchain builds the variant's language.

    Everything that can be checked before work starts is checked here, so that a typo fails in
    seconds rather than after the first app's measurement.
    """
    tasks = []
    for app_name, variants in campaign.apps:
        manifest = load_app(campaign, app_name, variants)
        for variant_name in variants:
            language = manifest.variant(variant_name).language
            partition = _partition(campaign, site, app_name, language)
            if partition is None:
                offered = ", ".join(
                    f"{p.name} ({site.toolchains[p.toolchain].language})" for p in site.partitions
                )
                raise AppError(
                    f"{app_name}/{variant_name}: site {site.name!r} ({site.source}) has no "
                    f"partition that builds {language}; its partitions: {offered}"
                )
            tasks.append(
                BaselineTask(
                    manifest=manifest,
                    variant=variant_name,
                    partition=partition,
                    toolchain_name=partition.toolchain,
                    toolchain=site.toolchains[partition.toolchain],
                    sandbox=site.sandbox,
                    measure=campaign.measure,
                    scratch_dir=str(site.scratch_dir / f"lassi-hpc-{campaign.name}"),
                    keep_scratch=site.keep_scratch,
                )
            )
    return tasks


def load_app(campaign: CampaignConfig, app_name: str, variants: Sequence[str]) -> AppManifest:
    """The manifest of one campaign app, from the bundled examples or the HeCBench checkout,
    with every variant the campaign asks of it; an unknown app or variant is a ConfigError that
    names the campaign file and its `apps[i]` entry."""
    index = next((i for i, (name, _) in enumerate(campaign.apps) if name == app_name), 0)
    try:
        if campaign.suite == "hecbench":
            manifest = load_hecbench_app(
                campaign.suite_path,
                app_name,
                variants,
                args=campaign.app_args.get(app_name),
                heldout_args=campaign.app_heldout_args.get(app_name),
            )
        else:
            manifest = find_app(campaign.suite_path, app_name)
        for variant in variants:
            manifest.variant(variant)
    except AppError as error:
        raise ConfigError(str(campaign.source), f"apps[{index}]", str(error)) from None
    return manifest


def with_weak_check(record: BaselineRecord, manifest: AppManifest) -> BaselineRecord:
    """`record` with the oracle's weak-check reason among its extras, for reports to show."""
    reason = manifest.oracle.weak_check
    if not reason:
        return record
    return replace(record, extra=(*record.extra, (WEAK_CHECK_EXTRA_KEY, reason)))


def _partition(
    campaign: CampaignConfig, site: SiteConfig, app: str, language: str
) -> Partition | None:
    wanted = campaign.app_partitions.get(app)
    if not wanted:
        return site.partition_for(language)
    index = next((i for i, p in enumerate(campaign.apps) if p[0] == app), 0)
    where = (str(campaign.source), f"apps[{index}].partition")
    found = {p.name: p for p in site.partitions}.get(wanted)
    if found is None:
        raise ConfigError(
            *where,
            f"site {site.name!r} ({site.source}) has no partition {wanted!r}",
            allowed=[p.name for p in site.partitions],
        )
    builds = site.toolchains[found.toolchain].language
    if builds != language:
        raise ConfigError(
            *where,
            f"partition {wanted!r} builds {builds} (toolchain {found.toolchain!r}), "
            f"not this app's {language} variant",
        )
    return found


def describe(record: BaselineRecord) -> str:
    name = f"{record.app}/{record.variant}"
    if record.status is not StageStatus.OK:
        return f"{name}: {record.status.value}: {record.reason}"
    m = record.measurement
    if m is None:
        return f"{name}: ok ({record.reason})"
    how = how_obtained(m.is_estimate, m.method.value)
    return (
        f"{name}: ok, {m.energy_j_mean:.3g} J ± {m.energy_j_ci95:.2g} (95% CI, {how}, "
        f"{len(m.repetitions)} reps), {m.duration_s_mean:.3g} s per run"
    )


def summarize(records: Sequence[BaselineRecord]) -> str:
    """One closing line: how many passed, and how the energy figures were obtained."""
    ok = sum(r.status is StageStatus.OK for r in records)
    text = f"{ok} of {len(records)} app variants profiled ok"
    methods = sorted({r.measurement.method.value for r in records if r.measurement is not None})
    if methods:
        text += f"; energy by {', '.join(methods)}"
    if any(r.measurement is not None and r.measurement.is_estimate for r in records):
        text += " (ESTIMATES from CPU time, not measurements)"
    return text


def _driver_devices(site: SiteConfig) -> list[DeviceIdentity]:
    devices: list[DeviceIdentity] = []
    for partition in site.partitions:
        backend, _ = detect_backend(partition.energy_backend)
        try:
            devices.extend(d for d in backend.devices() if d not in devices)
        finally:
            backend.close()
    return devices


def run_baseline(
    campaign: CampaignConfig,
    site: SiteConfig,
    progress_stream: TextIO | None = None,
    redo_failed: bool = False,
    tasks: list[BaselineTask] | None = None,
) -> Path:
    """Profile every planned app variant not yet stored, and with `redo_failed` every one stored
    with a failed status (its record is replaced); return the results file's path. `tasks` is
    plan_baseline's plan when the caller has it already (planning reads every app's manifest)."""
    tasks = plan_baseline(campaign, site) if tasks is None else tasks
    results_file = campaign.results_file
    results_file.parent.mkdir(parents=True, exist_ok=True)
    # Every session records how it ran: a resumed campaign may have had its config, site, host or
    # tools changed since the file was created (docs/hdf5-schema.md, /provenance/resumes).
    provenance = collect_provenance(campaign.text, site.text, _driver_devices(site))
    if results_file.exists():
        writer = ResultsWriter.open_existing(results_file, provenance=provenance)
    else:
        writer = ResultsWriter.create(results_file, campaign.name, provenance)
    with writer:
        stored = {
            (t.manifest.name, t.variant): writer.baseline_status(t.manifest.name, t.variant)
            for t in tasks
        }
        failed = [key for key, status in stored.items() if status not in (None, StageStatus.OK)]
        redone = set(failed) if redo_failed else set()
        todo = [
            t
            for t in tasks
            if stored[t.manifest.name, t.variant] is None or (t.manifest.name, t.variant) in redone
        ]
        progress = Progress(len(todo), "baseline", stream=progress_stream)
        skipped = len(tasks) - len(todo)
        progress.message(
            f"{len(tasks)} app variants, {skipped} already stored, {len(todo)} to profile "
            f"-> {results_file}"
        )
        configs = writer.campaign_configs()
        if len(configs) > 1 and configs[-1] != configs[-2]:
            progress.message(
                "the campaign config differs from the one this file was last run with: records "
                "stored before keep the old settings (every session's config is in /provenance)"
            )
        if failed and not redo_failed:
            # A failed baseline is a stored result, so resuming skips it; after fixing its
            # cause (arguments, toolchain, the code) the user redoes it on purpose.
            names = ", ".join(
                f"{app}/{variant} ({stored[app, variant]})" for app, variant in failed
            )
            progress.message(
                f"{len(failed)} stored baseline(s) failed and are kept: {names}; once the cause "
                "is fixed, run again with --redo-failed to profile them anew"
            )
        if todo:
            records, errors = _execute(
                todo, site, parsl_run_dir(site, results_file), writer, progress
            )
            progress.message(summarize(records))
            if errors:
                raise BaselineIncompleteError(
                    f"{len(errors)} task(s) failed inside the harness (run again to retry):\n  "
                    + "\n  ".join(errors)
                )
    return results_file


def _execute(
    tasks: Sequence[BaselineTask],
    site: SiteConfig,
    run_dir: Path,
    writer: ResultsWriter,
    progress: Progress,
) -> tuple[list[BaselineRecord], list[str]]:
    records: list[BaselineRecord] = []

    def keep(task: BaselineTask, record: BaselineRecord) -> str:
        record = with_weak_check(record, task.manifest)
        writer.write_baseline(record)
        records.append(record)
        return describe(record)

    used = {task.partition.name for task in tasks}
    with parsl.load(parsl_config(site, run_dir, used)):
        errors = run_on_partitions(tasks, profile_baseline_on_worker, keep, progress, "baseline")
    return records, errors
