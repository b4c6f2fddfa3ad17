"""Plan a campaign's trials: a TrialSpec per (app variant, strategy, trial) with a usable baseline.

Plain functions over configs and stored baselines: the plan is testable without Parsl or a server.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from lassi_hpc.config.campaign import CampaignConfig
from lassi_hpc.llm.prompting import MeasuredVersion, PromptContext
from lassi_hpc.records import BaselineRecord, SourceFile, StageStatus, Strategy
from lassi_hpc.stages.baseline import BaselineTask
from lassi_hpc.stages.build import build_command
from lassi_hpc.stages.refine import TrialSpec, measured_version
from lassi_hpc.stages.roofline_guidance import app_roofline_label
from lassi_hpc.stages.run import shown_run_command

# Headers shown to the LLM as read-only context (declarations the editable code must keep).
_HEADER_SUFFIXES = (".h", ".hpp", ".cuh", ".hh")


@dataclass(frozen=True)
class PlannedVariant:
    """An app variant ready for trials: its worker task, reference runs and trial specs."""

    variant_task: BaselineTask
    baseline: BaselineRecord
    original: tuple[SourceFile, ...]
    specs: tuple[TrialSpec, ...]


def skip_reason(baseline: BaselineRecord | None) -> str:
    """Why an app variant gets no trials ("" when it can have them)."""
    if baseline is None:
        return "no baseline stored"
    if baseline.status is not StageStatus.OK:
        return f"its baseline failed ({baseline.status.value}: {baseline.reason})"
    if baseline.measurement is None:
        return f"its baseline was not measured ({baseline.reason or 'no measurement'})"
    return ""


def editable_sources(task: BaselineTask) -> tuple[SourceFile, ...]:
    variant = task.manifest.variant(task.variant)
    root = Path(task.manifest.root) / variant.dir
    return tuple(
        SourceFile(name, (root / name).read_text(encoding="utf-8")) for name in variant.editable
    )


def header_sources(task: BaselineTask) -> tuple[SourceFile, ...]:
    """The read-only headers a prompt shows: the variant's own, then those it builds with from
    outside its directory, named as the build directory sees them (`../<dir>/<file>`)."""
    variant = task.manifest.variant(task.variant)
    app_root = Path(task.manifest.root)
    own = tuple(
        SourceFile(name, (app_root / variant.dir / name).read_text(encoding="utf-8"))
        for name in variant.sources
        if name.endswith(_HEADER_SUFFIXES) and name not in variant.editable
    )
    outside = tuple(
        SourceFile(f"../{name}", (app_root / name).read_text(encoding="utf-8"))
        for name in variant.outside_sources
        if name.endswith(_HEADER_SUFFIXES)
    )
    return own + outside


def device_description(baseline: BaselineRecord) -> str:
    measurement = baseline.measurement
    if measurement is None or not measurement.devices:
        return "host CPU"
    return ", ".join(f"{d.name} ({d.kind})" for d in measurement.devices)


def device_specs(baseline: BaselineRecord) -> str:
    """What is known of the device, for the lassi-ee device summary."""
    measurement = baseline.measurement
    assert measurement is not None
    lines = [f"device: {device_description(baseline)}"]
    lines.append(
        f"energy meter: {measurement.backend} ({measurement.method.value}"
        + (", an ESTIMATE from CPU time, not a measurement" if measurement.is_estimate else "")
        + ")"
    )
    idle = [r.idle_power_w for r in measurement.repetitions]
    if idle and not measurement.is_estimate:
        lines.append(f"idle power: {sum(idle) / len(idle):.4g} W")
    return "\n".join(lines)


def plan_variant(
    campaign: CampaignConfig,
    task: BaselineTask,
    baseline: BaselineRecord,
) -> PlannedVariant:
    """The trial specs of one app variant whose baseline passed and was measured."""
    assert baseline.measurement is not None
    manifest = task.manifest
    original = editable_sources(task)
    default = manifest.default_input
    context = PromptContext(
        app=manifest.name,
        summary=manifest.summary,
        language=manifest.variant(task.variant).language,
        device=device_description(baseline),
        compiler_command=shlex.join(build_command(manifest, task.toolchain)),
        run_command=shown_run_command(
            manifest.build.binary, manifest, default, task.partition.mpi_launcher
        ),
        original=original,
        fixed_context=header_sources(task),
    )
    baseline_figures: MeasuredVersion = measured_version(baseline.measurement)
    roofline = app_roofline_label(manifest.name, campaign.roofline_label_files)
    specs = tuple(
        TrialSpec(
            app=manifest.name,
            variant=task.variant,
            strategy=Strategy(strategy),
            trial=trial,
            partition=task.partition.name,
            context=context,
            baseline=baseline_figures,
            baseline_stdout=baseline.runs[0].command.stdout if baseline.runs else "",
            device_specs=device_specs(baseline),
            llm=campaign.llm,
            refine=campaign.refine,
            roofline=roofline,
            roofline_guidance=campaign.roofline_guidance,
        )
        for strategy in campaign.strategies
        for trial in range(campaign.trials)
    )
    return PlannedVariant(task, baseline, original, specs)
