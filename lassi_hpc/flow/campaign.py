"""The campaign driver: baselines, then every trial of every app, interleaved, through Parsl.

Each trial is a generator (stages/refine.py) that yields actions. The driver sends LLM requests to
the executor next to the LLM servers and candidate evaluations to the app's partition executor,
and feeds each answer back to its trial as soon as it arrives. So while one trial waits for the
LLM, another's candidate is being measured: the LLM and the devices are busy at the same time.

Only this process writes the HDF5 file, one finished trial at a time. Running the same command
again skips stored baselines and trials, so an interrupted campaign resumes.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import parsl

from lassi_hpc.config.campaign import CampaignConfig
from lassi_hpc.config.site import SiteConfig
from lassi_hpc.errors import ConfigError, LassiError
from lassi_hpc.flow.baseline import plan_baseline, run_baseline
from lassi_hpc.flow.campaign_status import STATUS_NAME, StatusFile
from lassi_hpc.flow.parsl_config import llm_executor_label, parsl_config
from lassi_hpc.flow.progress import Progress, how_obtained
from lassi_hpc.flow.roofline_prediction import with_predicted_labels
from lassi_hpc.flow.run_dirs import parsl_run_dir
from lassi_hpc.flow.trial_plan import PlannedVariant, plan_variant, skip_reason
from lassi_hpc.flow.worker_tasks import evaluate_candidate_on_worker
from lassi_hpc.llm import LLMEndpoint, RunningServer, complete, start_server
from lassi_hpc.llm.block import block_endpoint
from lassi_hpc.llm.endpoint import resolve_base_url
from lassi_hpc.records import (
    BaselineRecord,
    Evaluation,
    LLMRequest,
    LLMResponse,
    TrialOutcome,
    TrialRecord,
)
from lassi_hpc.stages.baseline import BaselineTask
from lassi_hpc.stages.evaluate import CandidateTask
from lassi_hpc.stages.refine import (
    Action,
    AskLLM,
    Evaluate,
    Reply,
    TrialProcess,
    TrialSpec,
    refactoring_trial,
)
from lassi_hpc.store import ResultsReader, ResultsWriter

log = logging.getLogger(__name__)


class CampaignIncompleteError(LassiError):
    """Some trials hit a harness fault; they were not stored and run again on the next run."""


@dataclass
class _Running:
    """A trial in flight: its generator, where its evaluations go, and how far it has got."""

    spec: TrialSpec
    process: TrialProcess
    planned: PlannedVariant
    replies: int = 0  # answers (LLM or evaluation) sent into the generator so far


def ask_llm(
    endpoint: LLMEndpoint,
    request: LLMRequest,
    parsl_resource_specification: dict[str, Any] | None = None,
) -> tuple[LLMResponse, ...]:
    """The LLM executor's task: `complete`, with the keyword through which Parsl's
    HighThroughputExecutor takes a task's priority (lower runs first). The base URL of a server
    started in a Slurm block is known only here, on that block's workers."""
    return complete(resolve_base_url(endpoint), request)


def check_llm_servers(campaign: CampaignConfig, site: SiteConfig) -> dict[str, str]:
    """Role -> site server name; a name the site does not define is a ConfigError."""
    roles = {
        "generator": campaign.llm.generator,
        "judge": campaign.llm.judge or campaign.llm.generator,
    }
    for role, name in roles.items():
        if name not in site.llm_servers:
            key = "llm.generator" if role == "generator" or not campaign.llm.judge else "llm.judge"
            raise ConfigError(
                str(campaign.source),
                key,
                f"no LLM server named {name!r} in site {site.name!r} ({site.source})",
                allowed=sorted(site.llm_servers) or ["(the site defines no [llm_servers])"],
            )
    return roles


def check_campaign_on_site(
    campaign: CampaignConfig, site: SiteConfig
) -> tuple[dict[str, str], list[BaselineTask]]:
    """What `run` checks before any work starts, also for commands that prepare a run elsewhere
    (`check`, `render-sbatch`): the LLM servers the campaign names and a partition for every app
    variant. Returns check_llm_servers' roles and the baseline plan; raises ConfigError or
    AppError."""
    return check_llm_servers(campaign, site), plan_baseline(campaign, site)


