"""`lassi-hpc roofline profile|extract|label|dataset|evaluate`: roofline classification.

lassi-hpc roofline profile CAMPAIGN --site SITE [--tool ncu|rocprof|rocprofv3] [--gpu NAME]
    [--out FILE]
lassi-hpc roofline extract SOURCE... [-o KERNELS.jsonl]
lassi-hpc roofline label PROFILE... --tool ncu|rocprof|rocprofv3 --gpu NAME [--ceilings F]
    [-o LABELS] [--device NAME] [--wave-size 32|64]
lassi-hpc roofline dataset KERNELS.jsonl LABELS.jsonl --out DIR [--seed S] [--validation-fraction F]
lassi-hpc roofline evaluate DATASET.jsonl --base-url URL --model NAME [--scenario ...] [-o FILE]
    [--store ROOFLINE.h5] [--html PAGE.html]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lassi_hpc.cli_types import positive_int
from lassi_hpc.errors import LassiError
from lassi_hpc.llm.endpoint import LLMEndpoint
from lassi_hpc.roofline.classify import SCENARIOS, build_messages, classify_kernels
from lassi_hpc.roofline.dataset import (
    balance_classes,
    deduplicate,
    read_extracted_jsonl,
    read_labelled_jsonl,
    split_train_validation,
    write_chat_jsonl,
    write_csv,
    write_extracted_jsonl,
    write_jsonl,
)
from lassi_hpc.roofline.extract import extract_kernels_from_file
from lassi_hpc.roofline.gpu_models import profiled_on_another_gpu
from lassi_hpc.roofline.label import fastest_invocations, label_profile, profile_text
from lassi_hpc.roofline.label_join import join_labels
from lassi_hpc.roofline.labels_file import read_label_lines
from lassi_hpc.roofline.ncu import parse_ncu_csv
from lassi_hpc.roofline.profile_run import PROFILERS
from lassi_hpc.roofline.records import KernelProfile, LabelledKernel
from lassi_hpc.roofline.rocprof import WAVE_SIZES, parse_rocprof_passes
from lassi_hpc.roofline.rocprofv3 import read_counter_collections
from lassi_hpc.roofline.specs import GPU_SPECS, GpuSpec, balance_points, gpu_spec
from lassi_hpc.roofline.specs import load_measured_ceilings as load_ceilings
from lassi_hpc.roofline.variant_records import RooflineContents, RooflineEvaluation

if TYPE_CHECKING:
    from lassi_hpc.roofline.evaluate import ClassificationScores


def add_roofline_parser(commands: Any) -> None:
    """Add `roofline` and its sub-commands to the `lassi-hpc` subcommands `commands`."""
    roofline = commands.add_parser(
        "roofline",
        help="roofline classification: extract kernels, label profiles, build datasets, "
        "evaluate LLMs",
        description="Label GPU kernels compute- or bandwidth-bound from profiles, build a "
        "dataset of their sources and measure how well LLMs predict the label. See "
        "docs/roofline.md.",
    )
    steps = roofline.add_subparsers(dest="roofline_command", required=True, metavar="STEP")

    profile = steps.add_parser(
        "profile",
        help="build and profile a campaign's CUDA/HIP variants on their partitions; label kernels",
    )
    profile.add_argument("campaign", type=Path, metavar="CAMPAIGN")
    profile.add_argument("--site", type=Path, required=True, help="site config (TOML)")
    profile.add_argument(
        "--tool",
        choices=PROFILERS,
        help="only this profiler's variants, profiled with it (ncu: cuda; rocprof, rocprofv3: "
        "hip). Without it hip variants use rocprof where the partition's PATH has it, else "
        "rocprofv3",
    )
    profile.add_argument(
        "--gpu",
        metavar="NAME",
        help="label against this GPU (default: each partition's gpu_model); one of: "
        + ", ".join(GPU_SPECS),
    )
    profile.add_argument(
        "--ceilings", type=Path, help="measured peaks (TOML or JSON) overriding the datasheet"
    )
    profile.add_argument(
        "--out", type=Path, help="roofline HDF5 file (default: roofline.h5 beside the results)"
    )
    profile.set_defaults(handler=cmd_profile)

    extract = steps.add_parser(
        "extract", help="list CUDA __global__ kernels and OpenMP target regions as JSONL"
    )
    extract.add_argument("sources", nargs="+", type=Path, metavar="SOURCE")
    extract.add_argument(
        "--app",
        default="",
        help="the app these sources belong to; `dataset` then joins them only with labels of "
        "that app (`label --app`), so kernels of different apps may share a name",
    )
    extract.add_argument("-o", "--output", type=Path, help="JSONL file (default: stdout)")
    extract.set_defaults(handler=cmd_extract)

    label = steps.add_parser("label", help="label profiled kernels Compute or Bandwidth")
    label.add_argument(
        "profiles",
        nargs="+",
        type=Path,
        metavar="PROFILE",
        help="ncu CSV, or rocprof results CSV: one file, or one per pass of the same program "
        "(rocprofv3's counter_collection.csv of each pass), merged by dispatch number; for "
        "rocprofv3 also its output directory (every counter_collection.csv under it)",
    )
    label.add_argument("--tool", choices=PROFILERS, required=True)
    _add_gpu_arguments(label)
    label.add_argument(
        "--device", default="", help="the GPU's name for rocprof, whose CSV has only an index"
    )
    label.add_argument(
        "--wave-size",
        type=int,
        choices=WAVE_SIZES,
        default=64,
        help="rocprof: lanes per wavefront where the CSV does not say (rocprofv3 never does): "
        "64 on CDNA GPUs such as MI100 (default), 32 on RDNA",
    )
    label.add_argument(
        "--app", default="", help="the profiled app's name, written into each record for `dataset`"
    )
    label.add_argument("-o", "--output", type=Path, help="JSONL file (default: stdout)")
    label.set_defaults(handler=cmd_label)

    dataset = steps.add_parser(
        "dataset", help="join kernels with labels; dedup, balance, split; export JSONL/CSV"
    )
    dataset.add_argument("kernels", type=Path, metavar="KERNELS", help="from `extract`")
    dataset.add_argument(
        "labels", type=Path, metavar="LABELS", help="from `label` (kernel, label per line)"
    )
    dataset.add_argument("--out", type=Path, required=True, help="output directory")
    dataset.add_argument("--seed", type=int, default=0, help="balance and split seed (default 0)")
    dataset.add_argument(
        "--validation-fraction", type=float, default=0.2, help="share kept for validation"
    )
    dataset.add_argument(
        "--no-balance", action="store_true", help="keep every class size (no downsampling)"
    )
    _add_gpu_arguments(dataset)
    dataset.set_defaults(handler=cmd_dataset)

    evaluate = steps.add_parser("evaluate", help="ask an LLM for each kernel's class; score it")
    evaluate.add_argument("dataset", type=Path, metavar="DATASET", help="labelled JSONL")
    evaluate.add_argument("--base-url", required=True, help="OpenAI-compatible URL ending in /v1")
    evaluate.add_argument("--model", required=True)
    evaluate.add_argument("--api", choices=("chat", "completions"), default="chat")
    evaluate.add_argument("--api-key-env", default="", help="variable holding the API key")
    evaluate.add_argument(
        "--scenario", action="append", choices=SCENARIOS, help="repeatable (default: all three)"
    )
    evaluate.add_argument(
        "--examples", type=Path, help="labelled JSONL of few-shot examples (the training split)"
    )
    evaluate.add_argument("--max-tokens", type=positive_int, default=512)
    evaluate.add_argument("--bootstrap", type=positive_int, default=2000, metavar="N")
    evaluate.add_argument("--seed", type=int, default=0)
    _add_gpu_arguments(evaluate)
    evaluate.add_argument("-o", "--output", type=Path, help="predictions JSONL")
    evaluate.add_argument(
        "--store",
        type=Path,
        help="roofline HDF5 file to add predictions and scores to (e.g. the profile's)",
    )
    evaluate.add_argument(
        "--html", type=Path, help="write the scores (and --store's labels) as a standalone page"
    )
    evaluate.set_defaults(handler=cmd_evaluate)


def _add_gpu_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gpu", required=True, metavar="NAME", help="target GPU: " + ", ".join(GPU_SPECS)
    )
    parser.add_argument(
        "--ceilings", type=Path, help="measured peaks (TOML or JSON) overriding the datasheet"
    )


def _target_gpu(args: argparse.Namespace) -> GpuSpec:
    spec = gpu_spec(args.gpu)
    if args.ceilings is None:
        return spec
    measured = load_ceilings(args.ceilings)
    return replace(measured, name=spec.name) if measured.name.startswith("measured:") else measured


def cmd_profile(args: argparse.Namespace) -> int:
    from lassi_hpc.config import load_campaign, load_site
    from lassi_hpc.flow.roofline_profile import run_roofline_profile

    if args.ceilings is not None and args.gpu is None:
        raise LassiError("roofline profile: --ceilings needs --gpu (the GPU the peaks are of)")
    gpu = _target_gpu(args) if args.gpu is not None else None
    outcome = run_roofline_profile(
        load_campaign(args.campaign), load_site(args.site), args.out, args.tool, gpu
    )
    labelled = sum(len(record.labels) for record in outcome.records)
    ok = sum(record.status == "ok" for record in outcome.records)
    print(
        f"lassi-hpc roofline: {ok} of {len(outcome.records)} variants profiled, {labelled} "
        f"kernels labelled -> {outcome.path}",
        file=sys.stderr,
    )
    if outcome.errors:
        print("harness errors:\n  " + "\n  ".join(outcome.errors), file=sys.stderr)
        return 1
    print(outcome.path)
    # The file keeps every record, but a variant that could not be profiled (no profiler, no
    # counter access, a failed build) is a failed command for a script, not a result.
    return 0 if ok == len(outcome.records) else 1


def cmd_extract(args: argparse.Namespace) -> int:
    kernels = [
        replace(kernel, app=args.app)
        for path in args.sources
        for kernel in extract_kernels_from_file(path)
    ]
    if args.output is None:
        for kernel in kernels:
            print(json.dumps(asdict(kernel), ensure_ascii=False))
    else:
        write_extracted_jsonl(args.output, kernels)
        print(f"lassi-hpc roofline: {len(kernels)} kernels -> {args.output}", file=sys.stderr)
    return 0


def _read_profile(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise LassiError(f"roofline label: cannot read {path}: {error.strerror}") from None


def cmd_label(args: argparse.Namespace) -> int:
    spec = _target_gpu(args)
    texts = [
        text
        for path in args.profiles
        for text in (
            read_counter_collections(path)
            if args.tool == "rocprofv3" and path.is_dir()
            else [(_read_profile(path), str(path))]
        )
    ]
    if args.tool == "ncu":
        if len(texts) > 1:
            raise LassiError("roofline label: ncu writes one CSV for all its passes; give one file")
        profiles = parse_ncu_csv(*texts[0])
    else:
        profiles = parse_rocprof_passes(texts, args.device or spec.name, args.wave_size)
    balance = balance_points(spec)
    _warn_of_another_gpu(profiles, spec)
    lines = []
    for profile in fastest_invocations(profiles):
        label = label_profile(profile, balance, spec.source)
        record = {
            "kernel": profile.kernel,
            **({"app": args.app} if args.app else {}),
            "label": label.label,
            "profile_text": profile_text(profile, label),
            "launch_text": f"grid {profile.grid_size}, block {profile.block_size}",
            "gpu": spec.name,
            "profile": asdict(profile),
            "roofline": asdict(label),
        }
        lines.append(json.dumps(record, ensure_ascii=False))
        print(f"{profile.kernel}: {label.label} {label.reason}".rstrip(), file=sys.stderr)
    if args.output is None:
        print("\n".join(lines))
    else:
        args.output.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return 0


def _warn_of_another_gpu(profiles: list[KernelProfile], spec: GpuSpec) -> None:
    """Labels are against `spec`'s balance points; a profile taken on another kind of GPU is
    allowed (a what-if), but never silently."""
    for device in sorted(
        {p.device for p in profiles if profiled_on_another_gpu(p.device, spec.name)}
    ):
        print(
            f"roofline label: warning: profiled on {device!r}, labelled against the balance "
            f"points of {spec.name} (--gpu)",
            file=sys.stderr,
        )


def cmd_dataset(args: argparse.Namespace) -> int:
    spec = _target_gpu(args)
    kernels = read_extracted_jsonl(args.kernels)
    labelled = join_labels(kernels, read_label_lines(args.labels), args.labels)
    unique = deduplicate(labelled)
    kept = unique if args.no_balance else balance_classes(unique, args.seed)
    train, validation = split_train_validation(kept, args.validation_fraction, args.seed)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for split_name, split in (("train", train), ("validation", validation)):
        write_jsonl(out / f"{split_name}.jsonl", split)
        write_chat_jsonl(
            out / f"{split_name}-chat.jsonl",
            split,
            lambda kernel: build_messages(kernel, spec, "zero-shot"),
        )
    write_csv(out / "dataset.csv", kept)
    print(
        f"lassi-hpc roofline: {len(kernels)} kernels, {len(labelled)} labelled, {len(unique)} "
        f"unique, {len(kept)} kept; {len(train)} train, {len(validation)} validation -> {out}",
        file=sys.stderr,
    )
    return 0


def _check_evaluation_inputs(
    args: argparse.Namespace,
    kernels: list[LabelledKernel],
    examples: list[LabelledKernel],
    spec: GpuSpec,
    scenarios: tuple[str, ...] | list[str],
) -> None:
    """Refuse what would fail only after LLM answers were paid for: every prompt is built
    before the first request (few-shot needs an example of each kernel's language, and its
    scenario comes last by default), and an empty dataset would score nothing."""
    if not kernels:
        raise LassiError(f"roofline evaluate: {args.dataset} holds no kernels")
    if "few-shot" in scenarios and args.examples is None:
        raise LassiError(
            "roofline evaluate: scenario few-shot needs --examples FILE (the dataset's "
            "train.jsonl); or name the other scenarios: --scenario profile --scenario zero-shot"
        )
    for scenario in scenarios:
        for kernel in kernels:
            try:
                build_messages(kernel, spec, scenario, examples)
            except LassiError as error:
                raise LassiError(f"roofline evaluate: {error} in {args.examples}") from None


def cmd_evaluate(args: argparse.Namespace) -> int:
    # numpy and h5py are imported only by the steps that score and store.
    from lassi_hpc.roofline.evaluate import score_by_model_and_scenario
    from lassi_hpc.store.roofline_codec import RooflineStore

    spec = _target_gpu(args)
    kernels = read_labelled_jsonl(args.dataset)
    examples = read_labelled_jsonl(args.examples) if args.examples is not None else []
    scenarios = args.scenario or SCENARIOS
    _check_evaluation_inputs(args, kernels, examples, spec, scenarios)
    endpoint = LLMEndpoint(
        name="roofline",
        base_url=args.base_url,
        api=args.api,
        model=args.model,
        api_key_env=args.api_key_env,
    )
    predictions = []
    for scenario in scenarios:
        predictions += classify_kernels(
            endpoint,
            kernels,
            spec,
            scenario,
            examples=examples,
            seed=args.seed,
            max_tokens=args.max_tokens,
        )
    if args.output is not None:
        args.output.write_text(
            "".join(json.dumps(asdict(p), ensure_ascii=False) + "\n" for p in predictions),
            encoding="utf-8",
        )
    all_scores = score_by_model_and_scenario(predictions, args.bootstrap, args.seed)
    for scores in all_scores:
        print(scores_line(scores))
    evaluations = [
        RooflineEvaluation(
            model=scores.model,
            scenario=scores.scenario,
            gpu=spec.name,
            predictions=tuple(
                p for p in predictions if (p.model, p.scenario) == (scores.model, scores.scenario)
            ),
            scores=scores,
        )
        for scores in all_scores
    ]
    if args.store is not None:
        with RooflineStore.open(args.store, args.store.resolve().parent.name) as store:
            for evaluation in evaluations:
                store.write_evaluation(evaluation)
        print(f"lassi-hpc roofline: predictions and scores -> {args.store}", file=sys.stderr)
    if args.html is not None:
        _write_page(args.html, args.store, evaluations)
    return 0


def _write_page(html_path: Path, store: Path | None, evaluations: list[RooflineEvaluation]) -> None:
    from lassi_hpc.roofline.report_section import roofline_page
    from lassi_hpc.store.roofline_codec import read_roofline

    contents = (
        read_roofline(store)
        if store is not None
        else RooflineContents(str(html_path), "", "", (), tuple(evaluations))
    )
    html_path.write_text(roofline_page(contents), encoding="utf-8")
    print(f"lassi-hpc roofline: HTML -> {html_path}", file=sys.stderr)


def scores_line(scores: ClassificationScores) -> str:
    """One line of scores for the terminal."""
    low, high = scores.accuracy_ci
    (cc, cb, cu), (bc, bb, bu) = scores.confusion
    return (
        f"{scores.model} {scores.scenario}: accuracy {scores.accuracy:.3f} [{low:.3f}, "
        f"{high:.3f}], recall Compute {scores.recall['Compute']:.3f} Bandwidth "
        f"{scores.recall['Bandwidth']:.3f}, MCC {scores.mcc:.3f} [{scores.mcc_ci[0]:.3f}, "
        f"{scores.mcc_ci[1]:.3f}], unparsed {scores.unparsed}/{scores.kernels}; confusion "
        f"(true C: {cc} C, {cb} B, {cu} ?; true B: {bc} C, {bb} B, {bu} ?)"
    )
