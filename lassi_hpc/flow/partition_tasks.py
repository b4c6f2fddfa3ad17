"""Run one task per app variant on its partition's Parsl executor and keep each result as it comes.

The baseline and roofline drivers share this loop: results are stored the moment they arrive, so
a driver that dies keeps everything finished before; a task that raised (a harness fault on the
worker, never the app's own failure, which is a record) is reported and left for the next run.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import parsl

from lassi_hpc.apps.manifest import AppManifest
from lassi_hpc.config.site import Partition
from lassi_hpc.flow.progress import Progress

log = logging.getLogger(__name__)


class PartitionTask(Protocol):
    @property
    def partition(self) -> Partition: ...

    @property
    def variant(self) -> str: ...

    @property
    def manifest(self) -> AppManifest: ...


TaskT = TypeVar("TaskT", bound=PartitionTask)
ResultT = TypeVar("ResultT")


def run_on_partitions(
    tasks: Sequence[TaskT],
    work: Callable[[TaskT], ResultT],
    keep: Callable[[TaskT, ResultT], str],
    progress: Progress,
    what: str,
) -> list[str]:
    """`work(task)` as a Parsl app on the executor named after each task's partition (a Parsl
    config must be loaded); `keep(task, result)` stores a result and returns its progress line.
    Returns one line per task that raised instead."""
    futures = {
        parsl.python_app(work, executors=[task.partition.name])(task): task for task in tasks
    }
    errors: list[str] = []
    for future in concurrent.futures.as_completed(futures):
        task = futures[future]
        name = f"{task.manifest.name}/{task.variant}"
        try:
            result = future.result()
        except Exception as error:  # a harness fault on the worker; the app's own are records
            log.exception("%s task %s raised", what, name)
            errors.append(f"{name}: {type(error).__name__}: {error}")
            progress.advance(f"{name}: harness error: {error}")
            continue
        progress.advance(keep(task, result))
    return errors
