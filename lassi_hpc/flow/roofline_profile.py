"""`lassi-hpc roofline profile`: profile every GPU variant of a campaign on its partition's Parsl
executor and store profiles and labels in the roofline file.

Routing and executors are the baseline's (flow/baseline.plan_baseline, flow/parsl_config): a
variant is profiled where its baseline runs. Only this process writes the roofline file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import parsl

from lassi_hpc.config.campaign import CampaignConfig
from lassi_hpc.config.site import SiteConfig
from lassi_hpc.flow.baseline import plan_baseline
from lassi_hpc.flow.parsl_config import parsl_config
from lassi_hpc.flow.partition_tasks import run_on_partitions
from lassi_hpc.flow.progress import Progress
from lassi_hpc.flow.run_dirs import parsl_run_dir
from lassi_hpc.flow.worker_env import pin_accelerator
from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.gpu_models import spec_for_partition
from lassi_hpc.roofline.profile_run import ProfilerName
from lassi_hpc.roofline.profile_variant import RooflineTask, profile_variant
from lassi_hpc.roofline.specs import GpuSpec
from lassi_hpc.roofline.variant_records import VariantRoofline
from lassi_hpc.store.roofline_codec import ROOFLINE_FILE_NAME, RooflineStore

# The profilers of each language, in the order a worker looks for them: rocprof v1 first, as its
# output is the better known; rocprofv3 where ROCm no longer ships it.
PROFILERS_OF_LANGUAGE: dict[str, tuple[ProfilerName, ...]] = {
    "cuda": ("ncu",),
    "hip": ("rocprof", "rocprofv3"),
}


@dataclass(frozen=True)
class RooflineProfileOutcome:
    """What a profile run did: the file written, every stored record, and harness faults."""

    path: Path
    records: tuple[VariantRoofline, ...]
    errors: tuple[str, ...]


def default_roofline_path(campaign: CampaignConfig) -> Path:
    """`<results_dir>/<campaign>/roofline.h5`: beside the campaign's results file, where
    `lassi-hpc report` looks for it."""
    return campaign.results_file.parent / ROOFLINE_FILE_NAME


def plan_roofline(
    campaign: CampaignConfig,
    site: SiteConfig,
    tool: ProfilerName | None = None,
    gpu: GpuSpec | None = None,
) -> list[RooflineTask]:
    """One task per CUDA (ncu) or HIP (rocprof, else rocprofv3) variant of the campaign, on the
    partition its baseline uses; only `tool`'s language, profiled with `tool`, when given. `gpu`
    labels every kernel; without it each partition's `gpu_model` must name a specs entry (checked
    here, before any work starts)."""
    tasks = []
    for baseline in plan_baseline(campaign, site):
        language = baseline.manifest.variant(baseline.variant).language
        profilers = PROFILERS_OF_LANGUAGE.get(language, ())
        if not profilers or (tool is not None and tool not in profilers):
            continue
        partition = baseline.partition
        tasks.append(
            RooflineTask(
                baseline=baseline,
                tools=(tool,) if tool is not None else profilers,
                gpu=gpu or spec_for_partition(partition.name, partition.gpu_model),
            )
        )
    if not tasks:
        wanted = f"{tool} ({'cuda' if tool == 'ncu' else 'hip'})" if tool else "cuda or hip"
        raise RooflineError(
            f"campaign {campaign.name!r} ({campaign.source}) has no {wanted} variant to profile"
        )
    return tasks


def profile_variant_on_worker(task: RooflineTask) -> VariantRoofline:
    """profile_variant on this worker's own GPU."""
    pin_accelerator(task.partition.device)
    return profile_variant(task)


def run_roofline_profile(
    campaign: CampaignConfig,
    site: SiteConfig,
    out: Path | None = None,
    tool: ProfilerName | None = None,
    gpu: GpuSpec | None = None,
    progress_stream: TextIO | None = None,
) -> RooflineProfileOutcome:
    """Profile every planned variant through Parsl and store each record as it arrives in `out`
    (default_roofline_path when None). A variant profiled before is profiled again, replacing
    its record."""
    tasks = plan_roofline(campaign, site, tool, gpu)
    path = out if out is not None else default_roofline_path(campaign)
    progress = Progress(len(tasks), "roofline", stream=progress_stream)
    progress.message(f"{len(tasks)} GPU variants to profile -> {path}")
    records: list[VariantRoofline] = []
    with RooflineStore.open(path, campaign.name) as store:

        def keep(task: RooflineTask, record: VariantRoofline) -> str:
            store.write_variant(record)
            records.append(record)
            return describe_variant(record)

        run_dir = parsl_run_dir(site, campaign.results_file)
        used = {task.partition.name for task in tasks}
        with parsl.load(parsl_config(site, run_dir, used)):
            errors = run_on_partitions(tasks, profile_variant_on_worker, keep, progress, "roofline")
    return RooflineProfileOutcome(path, tuple(records), tuple(errors))


def describe_variant(record: VariantRoofline) -> str:
    """One progress line: the kernels and their labels, or why there are none."""
    name = f"{record.app}/{record.variant}"
    if record.status != "ok":
        return f"{name}: {record.status}: {record.reason}"
    labels = ", ".join(f"{label.kernel} {label.label}" for label in record.labels)
    return f"{name}: {len(record.labels)} kernels on {record.gpu}: {labels}"