def run_campaign(
    campaign: CampaignConfig,
    site: SiteConfig,
    progress_stream: TextIO | None = None,
    redo_failed_baselines: bool = False,
) -> Path:
    """Run (or resume) the whole campaign; return the results file's path.
    `redo_failed_baselines`: profile again the baselines stored with a failed status."""
    # Servers, apps, variants and partitions are resolved before status.json exists, so that a
    # typo leaves no results folder claiming a driver in its baseline phase.
    roles, tasks = check_campaign_on_site(campaign, site)
    results_file = campaign.results_file
    status = StatusFile(results_file.parent / STATUS_NAME, campaign.name)
    status.update(phase="baseline")
    run_baseline(campaign, site, progress_stream, redo_failed=redo_failed_baselines, tasks=tasks)
    planned, skipped = _plan_trials(campaign, tasks, results_file)
    progress = Progress(0, "campaign", stream=progress_stream)
    for name, reason in skipped:
        progress.message(f"{name}: no trials, {reason}")
    with ResultsWriter.open_existing(results_file) as writer:
        todo = [
            (variant, spec)
            for variant in planned
            for spec in variant.specs
            if not writer.has_trial(spec.app, spec.variant, spec.strategy.value, spec.trial)
        ]
        total = sum(len(v.specs) for v in planned)
        progress.total = len(todo)
        progress.message(
            f"{total} trials planned, {total - len(todo)} already stored, {len(todo)} to run "
            f"-> {results_file}"
        )
        if not todo:
            status.update(phase="finished", trials_total=total, trials_done=total)
            return results_file
        status.update(phase="trials", trials_total=total, trials_done=total - len(todo))
        run_dir = parsl_run_dir(site, results_file)
        with _llm_servers(roles, site, campaign, run_dir) as endpoints:
            driver = _TrialDriver(endpoints, writer, progress, status, total - len(todo))
            partitions = {variant.variant_task.partition.name for variant, _ in todo}
            servers = {name: site.llm_servers[name] for name in dict.fromkeys(roles.values())}
            with parsl.load(parsl_config(site, run_dir, partitions, servers)):
                generator = endpoints["generator"]
                todo = with_predicted_labels(
                    campaign, todo, generator, driver.asker(generator.name), progress
                )
                records, errors = driver.run(todo)
        progress.message(summarize_trials(records))
        if errors:
            status.update(phase="incomplete")
            raise CampaignIncompleteError(
                f"{len(errors)} trial(s) stopped on a harness fault and were not stored (run "
                "again to redo them):\n  " + "\n  ".join(errors)
            )
        status.update(phase="finished")
    return results_file


def _plan_trials(
    campaign: CampaignConfig, tasks: list[BaselineTask], results_file: Path
) -> tuple[list[PlannedVariant], list[tuple[str, str]]]:
    baselines: dict[tuple[str, str], BaselineRecord | None] = {}
    with ResultsReader(results_file) as reader:
        stored = {(row.app, row.variant) for row in reader.baselines()}
        for task in tasks:
            key = (task.manifest.name, task.variant)
            baselines[key] = reader.read_baseline(*key) if key in stored else None
    planned, skipped = [], []
    for task in tasks:
        baseline = baselines[(task.manifest.name, task.variant)]
        reason = skip_reason(baseline)
        if reason or baseline is None:
            skipped.append((f"{task.manifest.name}/{task.variant}", reason))
            continue
        planned.append(plan_variant(campaign, task, baseline))
    return planned, skipped


