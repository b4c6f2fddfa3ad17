"""Roofline guidance of lassi-ee plans: the campaign option, the app's label, the plan prompt,
and the label stored with each trial. The LLM is a scripted fake; evaluations are scripted."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import h5py
import pytest

from lassi_hpc.config import load_campaign
from lassi_hpc.config.campaign import LLMSection, RefineSection
from lassi_hpc.errors import ConfigError
from lassi_hpc.llm.prompting import MeasuredVersion, PromptContext, PromptError, plan_prompt
from lassi_hpc.records import (
    CandidateStatus,
    DeviceIdentity,
    EnergyMeasurement,
    EnergyMethod,
    Evaluation,
    LLMResponse,
    RepetitionEnergy,
    SourceFile,
    Strategy,
    TrialRecord,
)
from lassi_hpc.stages.refine import AskLLM, Evaluate, TrialSpec, run_trial
from lassi_hpc.stages.roofline_guidance import (
    AppRooflineLabel,
    RooflineGuidanceError,
    app_roofline_label,
    main_kernel,
    read_labels_file,
)
from lassi_hpc.store.trial_codec import (
    estimated_trial_size_bytes,
    read_trial_group,
    write_trial_group,
)

KERNEL = SourceFile(
    "kernels.cpp",
    "void scale(double* x, int n) {\n  for (int i = 0; i < n; ++i) x[i] *= 2.0;\n}\n",
)
CONTEXT = PromptContext(
    app="toy",
    summary="scales a vector",
    language="omp",
    device="test CPU (cpu)",
    compiler_command="make CC=g++",
    run_command="./main 100",
    original=(KERNEL,),
)
# The plan prompt as it was before guidance existed (captured from that code): guidance off must
# leave it byte for byte the same.
PLAN_WITHOUT_GUIDANCE = (
    "Goal: make this C++ with OpenMP code use less energy on the device below while printing "
    "exactly the same results.\n\nCode summary:\nIt scales.\n\nDevice and measured baseline:\n"
    "device: test CPU\n\nDo not write code. First list the inefficiencies that waste energy: "
    "redundant computation, memory traffic (host-device copies, uncoalesced or repeated loads), "
    "synchronisation, thread divergence. Then give a numbered list of changes, the one that saves "
    "the most energy first, one line each. No change may alter what the program prints or any "
    "function name or signature.\n\nThe code:\n\n```cpp kernels.cpp\nvoid scale(double* x, int "
    "n) {\n  for (int i = 0; i < n; ++i) x[i] *= 2.0;\n}\n```"
)


def label_line(kernel: str, label: str, duration_s: float | None = None) -> str:
    """One line as `lassi-hpc roofline label` writes it (the fields guidance reads, and more)."""
    record: dict[str, object] = {"kernel": kernel, "label": label, "gpu": "h100-sxm"}
    if duration_s is not None:
        record["profile"] = {"kernel": kernel, "invocation": 1, "duration_s": duration_s}
    return json.dumps(record) + "\n"


def write_labels(path: Path, *lines: str) -> Path:
    path.write_text("".join(lines), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------
# Campaign option

CAMPAIGN = """
[campaign]
name = "t"
variants = ["cuda"]

[[apps]]
name = "jacobi"

