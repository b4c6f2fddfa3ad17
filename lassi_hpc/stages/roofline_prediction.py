"""A predicted roofline label for an app variant that no profile labelled (`[roofline] predict`).

The main kernel is the largest kernel of the variant's editable sources, by lines: a CUDA
`__global__` function or an OpenMP target region (roofline/extract.py); the earliest in file
order wins a tie. It is shown zero-shot, with the device, to the campaign's generator LLM
(roofline/classify.py). A parsed answer becomes the label with source "predicted"; no kernel, an
LLM failure or an unparsed answer gives no label (source "none") with the reason, and never
stops the campaign. Plain functions: the driver sends the request where it sends its others.
"""

from __future__ import annotations

from collections.abc import Sequence

from lassi_hpc.config.campaign import LLMSection
from lassi_hpc.records import LLMRequest, LLMResponse, SourceFile
from lassi_hpc.roofline.classify import device_text, parse_answer, unlabelled_messages
from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.extract import extract_kernels
from lassi_hpc.roofline.gpu_models import spec_name_for_gpu_model
from lassi_hpc.roofline.records import ExtractedKernel
from lassi_hpc.roofline.specs import GPU_SPECS
from lassi_hpc.stages.roofline_guidance import PROMPT_LABELS, AppRooflineLabel

# The answer's last line is stored with each trial; a runaway line is cut to this many characters.
ANSWER_LINE_CHARS = 200


def main_source_kernel(sources: Sequence[SourceFile]) -> ExtractedKernel | None:
    """The kernel of `sources` with the most lines (the earliest on a tie); None when they hold
    no `__global__` function or target region. RooflineError naming the file when a kernel's
    body never closes."""
    kernels = [kernel for source in sources for kernel in extract_kernels(source.text, source.name)]
    if not kernels:
        return None
    return max(kernels, key=lambda kernel: kernel.source.count("\n") + 1)


def prediction_device(gpu_model: str, device_description: str) -> str:
    """The device line shown to the LLM: the specs table's peaks and balance points when the
    partition's `gpu_model` names an entry, else what the baseline measured on."""
    name = spec_name_for_gpu_model(gpu_model)
    if name is not None:
        return device_text(GPU_SPECS[name])
    return f"Device: {device_description or 'unknown'}."


def prediction_request(kernel: ExtractedKernel, device: str, llm: LLMSection) -> LLMRequest:
    """The one zero-shot request for `kernel`'s class: greedy, with the campaign's seed and
    answer length."""
    return LLMRequest(
        purpose="roofline",
        messages=unlabelled_messages(kernel, device),
        max_tokens=llm.max_tokens,
        temperature=0.0,
        seed=llm.seed,
    )


def predicted_label(kernel: ExtractedKernel, response: LLMResponse) -> AppRooflineLabel:
    """The label of a prediction: source "predicted" when the answer names a class, else source
    "none" with the reason (the server's error, or an answer with no class word)."""
    if not response.ok:
        first_line = response.error.splitlines()[0] if response.error else "no answer"
        return unpredicted(f"the LLM request failed: {first_line}", kernel.name)
    last_line = last_answer_line(response.text)
    parsed = parse_answer(response.text)
    if parsed is None:
        return unpredicted("the answer names neither Compute nor Bandwidth", kernel.name, last_line)
    return AppRooflineLabel(
        label=PROMPT_LABELS[parsed], source="predicted", kernel=kernel.name, prediction=last_line
    )


def unpredicted(reason: str, kernel: str = "", answer_line: str = "") -> AppRooflineLabel:
    """No label (source "none"), saying why the prediction gave none."""
    return AppRooflineLabel(kernel=kernel, prediction=answer_line, reason=reason)


def last_answer_line(text: str) -> str:
    """The last non-blank line of an answer, cut to ANSWER_LINE_CHARS characters."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:ANSWER_LINE_CHARS] if lines else ""


def main_kernel_or_reason(sources: Sequence[SourceFile]) -> ExtractedKernel | str:
    """The main kernel, or the reason there is none to ask about."""
    try:
        kernel = main_source_kernel(sources)
    except RooflineError as error:
        return f"its kernels could not be extracted: {error}"
    if kernel is None:
        names = ", ".join(source.name for source in sources)
        return f"no __global__ function or OpenMP target region in {names}"
    return kernel
