"""`[roofline] predict = true` end to end against the scripted LLM server (a fake at the HTTP
seam): real Parsl, real g++, real HDF5. The tiny app's loop becomes an OpenMP target region, so
extraction finds a main kernel whose class the generator is asked for once, before the trials."""

from __future__ import annotations

from pathlib import Path

import pytest
from campaign_faults_support import HONEST, JUDGE_VALID
from test_campaign import write_configs

from lassi_hpc.config import load_campaign, load_site
from lassi_hpc.flow.campaign import run_campaign
from lassi_hpc.roofline.classify import SYSTEM_PROMPT
from lassi_hpc.store import ResultsReader
from lassi_hpc.testing.scripted_llm import Reply, ScriptedLLM, ScriptedRequest

pytestmark = pytest.mark.slow

TARGET_PRAGMA = (
    "#pragma omp target teams distribute parallel for reduction(+ : sum) map(tofrom : sum)"
)


def predicting_configs(tmp_path: Path, url: str) -> tuple[Path, Path]:
    campaign, site = write_configs(tmp_path, url, '["lassi-ee"]', 1)
    kernel = tmp_path / "suite" / "tiny" / "omp" / "kernel.cpp"
    kernel.write_text(
        kernel.read_text().replace("#pragma omp parallel for reduction(+ : sum)", TARGET_PRAGMA)
    )
    text = campaign.read_text().replace("max_iterations = 2", "max_iterations = 1")
    campaign.write_text(text + "\n[roofline]\nguidance = true\npredict = true\n")
    return campaign, site


def is_roofline_question(request: ScriptedRequest) -> bool:
    return SYSTEM_PROMPT[:60] in request.prompt


@pytest.mark.parametrize(
    ("roofline_answer", "label", "source"),
    [
        ("Few operations per byte loaded.\nBandwidth", "bandwidth-bound", "predicted"),
        ("It depends on the input.", "", "none"),
    ],
)
def test_predicted_label_reaches_the_plan_prompt_and_is_stored(
    tmp_path: Path, roofline_answer: str, label: str, source: str
) -> None:
    def answer(request: ScriptedRequest, choice: int) -> Reply:
        if is_roofline_question(request):
            return Reply(roofline_answer)
        if "verdict" in request.prompt.lower():
            return Reply(JUDGE_VALID)
        return Reply(HONEST)

    with ScriptedLLM(answer) as server:
        campaign_file, site_file = predicting_configs(tmp_path, server.base_url)
        results = run_campaign(load_campaign(campaign_file), load_site(site_file))
        asked = [r for r in server.requests if is_roofline_question(r)]
        requests_before_rerun = len(server.requests)
        run_campaign(load_campaign(campaign_file), load_site(site_file))
        assert len(server.requests) == requests_before_rerun  # all stored: nothing is asked

    assert len(asked) == 1 and "series_sum:omp_target1" in asked[0].prompt
    with ResultsReader(results) as reader:
        trial = reader.read_trial("tiny", "omp", "lassi-ee", 0)
    extra = dict(trial.extra)
    assert (extra["roofline_label"], extra["roofline_label_source"]) == (label, source)
    assert extra["roofline_guidance"] == "on"
    assert extra["roofline_prediction"] == roofline_answer.splitlines()[-1]
    plan = next(step for step in trial.steps if step.purpose == "plan")
    plan_prompt = "\n".join(m.content for m in plan.request.messages)
    if label:
        assert extra["roofline_kernel"] == "series_sum:omp_target1"
        assert "bandwidth-bound" in plan_prompt and "predicted by an LLM" in plan_prompt
    else:
        assert "names neither Compute nor Bandwidth" in extra["roofline_prediction_reason"]
        assert "Roofline" not in plan_prompt
