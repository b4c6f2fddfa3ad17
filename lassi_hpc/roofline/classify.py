"""Asking an LLM whether a kernel is compute- or bandwidth-bound: prompts, scenarios, answer
parsing, and the calls through the project's OpenAI-compatible client.

Scenarios (seed paper B): `profile` shows the kernel's measured metrics with its source;
`zero-shot` shows the source only; `few-shot` adds labelled examples of the same language as
earlier conversation turns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lassi_hpc.llm.client import complete
from lassi_hpc.llm.endpoint import LLMEndpoint
from lassi_hpc.records import ChatMessage, LLMRequest
from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.records import Boundedness, ExtractedKernel, LabelledKernel, Prediction
from lassi_hpc.roofline.specs import GpuSpec, balance_points

SCENARIOS = ("profile", "zero-shot", "few-shot")
SYSTEM_PROMPT = (
    "You are a GPU performance expert. Given a GPU kernel and the device it runs on, decide "
    "whether the kernel is compute-bound or bandwidth-bound on the roofline model. Reason "
    "briefly if you need to, then end your answer with exactly one word: Compute or Bandwidth."
)
_ANSWER_RE = re.compile(r"\b(compute|bandwidth)\b", re.IGNORECASE)
_LANGUAGE_NAMES = {"cuda": "CUDA", "omp": "OpenMP offload"}


def parse_answer(text: str) -> Boundedness | None:
    """The last whole word "Compute" or "Bandwidth" in `text` (any case); None when neither
    appears (the answer is then unparsed, and counts as wrong)."""
    found = _ANSWER_RE.findall(text)
    if not found:
        return None
    return "Compute" if found[-1].lower() == "compute" else "Bandwidth"


def device_text(spec: GpuSpec) -> str:
    """The device's peaks and balance points, as given to the model."""
    balance = balance_points(spec)
    return (
        f"Device: {spec.name}. Peak FP32 {spec.fp32_op_per_s / 1e12:.2f} TFLOP/s, peak FP64 "
        f"{spec.fp64_op_per_s / 1e12:.2f} TFLOP/s, peak INT32 {spec.int32_op_per_s / 1e12:.2f} "
        f"TOP/s, DRAM bandwidth {spec.dram_byte_per_s / 1e9:.1f} GB/s. Balance points: SP "
        f"{balance.sp_op_per_byte:.2f}, DP {balance.dp_op_per_byte:.2f}, INT "
        f"{balance.int_op_per_byte:.2f} op/byte."
    )


def kernel_message(kernel: LabelledKernel, spec: GpuSpec, scenario: str) -> str:
    """The user message for one kernel: name, device, launch, profile (scenario `profile`
    only), then the source."""
    _check_scenario(scenario)
    profile = ""
    if scenario == "profile":
        if not kernel.profile_text:
            raise RooflineError(
                f"kernel {kernel.name!r} has no profile data for the 'profile' scenario"
            )
        profile = kernel.profile_text
    return _message(
        kernel.name, kernel.language, device_text(spec), kernel.launch_text, profile, kernel.source
    )


def unlabelled_messages(kernel: ExtractedKernel, device: str) -> tuple[ChatMessage, ...]:
    """The zero-shot messages for a kernel whose class nobody measured: the system prompt, then
    the kernel's name, `device` (a line such as device_text's) and its source."""
    return (
        ChatMessage("system", SYSTEM_PROMPT),
        ChatMessage("user", _message(kernel.name, kernel.language, device, "", "", kernel.source)),
    )


def _message(name: str, language: str, device: str, launch: str, profile: str, source: str) -> str:
    parts = [f"Kernel: {name} ({_LANGUAGE_NAMES.get(language, language)})", device]
    if launch:
        parts.append(f"Launch: {launch}")
    if profile:
        parts.append(f"Profile: {profile}")
    parts.append(f"Source:\n```\n{source.rstrip()}\n```")
    parts.append("Is this kernel compute-bound or bandwidth-bound? Answer Compute or Bandwidth.")
    return "\n".join(parts)


def build_messages(
    kernel: LabelledKernel,
    spec: GpuSpec,
    scenario: str,
    examples: Sequence[LabelledKernel] = (),
    examples_per_language: int = 2,
) -> tuple[ChatMessage, ...]:
    """System prompt, then (few-shot) up to `examples_per_language` examples of the kernel's
    language, one per class in turn, as user/assistant turns, then the kernel's message.
    An example with the kernel's own name and source is never shown."""
    _check_scenario(scenario)
    messages = [ChatMessage("system", SYSTEM_PROMPT)]
    if scenario == "few-shot":
        chosen = _language_examples(kernel, examples, examples_per_language)
        if not chosen:
            raise RooflineError(
                f"few-shot: no example of language {kernel.language!r} for kernel {kernel.name!r}"
            )
        for example in chosen:
            messages.append(ChatMessage("user", kernel_message(example, spec, "zero-shot")))
            messages.append(ChatMessage("assistant", example.label))
    messages.append(ChatMessage("user", kernel_message(kernel, spec, scenario)))
    return tuple(messages)


def classify_kernels(
    endpoint: LLMEndpoint,
    kernels: Sequence[LabelledKernel],
    spec: GpuSpec,
    scenario: str,
    *,
    examples: Sequence[LabelledKernel] = (),
    seed: int = 0,
    max_tokens: int = 512,
    temperature: float = 0.0,
) -> list[Prediction]:
    """One prediction per kernel, asked one request at a time; a server error becomes an
    unparsed prediction with the error recorded (it counts as wrong)."""
    predictions: list[Prediction] = []
    for kernel in kernels:
        request = LLMRequest(
            purpose="roofline",
            messages=build_messages(kernel, spec, scenario, examples),
            max_tokens=max_tokens,
            temperature=temperature,
            seed=seed,
        )
        response = complete(endpoint, request)[0]
        predictions.append(
            Prediction(
                kernel=kernel.name,
                language=kernel.language,
                scenario=scenario,
                model=endpoint.model,
                truth=kernel.label,
                predicted=parse_answer(response.text) if response.ok else None,
                answer=response.text,
                error=response.error,
            )
        )
    return predictions


def _language_examples(
    kernel: LabelledKernel, examples: Sequence[LabelledKernel], count: int
) -> list[LabelledKernel]:
    same = [
        e
        for e in examples
        if e.language == kernel.language and (e.name, e.source) != (kernel.name, kernel.source)
    ]
    compute = [e for e in same if e.label == "Compute"]
    bandwidth = [e for e in same if e.label == "Bandwidth"]
    interleaved = [e for pair in zip(compute, bandwidth, strict=False) for e in pair]
    rest = [e for e in same if e not in interleaved]
    return (interleaved + rest)[:count]


def _check_scenario(scenario: str) -> None:
    if scenario not in SCENARIOS:
        raise RooflineError(
            f"unknown scenario {scenario!r}; must be one of: {', '.join(SCENARIOS)}"
        )
