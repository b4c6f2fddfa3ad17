"""The prompts of both strategies, rendered strictly from the plain-text templates in `prompts/`.

`render` fills a template's `$name` / `${name}` placeholders and refuses a missing value, an unknown
keyword or a placeholder left in the output. The functions below build the messages of each step;
the words live in the templates (docs/prompts.md lists them), the code only decides what goes in.
Every answer is asked for in one format: each file complete, in a fenced block whose info line
names it ("```cpp kernels.cpp"), which is what `lassi_hpc.stages.extract` reads back.
"""

from __future__ import annotations

import difflib
import importlib.resources
import math
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, fields

from lassi_hpc.errors import LassiError
from lassi_hpc.records import ChatMessage, SourceFile

LANGUAGE_NAMES = {"cuda": "CUDA C++", "hip": "HIP C++", "omp": "C++ with OpenMP"}
FIX_STAGES = {
    "build": "It did not compile.",
    "run": "It compiled, but the program crashed, hung or exited with an error.",
    "verify": "It ran, but its output differs from the original program's on the same input.",
}
MEASUREMENT_METHODS = {
    "counter": "measured with the energy counter",
    "sampled-power": "measured by sampling power",
    "estimate": "ESTIMATE from a model, not a measurement",
}
# The judge needs to see what the programs printed, not pages of it.
JUDGE_STDOUT_CHARS = 3000

_FENCE_LANGUAGES = {
    ".cu": "cuda",
    ".cuh": "cuda",
    ".c": "c",
    ".f90": "fortran",
    ".f": "fortran",
    ".py": "python",
}
_CPP_SUFFIXES = (".cpp", ".cc", ".cxx", ".c++", ".h", ".hh", ".hpp", ".hxx", ".hip", ".inl")
# Roofline guidance: the template of optimisations matching each class (docs/prompts.md).
ROOFLINE_GUIDANCE_TEMPLATES = {
    "bandwidth-bound": "roofline_bandwidth_bound",
    "compute-bound": "roofline_compute_bound",
}
ROOFLINE_LABEL_SOURCES = {
    "measured": "measured by profiling it on the GPU",
    "predicted": "predicted by an LLM from its source code alone, so it may be wrong",
    "": "given without its source",
}
# `$` followed by what could be a placeholder name: left in a rendered template it is a mistake.
_LEFTOVER_RE = re.compile(r"\$\{?[A-Za-z_]")


class PromptError(LassiError):
    """A prompt cannot be built: a template is missing or malformed, or a value is unusable."""


@dataclass(frozen=True)
class PromptContext:
    """What every prompt of one app variant shows.

    `language` is "cuda", "hip" or "omp"; `device` names the target (e.g. "NVIDIA A100-SXM4-80GB"
    or "host CPU (OpenMP)"); `compiler_command` is the exact build command; `run_command` runs the
    default input only (held-out inputs never reach a prompt). `original` are the editable files as
    they were, `fixed_context` read-only files worth showing (e.g. kernels.h). `roofline_label` is
    "compute-bound", "bandwidth-bound" or "" when unknown (or guidance is off); when set, the plan
    prompt steers toward the matching optimisations. `roofline_label_source` says where it came
    from ("measured" or "predicted"; "" unknown) and `roofline_kernel` names the kernel it is of.
    """

    app: str
    summary: str
    language: str
    device: str
    compiler_command: str
    run_command: str
    original: tuple[SourceFile, ...]
    fixed_context: tuple[SourceFile, ...] = ()
    roofline_label: str = ""
    roofline_label_source: str = ""
    roofline_kernel: str = ""


@dataclass(frozen=True)
class MeasuredVersion:
    """The figures a prompt shows of one measured version: energy per run in joules, average power
    in watts, duration per run in seconds, and how they were obtained ("counter",
    "sampled-power" or "estimate")."""

    energy_j: float
    average_power_w: float
    duration_s: float
    method: str


# ------------------------------------------------------------------------------------------------
# Strict rendering


def template_text(template_name: str) -> str:
    """The text of `prompts/<template_name>.txt`; PromptError naming the known ones if absent."""
    folder = importlib.resources.files("lassi_hpc.llm") / "prompts"
    resource = folder / f"{template_name}.txt"
    if not resource.is_file():
        known = ", ".join(template_names())
        raise PromptError(f"no prompt template {template_name!r}; the templates are: {known}")
    return resource.read_text(encoding="utf-8")


