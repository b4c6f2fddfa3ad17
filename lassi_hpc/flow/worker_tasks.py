"""The functions Parsl runs on partition workers: pin the worker's GPU, run the stage, say where.

The stages themselves (stages/baseline.py, stages/evaluate.py) know nothing of workers; these thin
wrappers are what the drivers hand to Parsl.
"""

from __future__ import annotations

from dataclasses import replace

from lassi_hpc.flow.worker_env import pin_accelerator, worker_placement
from lassi_hpc.records import BaselineRecord, Evaluation
from lassi_hpc.stages.baseline import BaselineTask, profile_baseline
from lassi_hpc.stages.evaluate import CandidateTask, evaluate_candidate


def profile_baseline_on_worker(task: BaselineTask) -> BaselineRecord:
    """profile_baseline on this worker's own GPU, with where it ran."""
    pin_accelerator(task.partition.device)
    record = profile_baseline(task)
    return replace(record, placement=worker_placement())


def evaluate_candidate_on_worker(task: CandidateTask) -> Evaluation:
    """evaluate_candidate on this worker's own GPU, with where it ran."""
    pin_accelerator(task.variant_task.partition.device)
    evaluation = evaluate_candidate(task)
    return replace(evaluation, placement=worker_placement())