@contextlib.contextmanager
def _llm_servers(
    roles: dict[str, str], site: SiteConfig, campaign: CampaignConfig, run_dir: Path
) -> Iterator[dict[str, LLMEndpoint]]:
    """Start each server the campaign uses (once, even if it both generates and judges), and
    yield role -> endpoint; each endpoint's name is its server's, whose executor it is sent to.

    A server with a `slurm` table is not started here: its executor's block starts it, and its
    endpoint takes the base URL from the environment of that block's workers.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        endpoints: dict[str, LLMEndpoint] = {}
        for name in dict.fromkeys(roles.values()):
            entry = site.llm_servers[name]
            if entry.slurm is not None:
                endpoints[name] = block_endpoint(
                    name, entry, timeout_s=campaign.llm.timeout_s, retries=campaign.llm.retries
                )
                continue
            server: RunningServer = stack.enter_context(
                start_server(
                    name,
                    entry,
                    run_dir,
                    timeout_s=campaign.llm.timeout_s,
                    retries=campaign.llm.retries,
                )
            )
            endpoints[name] = server.endpoint
        yield {role: endpoints[name] for role, name in roles.items()}


class _TrialDriver:
    """Feeds the trials' actions to Parsl and the answers back; stores finished trials."""

    def __init__(
        self,
        endpoints: dict[str, LLMEndpoint],
        writer: ResultsWriter,
        progress: Progress,
        status: StatusFile,
        done_before: int,
    ) -> None:
        self._endpoints = endpoints
        self._done_before = done_before
        self._writer = writer
        self._progress = progress
        self._status = status
        self._ask: dict[str, Any] = {}
        self._evaluate: dict[str, Any] = {}
        # Each future in flight, with the trials waiting on it and whether it is an LLM request.
        self._pending: dict[concurrent.futures.Future[Any], tuple[list[_Running], bool]] = {}
        self.records: list[TrialRecord] = []
        self.errors: list[str] = []

    def run(
        self, todo: Sequence[tuple[PlannedVariant, TrialSpec]]
    ) -> tuple[list[TrialRecord], list[str]]:
        groups: dict[tuple[str, str, str], list[_Running]] = {}
        for variant, planned_spec in todo:
            # The model names are known now that the servers answer (an embedded or vLLM server
            # reports the one it serves).
            spec = replace(
                planned_spec,
                generator_model=self._endpoints["generator"].model,
                judge_model=self._endpoints["judge"].model,
            )
            key = (spec.app, spec.variant, spec.strategy.value)
            groups.setdefault(key, []).append(_Running(spec, refactoring_trial(spec), variant))
        for runs in groups.values():
            self._start_group(runs)
        while self._pending:
            done, _ = concurrent.futures.wait(
                self._pending, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                runs, _ = self._pending.pop(future)
                self._completed(future, runs)
            self._publish()
        return self.records, self.errors

    def _start_group(self, runs: list[_Running]) -> None:
        """Start k trials of one app and strategy; identical first prompts go as one n=k request."""
        first = [(run, next(run.process)) for run in runs]
        asks = [action for _, action in first if isinstance(action, AskLLM)]
        if len(asks) == len(first) and len(first) > 1 and _same_request(asks):
            seeds = [a.request.seed for a in asks]
            request = replace(asks[0].request, n=len(asks), seed=min(seeds))
            ordered = [run for _, run in sorted(zip(seeds, runs, strict=True), key=lambda p: p[0])]
            self._submit(AskLLM(asks[0].role, request), ordered)
            return
        for run, action in first:
            self._submit(action, [run])

    def _submit(self, action: Action, runs: list[_Running]) -> None:
        if isinstance(action, AskLLM):
            # Depth first: the trial furthest along is answered first. Served first come, first
            # served, every summary and plan of every app would go before the first change, and
            # the devices would wait that long for their first candidate (docs/benchmarks.md).
            depth = max(run.replies for run in runs)
            endpoint = self._endpoints[action.role]
            future = self.asker(endpoint.name)(
                endpoint,
                action.request,
                parsl_resource_specification={"priority": -depth},
            )
        else:
            (run,) = runs
            future = self._evaluator(run.spec.partition)(_candidate_task(run, action))
        self._pending[future] = (runs, isinstance(action, AskLLM))

    def asker(self, server: str) -> Any:
        """The Parsl app that sends a request to `server` on its LLM executor."""
        if server not in self._ask:
            self._ask[server] = parsl.python_app(ask_llm, executors=[llm_executor_label(server)])
        return self._ask[server]

    def _evaluator(self, partition: str) -> Any:
        if partition not in self._evaluate:
            self._evaluate[partition] = parsl.python_app(
                evaluate_candidate_on_worker, executors=[partition]
            )
        return self._evaluate[partition]

    def _completed(self, future: concurrent.futures.Future[Any], runs: list[_Running]) -> None:
        try:
            result = future.result()
        except Exception as error:  # a harness fault (worker lost, bug); the trial is redone later
            for run in runs:
                name = _trial_name(run.spec)
                log.error("trial %s: harness fault: %s", name, error, exc_info=error)
                self.errors.append(f"{name}: {type(error).__name__}: {error}")
                self._progress.advance(f"{name}: harness fault, not stored: {error}")
            return
        if isinstance(result, tuple):  # LLM responses, one per trial in order
            for run, response in zip(runs, result, strict=True):
                self._report_answer(run, response)
                self._advance(run, response)
        else:
            (run,) = runs
            self._report_evaluation(run, result)
            self._advance(run, result)

    def _advance(self, run: _Running, reply: Reply) -> None:
        run.replies += 1
        try:
            action = run.process.send(reply)
        except StopIteration as finished:
            record: TrialRecord = finished.value
            self._writer.write_trial(record)
            self.records.append(record)
            self._progress.advance(describe_trial(record))
            return
        self._submit(action, [run])

    def _report_answer(self, run: _Running, response: LLMResponse) -> None:
        if response.ok:
            text = f"{response.completion_tokens} tokens in {response.latency_s:.1f} s" + (
                " (cut at max_tokens)" if response.finish_reason == "length" else ""
            )
        else:
            text = f"FAILED: {response.error.splitlines()[0][:160] if response.error else '?'}"
        self._progress.message(f"{_trial_name(run.spec)}: LLM answer, {text}")

    def _report_evaluation(self, run: _Running, evaluation: Evaluation) -> None:
        text = evaluation.status.value
        if evaluation.measurement is not None:
            m = evaluation.measurement
            how = how_obtained(m.is_estimate, m.method.value)
            text += f", {m.energy_j_mean:.3g} J ± {m.energy_j_ci95:.2g} ({how})"
        elif evaluation.reason:
            text += f": {evaluation.reason.splitlines()[0][:120]}"
        self._progress.message(f"{_trial_name(run.spec)}: candidate {text}")

    def _publish(self) -> None:
        llm = sum(1 for _, is_llm in self._pending.values() if is_llm)
        self._status.update(
            trials_done=self._done_before + len(self.records),
            trials_running=sum(len(runs) for runs, _ in self._pending.values()),
            llm_requests_in_flight=llm,
            evaluations_in_flight=len(self._pending) - llm,
            harness_faults=len(self.errors),
        )


def _same_request(asks: Sequence[AskLLM]) -> bool:
    first = asks[0]
    return all(
        a.role == first.role and replace(a.request, seed=0) == replace(first.request, seed=0)
        for a in asks
    )


def _candidate_task(run: _Running, action: Evaluate) -> CandidateTask:
    planned = run.planned
    return CandidateTask(
        variant_task=planned.variant_task,
        reference_runs=planned.baseline.runs,
        original=planned.original,
        files=action.files,
        measure_seed=action.measure_seed,
        timeout_factor=run.spec.refine.timeout_factor,
    )


def _trial_name(trial: TrialSpec | TrialRecord) -> str:
    return f"{trial.app}/{trial.variant} {trial.strategy.value} #{trial.trial}"


def describe_trial(record: TrialRecord) -> str:
    text = f"{_trial_name(record)}: {record.outcome.value}"
    if record.best_step >= 0:
        evaluation = record.steps[record.best_step].evaluation
        assert evaluation is not None and evaluation.measurement is not None
        m = evaluation.measurement
        text += f", best {m.energy_j_mean:.3g} J ({how_obtained(m.is_estimate, m.method.value)})"
    if record.reason:
        text += f" ({record.reason.splitlines()[0][:160]})"
    return text


def summarize_trials(records: Sequence[TrialRecord]) -> str:
    """One closing line per strategy: how many trials ended with an accepted candidate."""
    lines = []
    for strategy in sorted({r.strategy for r in records}):
        mine = [r for r in records if r.strategy is strategy]
        accepted = sum(r.outcome is TrialOutcome.ACCEPTED for r in mine)
        lines.append(f"{strategy.value}: {accepted} of {len(mine)} trials accepted")
    return "; ".join(lines) + " (this run; `lassi-hpc status` shows the whole campaign)"