def template_names() -> tuple[str, ...]:
    """Names of the bundled templates (file names without ".txt"), sorted."""
    folder = importlib.resources.files("lassi_hpc.llm") / "prompts"
    return tuple(
        sorted(p.name.removesuffix(".txt") for p in folder.iterdir() if p.name.endswith(".txt"))
    )


def template_placeholders(template_name: str) -> tuple[str, ...]:
    """The placeholder names a template uses, in order of first use."""
    return tuple(_checked_template(template_name).get_identifiers())


def render(template_name: str, **values: str) -> str:
    """Fill template `template_name` with `values` (strings only).

    PromptError (naming the template and the placeholder) for a placeholder without a value, a
    value no placeholder uses, a malformed `$`, or a `$name` left in the output (from `$$name`).
    A literal dollar sign is written `$$` and must not be followed by a letter.
    """
    template = _checked_template(template_name)
    wanted = template.get_identifiers()
    missing = [name for name in wanted if name not in values]
    if missing:
        raise PromptError(
            f"prompt template {template_name!r}: no value for placeholder "
            + ", ".join(f"${name}" for name in missing)
        )
    unknown = sorted(set(values) - set(wanted))
    if unknown:
        raise PromptError(
            f"prompt template {template_name!r} has no placeholder "
            + ", ".join(f"${name}" for name in unknown)
            + f"; its placeholders are: {', '.join('$' + n for n in wanted) or '(none)'}"
        )
    for name, value in values.items():
        if not isinstance(value, str):
            raise PromptError(
                f"prompt template {template_name!r}: value for ${name} must be text, "
                f"got {type(value).__name__}"
            )
    # Values may legitimately hold "$x" (shell lines, Makefiles): look for leftovers in the
    # template's own text only, with every value replaced by an empty string.
    skeleton = template.substitute({name: "" for name in wanted})
    leftover = _LEFTOVER_RE.search(skeleton)
    if leftover is not None:
        line = skeleton.count("\n", 0, leftover.start()) + 1
        raise PromptError(
            f"prompt template {template_name!r}: placeholder-like text "
            f"{skeleton[leftover.start() : leftover.start() + 20].split()[0]!r} left in the output "
            f"at line {line} (a literal dollar sign before a name is not allowed)"
        )
    return template.substitute(values)


def _checked_template(template_name: str) -> string.Template:
    template = string.Template(template_text(template_name))
    if not template.is_valid():
        bad = template.pattern.search(template.template)
        while bad is not None and bad.group("invalid") is None:
            bad = template.pattern.search(template.template, bad.end())
        where = ""
        if bad is not None:
            offset = bad.start("invalid")
            line = template.template.count("\n", 0, offset) + 1
            where = f" at line {line}: {template.template[offset : offset + 12].splitlines()[0]!r}"
        raise PromptError(
            f"prompt template {template_name!r}: malformed placeholder{where} "
            "(write $name or ${name}; a literal dollar sign is $$)"
        )
    return template


# ------------------------------------------------------------------------------------------------
# Pieces shared by the prompts


def fence_language(file_name: str) -> str:
    """The info-line language tag for a file: "cuda", "cpp", "c", "make", ... or "text"."""
    lowered = file_name.lower()
    base = lowered.rsplit("/", 1)[-1]
    if base.startswith("makefile") or lowered.endswith(".mk"):
        return "make"
    for suffix, language in _FENCE_LANGUAGES.items():
        if lowered.endswith(suffix):
            return language
    if lowered.endswith(_CPP_SUFFIXES):
        return "cpp"
    return "text"


