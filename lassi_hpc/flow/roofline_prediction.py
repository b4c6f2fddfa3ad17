"""Before the trials: a predicted roofline label for each app variant no profile labelled.

With `[roofline] predict = true`, each variant that has trials to run and no measured label gets
one zero-shot request to the generator LLM (stages/roofline_prediction.py), sent the way the
driver sends its other requests (the `ask` it is given runs on the LLM executor). The requests go
out together and the trials start when all are answered. Only variants with trials still to run
are asked: a rerun that finds a variant's trials all stored asks nothing for it, and a variant
whose trials are partly stored is asked again for the rest (greedy, same seed).
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from lassi_hpc.config.campaign import CampaignConfig
from lassi_hpc.flow.progress import Progress
from lassi_hpc.flow.trial_plan import PlannedVariant, device_description
from lassi_hpc.llm.endpoint import LLMEndpoint
from lassi_hpc.records import LLMRequest, LLMResponse
from lassi_hpc.roofline.records import ExtractedKernel
from lassi_hpc.stages.refine import TrialSpec
from lassi_hpc.stages.roofline_guidance import AppRooflineLabel
from lassi_hpc.stages.roofline_prediction import (
    main_kernel_or_reason,
    predicted_label,
    prediction_device,
    prediction_request,
    unpredicted,
)

log = logging.getLogger(__name__)

Answers = concurrent.futures.Future[tuple[LLMResponse, ...]]
AskLLM = Callable[[LLMEndpoint, LLMRequest], Answers]
Todo = list[tuple[PlannedVariant, TrialSpec]]


def with_predicted_labels(
    campaign: CampaignConfig,
    todo: Sequence[tuple[PlannedVariant, TrialSpec]],
    endpoint: LLMEndpoint,
    ask: AskLLM,
    progress: Progress,
) -> Todo:
    """`todo` with each unlabelled variant's trial specs carrying its predicted label (or the
    reason it has none); unchanged unless the campaign predicts."""
    if not campaign.roofline_predict:
        return list(todo)
    unlabelled = {
        _key(spec): variant for variant, spec in todo if spec.roofline.source != "measured"
    }
    asked: dict[tuple[str, str], tuple[ExtractedKernel, Answers]] = {}
    labels: dict[tuple[str, str], AppRooflineLabel] = {}
    for key, variant in unlabelled.items():
        kernel = main_kernel_or_reason(variant.original)
        if isinstance(kernel, str):
            labels[key] = unpredicted(kernel)
            continue
        task = variant.variant_task
        device = prediction_device(task.partition.gpu_model, device_description(variant.baseline))
        request = prediction_request(kernel, device, campaign.llm)
        asked[key] = (kernel, ask(endpoint, request))
    for key, (kernel, future) in asked.items():
        try:
            response = future.result()[0]
        except Exception as error:  # a lost LLM worker: no label, never a failed campaign
            labels[key] = unpredicted(f"the LLM request failed: {type(error).__name__}: {error}")
            continue
        labels[key] = predicted_label(kernel, response)
    for (app, name), label in labels.items():
        text = f"{label.label} (kernel {label.kernel})" if label.label else f"none: {label.reason}"
        progress.message(f"{app}/{name}: predicted roofline label {text}")
        if not label.label:
            log.warning("%s/%s: no predicted roofline label: %s", app, name, label.reason)
    return [
        (variant, replace(spec, roofline=labels[_key(spec)]) if _key(spec) in labels else spec)
        for variant, spec in todo
    ]


def _key(spec: TrialSpec) -> tuple[str, str]:
    return (spec.app, spec.variant)