[[apps]]
name = "keogh"
"""


def campaign_file(tmp_path: Path, roofline: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(CAMPAIGN + roofline, encoding="utf-8")
    return path


def test_guidance_is_off_and_labels_empty_by_default(tmp_path: Path) -> None:
    campaign = load_campaign(campaign_file(tmp_path, ""))
    assert campaign.roofline_guidance is False
    assert campaign.roofline_label_files == {}
    assert campaign.roofline_predict is False


def test_guidance_may_rely_on_predicted_labels_alone(tmp_path: Path) -> None:
    campaign = load_campaign(
        campaign_file(tmp_path, "[roofline]\nguidance = true\npredict = true\n")
    )
    assert (campaign.roofline_guidance, campaign.roofline_predict) == (True, True)
    assert campaign.roofline_label_files == {}


def test_roofline_section_resolves_label_files_next_to_the_campaign(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    write_labels(tmp_path / "profiles" / "jacobi.jsonl", label_line("jacobi_step", "Bandwidth"))
    campaign = load_campaign(
        campaign_file(
            tmp_path, '[roofline]\nguidance = true\nlabels = { jacobi = "profiles/jacobi.jsonl" }\n'
        )
    )
    assert campaign.roofline_guidance is True
    assert campaign.roofline_label_files == {"jacobi": (tmp_path / "profiles/jacobi.jsonl")}


@pytest.mark.parametrize(
    ("roofline", "message"),
    [
        ('[roofline]\nlabels = { jacobbi = "l.jsonl" }\n', r"roofline\.labels\.jacobbi.*'jacobi'"),
        ('[roofline]\nlabels = { keogh = "missing.jsonl" }\n', r"roofline\.labels\.keogh.*exist"),
        ("[roofline]\nguidance = true\n", r"roofline\.labels: guidance = true needs labels"),
        ('[roofline]\nguidance = "yes"\n', r"roofline\.guidance: must be true or false"),
        ("[roofline]\nguide = true\n", r"roofline\.guide"),
    ],
)
def test_roofline_config_errors_name_file_and_key(
    tmp_path: Path, roofline: str, message: str
) -> None:
    write_labels(tmp_path / "l.jsonl", label_line("k", "Compute"))
    path = campaign_file(tmp_path, roofline)
    with pytest.raises(ConfigError, match=message) as raised:
        load_campaign(path)
    assert str(path) in str(raised.value)


# --------------------------------------------------------------------------------------------------
# The app's label


def test_main_kernel_is_the_longest_running(tmp_path: Path) -> None:
    path = write_labels(
        tmp_path / "l.jsonl",
        label_line("init", "Compute", 1e-5),
        label_line("sweep", "Bandwidth", 3e-3),
        label_line("reduce", "Compute", 2e-3),
    )
    label = app_roofline_label("jacobi", {"jacobi": path})
    assert label == AppRooflineLabel("bandwidth-bound", "measured", "sweep", str(path))


def test_main_kernel_is_the_first_when_no_durations_are_known(tmp_path: Path) -> None:
    path = write_labels(
        tmp_path / "l.jsonl", label_line("first", "Compute"), label_line("second", "Bandwidth")
    )
    chosen = main_kernel(read_labels_file(path))
    assert chosen is not None and chosen.kernel == "first"
    assert app_roofline_label("a", {"a": path}).label == "compute-bound"


def test_an_app_without_labels_file_or_kernels_has_no_label(tmp_path: Path) -> None:
    empty = write_labels(tmp_path / "empty.jsonl", "\n")
    assert app_roofline_label("keogh", {"jacobi": empty}) == AppRooflineLabel()
    assert app_roofline_label("keogh", {}).source == "none"
    none_listed = app_roofline_label("jacobi", {"jacobi": empty})
    assert (none_listed.label, none_listed.source) == ("", "none")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json\n", r"l\.jsonl:2: not JSON"),
        ('{"kernel": "k", "label": "Memory"}\n', r"l\.jsonl:2: kernel 'k': 'label' is 'Memory'"),
        ('{"label": "Compute"}\n', r"l\.jsonl:2: needs a 'kernel'"),
        ('{"kernel": "k", "label": "Compute", "profile": {"duration_s": -1}}\n', r"duration_s"),
    ],
)
def test_bad_labels_file_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write_labels(tmp_path / "l.jsonl", label_line("ok", "Compute"), line)
    with pytest.raises(RooflineGuidanceError, match=message):
        read_labels_file(path)


# --------------------------------------------------------------------------------------------------
# The plan prompt


def plan_text(context: PromptContext) -> str:
    return plan_prompt(context, "It scales.", "device: test CPU")[1].content


def test_plan_prompt_without_label_is_unchanged() -> None:
    assert plan_text(CONTEXT) == PLAN_WITHOUT_GUIDANCE


def test_bandwidth_bound_plan_names_label_source_and_memory_optimisations() -> None:
    guided = replace(
        CONTEXT,
        roofline_label="bandwidth-bound",
        roofline_label_source="measured",
        roofline_kernel="scale",
    )
    text = plan_text(guided)
    assert "Roofline class of the main kernel: bandwidth-bound (kernel scale)." in text
    assert "measured by profiling" in text
    for words in ("coalesced accesses", "shared memory", "fusing kernels", "host-device transfers"):
        assert words in text
    assert "smaller data types ONLY where" in text
    assert "strength reduction" not in text
    # The rest of the prompt is the unguided one, with the guidance between device and task.
    before, after = PLAN_WITHOUT_GUIDANCE.split("\n\nDo not write code", 1)
    assert text.startswith(before + "\n\nRoofline class")
    assert text.endswith("\n\nDo not write code" + after)


def test_compute_bound_plan_names_instruction_optimisations_and_a_predicted_source() -> None:
    guided = replace(CONTEXT, roofline_label="compute-bound", roofline_label_source="predicted")
    text = plan_text(guided)
    assert "main kernel: compute-bound." in text
    assert "predicted by an LLM" in text and "may be wrong" in text
    for words in ("strength reduction", "hoisting", "avoiding thread divergence", "intrinsics"):
        assert words in text
    assert "coalesced accesses" not in text


@pytest.mark.parametrize(
    ("label", "source", "message"),
    [("memory-bound", "measured", "roofline label"), ("compute-bound", "guessed", "source")],
)
def test_unknown_label_or_source_is_a_prompt_error(label: str, source: str, message: str) -> None:
    bad = replace(CONTEXT, roofline_label=label, roofline_label_source=source)
    with pytest.raises(PromptError, match=message):
        plan_text(bad)


# --------------------------------------------------------------------------------------------------
# A lassi-ee trial, driven by plain calls with a scripted (fake) generator


def fake_measurement(energy_j: float) -> EnergyMeasurement:
    cpu = DeviceIdentity("estimate", "cpu", "test CPU", "host:cpu", "host")
    rep = RepetitionEnergy(energy_j, 1.0, energy_j, 0.0, 1)
    return EnergyMeasurement(
        EnergyMethod.ESTIMATE, "estimate", (cpu,), (rep,), energy_j, 0.0, 0.0, 0.0, 1.0, energy_j
    )


class ScriptedGenerator:
    """A fake LLM server: a canned answer per purpose, every request kept."""

    def __init__(self) -> None:
        self.asked: list[AskLLM] = []
        body = KERNEL.text.replace("*= 2.0;", "*= 2.0;  // v2")
        self.answers = {
            "summary": "It scales a vector.",
            "plan": "1. fuse the loops",
            "refactor": f"```cpp kernels.cpp\n{body}```\n",
        }

    def ask(self, action: AskLLM) -> LLMResponse:
        self.asked.append(action)
        text = self.answers.get(action.request.purpose, "")
        return LLMResponse(text, "stop", "fake", "http://fake/v1", 1, 10, 10, 0.1, 1)

    def plan_request_text(self) -> str:
        plans = [a.request for a in self.asked if a.request.purpose == "plan"]
        assert len(plans) == 1
        return plans[0].messages[1].content


def scripted_evaluation(action: Evaluate) -> Evaluation:
    return Evaluation(CandidateStatus.PASSED, "", measurement=fake_measurement(8.0))


def lassi_ee_spec(label: AppRooflineLabel, guidance: bool) -> TrialSpec:
    return TrialSpec(
        app="toy",
        variant="omp",
        strategy=Strategy.LASSI_EE,
        trial=0,
        partition="cpu",
        context=CONTEXT,
        baseline=MeasuredVersion(10.0, 10.0, 1.0, "estimate"),
        baseline_stdout="PASS\n",
        device_specs="device: test CPU",
        llm=LLMSection(),
        refine=RefineSection(max_iterations=1, judge=False, rescore=False),
        generator_model="fake",
        roofline=label,
        roofline_guidance=guidance,
    )


MEASURED = AppRooflineLabel("bandwidth-bound", "measured", "scale", "/p/l.jsonl")


def run_scripted(label: AppRooflineLabel, guidance: bool) -> tuple[ScriptedGenerator, TrialRecord]:
    generator = ScriptedGenerator()
    record = run_trial(lassi_ee_spec(label, guidance), generator.ask, scripted_evaluation)
    return generator, record


def test_guided_trial_sends_the_label_in_its_plan_prompt_and_stores_it() -> None:
    generator, record = run_scripted(MEASURED, guidance=True)
    plan = generator.plan_request_text()
    assert "main kernel: bandwidth-bound (kernel scale)." in plan
    assert "measured by profiling" in plan
    assert dict(record.extra) == {
        "roofline_guidance": "on",
        "roofline_label": "bandwidth-bound",
        "roofline_label_source": "measured",
        "roofline_kernel": "scale",
    }
    refactor = [a.request for a in generator.asked if a.request.purpose == "refactor"]
    assert refactor and "1. fuse the loops" in refactor[0].messages[1].content


def test_unguided_trial_prompts_are_identical_to_a_trial_without_any_label() -> None:
    unguided, unguided_record = run_scripted(MEASURED, guidance=False)
    plain, plain_record = run_scripted(AppRooflineLabel(), guidance=False)
    assert [a.request.messages for a in unguided.asked] == [a.request.messages for a in plain.asked]
    assert "Roofline" not in unguided.plan_request_text()
    # The label is still stored, so guided and unguided campaigns can be compared per class.
    assert dict(unguided_record.extra)["roofline_guidance"] == "off"
    assert dict(unguided_record.extra)["roofline_label"] == "bandwidth-bound"
    assert dict(plain_record.extra)["roofline_label_source"] == "none"


def test_guidance_without_a_label_leaves_the_plan_prompt_unchanged() -> None:
    guided, _ = run_scripted(AppRooflineLabel(), guidance=True)
    plain, _ = run_scripted(AppRooflineLabel(), guidance=False)
    assert guided.plan_request_text() == plain.plan_request_text()


# --------------------------------------------------------------------------------------------------
# Storage


def test_trial_extra_round_trips_and_older_files_read_without_it(tmp_path: Path) -> None:
    _, record = run_scripted(MEASURED, guidance=True)
    without = replace(record, extra=())
    assert estimated_trial_size_bytes(record) > estimated_trial_size_bytes(without)
    with h5py.File(tmp_path / "t.h5", "w") as file:
        write_trial_group(file.create_group("guided"), record, "2026-01-01T00:00:00Z")
        write_trial_group(file.create_group("old"), record, "2026-01-01T00:00:00Z")
        del file["old"]["extra"]  # as written before trials carried extra facts
    with h5py.File(tmp_path / "t.h5", "r") as file:
        assert read_trial_group(file["guided"]).extra == record.extra
        assert read_trial_group(file["old"]).extra == ()