def fenced(text: str, info: str) -> str:
    """`text` in a backtick fence with `info` on the opening line; the fence is longer than any
    backtick run inside `text`, so the block cannot end early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{fence}{info}\n{body}{fence}"


def file_block(source: SourceFile) -> str:
    """One file as the prompts show it and as answers must return it: "```cpp kernels.cpp"."""
    return fenced(source.text, f"{fence_language(source.name)} {source.name}")


def trim_log(text: str, max_chars: int) -> tuple[str, str]:
    """Keep the head and tail of `text` within about `max_chars` characters, cut at line ends.

    Returns (trimmed text, a note such as "last 2000 of 9000 characters shown; 7000 cut from the
    middle" or "complete"). `max_chars` must be positive.
    """
    if max_chars <= 0:
        raise PromptError(f"log length limit must be a positive number of characters: {max_chars}")
    if len(text) <= max_chars:
        return text, "complete" if text else "empty"
    head_budget = max_chars // 3
    tail_budget = max_chars - head_budget
    head = text[:head_budget]
    tail = text[len(text) - tail_budget :]
    # Whole lines read better; fall back to the raw cut when a line is longer than the budget.
    if "\n" in head:
        head = head[: head.rindex("\n") + 1]
    if "\n" in tail:
        tail = tail[tail.index("\n") + 1 :]
    cut = len(text) - len(head) - len(tail)
    marker = f"[... {cut} characters cut ...]\n"
    return (
        head + marker + tail,
        f"{len(head) + len(tail)} of {len(text)} characters shown; {cut} cut from the middle",
    )


def describe_measurement(measured: MeasuredVersion) -> str:
    """ "8.1 J per run, 120 W average power, 0.0675 s per run (measured with the energy counter)".

    An estimate says so in capitals. PromptError for an unknown method or a figure that is
    negative or not finite.
    """
    how = MEASUREMENT_METHODS.get(measured.method)
    if how is None:
        raise PromptError(
            f"measurement method {measured.method!r} is not one of: "
            + ", ".join(MEASUREMENT_METHODS)
        )
    for field in fields(measured):
        value = getattr(measured, field.name)
        if isinstance(value, float | int) and not (math.isfinite(value) and value >= 0):
            raise PromptError(f"measurement {field.name} = {value!r} cannot be shown in a prompt")
    return (
        f"{_figure(measured.energy_j)} J per run, {_figure(measured.average_power_w)} W average "
        f"power, {_figure(measured.duration_s)} s per run ({how})"
    )


def _figure(value: float) -> str:
    """Three significant digits without exponent notation for everyday magnitudes."""
    if value == 0:
        return "0"
    if 100 <= abs(value) < 1e7:
        return f"{value:.0f}"
    return f"{value:.3g}"


def unified_diff(
    original: Sequence[SourceFile], candidate: Sequence[SourceFile], context_lines: int = 3
) -> str:
    """A unified diff per changed file, original to candidate. A file the candidate does not
    return counts as unchanged; one only in the candidate is diffed against nothing."""
    before = {f.name: f.text for f in original}
    parts: list[str] = []
    for new in candidate:
        old_text = before.get(new.name, "")
        lines = difflib.unified_diff(
            _diff_lines(old_text),
            _diff_lines(new.text),
            fromfile=f"original/{new.name}",
            tofile=f"refactored/{new.name}",
            n=context_lines,
        )
        parts.append("".join(lines))
    return "".join(parts)


def _diff_lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def _check_context(ctx: PromptContext) -> None:
    if ctx.language not in LANGUAGE_NAMES:
        raise PromptError(
            f"app {ctx.app!r}: language {ctx.language!r} is not one of: "
            + ", ".join(LANGUAGE_NAMES)
        )
    if not ctx.original:
        raise PromptError(f"app {ctx.app!r}: a prompt needs at least one editable file")


def _system(ctx: PromptContext) -> ChatMessage:
    text = render("system", language_name=LANGUAGE_NAMES[ctx.language], device=ctx.device)
    return ChatMessage("system", text.strip())


def _user(text: str) -> ChatMessage:
    return ChatMessage("user", text.strip())


def _answer_format(ctx: PromptContext) -> str:
    first = ctx.original[0]
    example = fenced("...the whole file...\n", f"{fence_language(first.name)} {first.name}")
    names = ", ".join(f.name for f in ctx.original)
    return render("answer_format", example_block=example, editable_names=names).strip()


def _answer_start(ctx: PromptContext) -> tuple[ChatMessage, ...]:
    """The opening of the answer when one file is asked for: its fence line, as an assistant
    message left open. Completions endpoints continue it (a small base model then writes code
    rather than prose); the client drops it for chat endpoints, whose models follow the format."""
    if len(ctx.original) != 1:
        return ()
    name = ctx.original[0].name
    return (ChatMessage("assistant", f"```{fence_language(name)} {name}\n"),)


def _read_only(ctx: PromptContext) -> str:
    if not ctx.fixed_context:
        return ""
    blocks = "\n\n".join(file_block(f) for f in ctx.fixed_context)
    return render("read_only_files", blocks=blocks)


def _code_files(heading: str, files: Sequence[SourceFile]) -> str:
    blocks = "\n\n".join(file_block(f) for f in files)
    return render("code_files", heading=heading, blocks=blocks)


# ------------------------------------------------------------------------------------------------
# The prompts


def vanilla_prompt(ctx: PromptContext) -> tuple[ChatMessage, ...]:
    """Zero-shot: refactor the code for energy efficiency, answer with whole files."""
    _check_context(ctx)
    user = render(
        "vanilla",
        device=ctx.device,
        app=ctx.app,
        summary=ctx.summary,
        compiler_command=ctx.compiler_command,
        run_command=ctx.run_command,
        answer_format=_answer_format(ctx),
        read_only=_read_only(ctx),
        files=_code_files("Files you may change", ctx.original),
    )
    return (_system(ctx), _user(user), *_answer_start(ctx))


def summary_prompt(ctx: PromptContext) -> tuple[ChatMessage, ...]:
    """LASSI-EE step 1: a short plain-text summary of what the code does and where energy goes."""
    _check_context(ctx)
    user = render(
        "summary",
        device=ctx.device,
        app=ctx.app,
        summary=ctx.summary,
        run_command=ctx.run_command,
        read_only=_read_only(ctx),
        files=_code_files("The code", ctx.original),
    )
    return (_system(ctx), _user(user))


def device_summary(ctx: PromptContext, baseline: MeasuredVersion, device_specs: str) -> str:
    """Text (not an LLM call) about the device and the original's measured energy, for the plan."""
    _check_context(ctx)
    text = render(
        "device",
        device=ctx.device,
        device_specs=device_specs.strip(),
        run_command=ctx.run_command,
        baseline=describe_measurement(baseline),
    )
    return re.sub(r"\n{2,}", "\n", text).strip()


def plan_prompt(ctx: PromptContext, code_summary: str, device_text: str) -> tuple[ChatMessage, ...]:
    """LASSI-EE step 2: the inefficiencies and a ranked list of changes, no code."""
    _check_context(ctx)
    user = render(
        "plan",
        language_name=LANGUAGE_NAMES[ctx.language],
        code_summary=code_summary.strip(),
        device_text=device_text.strip(),
        roofline=roofline_guidance(ctx),
        read_only=_read_only(ctx),
        files=_code_files("The code", ctx.original),
    )
    return (_system(ctx), _user(user))


def roofline_guidance(ctx: PromptContext) -> str:
    """The plan prompt's roofline paragraph: the main kernel's class, where it came from, and the
    optimisations that match it; "" when `ctx.roofline_label` is "" (so the plan prompt is then
    exactly what it is without guidance). PromptError for an unknown label or source."""
    if not ctx.roofline_label:
        return ""
    template = ROOFLINE_GUIDANCE_TEMPLATES.get(ctx.roofline_label)
    if template is None:
        raise PromptError(
            f"app {ctx.app!r}: roofline label {ctx.roofline_label!r} is not one of: "
            + ", ".join(ROOFLINE_GUIDANCE_TEMPLATES)
        )
    source = ROOFLINE_LABEL_SOURCES.get(ctx.roofline_label_source)
    if source is None:
        raise PromptError(
            f"app {ctx.app!r}: roofline label source {ctx.roofline_label_source!r} is not one "
            "of: " + ", ".join(s for s in ROOFLINE_LABEL_SOURCES if s)
        )
    kernel = f" (kernel {ctx.roofline_kernel})" if ctx.roofline_kernel else ""
    label_line = render("roofline", roofline_label=ctx.roofline_label).strip()
    if kernel:
        label_line = label_line.removesuffix(".") + kernel + "."
    optimisations = render(template, label_source=source).strip()
    # Set off by blank lines: between the device text and the plan's instructions.
    return f"\n{label_line}\n{optimisations}\n"


def change_prompt(
    ctx: PromptContext,
    plan: str,
    current: tuple[SourceFile, ...],
    previous: MeasuredVersion,
    baseline: MeasuredVersion,
    iteration: int,
    history: Sequence[str],
) -> tuple[ChatMessage, ...]:
    """LASSI-EE step 3: implement the single most impactful planned change not yet in `current`.

    `previous` is how `current` measured, `baseline` how the original did; `history` holds one
    line per earlier iteration ("iteration 2: 8.1 J, failed to compile").
    """
    _check_context(ctx)
    if iteration < 1:
        raise PromptError(f"app {ctx.app!r}: iteration numbers start at 1, got {iteration}")
    lines = [line.strip() for line in history if line.strip()]
    user = render(
        "change",
        language_name=LANGUAGE_NAMES[ctx.language],
        device=ctx.device,
        compiler_command=ctx.compiler_command,
        run_command=ctx.run_command,
        plan=plan.strip(),
        baseline=describe_measurement(baseline),
        previous=describe_measurement(previous),
        history="\n".join(f"- {line}" for line in lines) if lines else "- none yet",
        iteration=str(iteration),
        answer_format=_answer_format(ctx),
        read_only=_read_only(ctx),
        files=_code_files("Current code", current or ctx.original),
    )
    return (_system(ctx), _user(user), *_answer_start(ctx))


def fix_prompt(
    ctx: PromptContext,
    files: tuple[SourceFile, ...],
    stage: str,
    command: str,
    log: str,
    log_chars: int,
) -> tuple[ChatMessage, ...]:
    """Self-correction: the failing `stage` ("build", "run" or "verify"), its exact command and
    its log trimmed to `log_chars` characters (head and tail kept); fix that error only."""
    _check_context(ctx)
    if stage not in FIX_STAGES:
        raise PromptError(f"fix stage {stage!r} is not one of: {', '.join(FIX_STAGES)}")
    trimmed, note = trim_log(log, log_chars)
    returned = {f.name for f in files}
    shown = tuple(files) + tuple(f for f in ctx.original if f.name not in returned)
    user = render(
        "fix",
        stage=stage,
        stage_problem=FIX_STAGES[stage],
        command=command,
        log_note=note,
        log_block=fenced(trimmed, "text"),
        answer_format=_answer_format(ctx),
        read_only=_read_only(ctx),
        files=_code_files("The code", shown),
    )
    return (_system(ctx), _user(user), *_answer_start(ctx))


def no_code_prompt(ctx: PromptContext, answer_excerpt: str, note: str) -> tuple[ChatMessage, ...]:
    """The previous answer had no usable code (`note` says why): ask again for whole files.

    A complete conversation on its own: it restates the task and shows the original files.
    """
    _check_context(ctx)
    user = render(
        "no_code",
        language_name=LANGUAGE_NAMES[ctx.language],
        device=ctx.device,
        compiler_command=ctx.compiler_command,
        note=note.strip().rstrip(".") or "no code block found",
        excerpt_block=fenced(answer_excerpt.strip() or "(empty)", "text"),
        answer_format=_answer_format(ctx),
        read_only=_read_only(ctx),
        files=_code_files("The code", ctx.original),
    )
    return (_system(ctx), _user(user), *_answer_start(ctx))


def judge_prompt(
    ctx: PromptContext,
    original: tuple[SourceFile, ...],
    candidate: tuple[SourceFile, ...],
    baseline_stdout: str,
    candidate_stdout: str,
    baseline: MeasuredVersion,
    candidate_m: MeasuredVersion,
) -> tuple[ChatMessage, ...]:
    """Ask the judge for one JSON verdict on a candidate the harness already accepted.

    Shows the unified diff, both stdouts (trimmed to `JUDGE_STDOUT_CHARS`) and both measurements.
    """
    _check_context(ctx)
    diff = unified_diff(original, candidate) or "(no changes)\n"
    baseline_out, baseline_note = trim_log(baseline_stdout, JUDGE_STDOUT_CHARS)
    candidate_out, candidate_note = trim_log(candidate_stdout, JUDGE_STDOUT_CHARS)
    system = render("judge_system")
    user = render(
        "judge",
        language_name=LANGUAGE_NAMES[ctx.language],
        device=ctx.device,
        app=ctx.app,
        summary=ctx.summary,
        run_command=ctx.run_command,
        diff_block=fenced(diff, "diff"),
        baseline_stdout_note=baseline_note,
        baseline_stdout_block=fenced(baseline_out, "text"),
        candidate_stdout_note=candidate_note,
        candidate_stdout_block=fenced(candidate_out, "text"),
        baseline=describe_measurement(baseline),
        candidate=describe_measurement(candidate_m),
    )
    return (ChatMessage("system", system.strip()), _user(user))


def judge_retry_prompt(
    previous: tuple[ChatMessage, ...], bad_answer: str, problem: str
) -> tuple[ChatMessage, ...]:
    """The judge conversation continued: its unreadable answer, then why, and the format again."""
    retry = render("judge_retry", problem=problem.strip().rstrip(".") or "no JSON object found")
    return (*previous, ChatMessage("assistant", bad_answer), _user(retry))
