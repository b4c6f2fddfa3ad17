"""The "Roofline classification" HTML section: per-kernel labels, and per model x scenario
accuracy, per-class recall and MCC with their bootstrap intervals, a confusion matrix each, and a
figure of the three scores. Also as a standalone self-contained page.

Scores stored with an evaluation are shown as stored (the bootstrap settings of the run that made
them); an evaluation stored without scores is scored here (2000 resamples, seed 0).
"""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Sequence
from pathlib import Path

from lassi_hpc.analysis.html_format import (
    header_row,
    percent_with_interval,
    significant,
    table_row,
    text,
)
from lassi_hpc.analysis.plots_canvas import figure_png, new_figure
from lassi_hpc.errors import LassiError
from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.evaluate import PREDICTED_COLUMNS, ClassificationScores, score_predictions
from lassi_hpc.roofline.records import BOUNDEDNESS
from lassi_hpc.roofline.variant_records import RooflineContents
from lassi_hpc.store.roofline_codec import (
    ROOFLINE_FILE_NAME,
    check_roofline_header,
    read_roofline,
)

SECTION_ID = "roofline"


def roofline_section_beside(results_path: str, roofline_path: str | None = None) -> str:
    """The section for `roofline_path` when given, else for the roofline file beside a
    campaign's results file ("" when there is none). A file that cannot be read gives a section
    saying why, never a failed report; a given file that does not exist is a RooflineError."""
    if roofline_path is not None:
        path = check_roofline_file(roofline_path)
    else:
        path = Path(results_path).parent / ROOFLINE_FILE_NAME
        if not path.is_file():
            return ""
    try:
        contents = read_roofline(path)
    except LassiError as error:
        return (
            f'<section id="{SECTION_ID}"><h2>Roofline classification</h2>'
            f'<p class="warning">Cannot read {text(path)}: {text(error)}</p></section>'
        )
    return roofline_section(contents)


def check_roofline_file(roofline_path: str | os.PathLike[str]) -> Path:
    """`roofline_path` as a Path; RooflineError naming it when it is not a file, StoreError when
    it is not a roofline file (the campaign's results file given by mistake, say)."""
    path = Path(roofline_path)
    if not path.is_file():
        raise RooflineError(f"roofline file {path} does not exist (or is not a file)")
    check_roofline_header(path)
    return path


def roofline_section(contents: RooflineContents) -> str:
    """The whole section as HTML (every string escaped)."""
    scores = evaluation_scores(contents)
    parts = [
        f'<section id="{SECTION_ID}"><h2>Roofline classification</h2>',
        f"<p>From <code>{text(contents.path)}</code>. A kernel is Bandwidth iff its SP, DP and "
        "INT arithmetic intensities are all below the GPU's balance points (docs/roofline.md)."
        "</p>",
        "<h3>Kernel labels</h3>",
        labels_table(contents),
        "<h3>LLM classification scores</h3>",
        scores_table(scores),
        *(confusion_table(score) for score in scores),
        scores_figure(scores),
        "</section>",
    ]
    return "".join(part for part in parts if part)


def roofline_page(contents: RooflineContents) -> str:
    """A standalone HTML5 page holding only the section: inline CSS, the figure as a data URL."""
    title = f"lassi_hpc roofline classification: {contents.campaign}"
    style = (
        "body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1400px;padding:0 1em}"
        "table{border-collapse:collapse;font-size:.85em;margin:.5em 0}"
        "th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;white-space:nowrap}"
        "th{background:#f3f4f6}td.num{text-align:right}.empty{color:#6b7280;font-style:italic}"
        "figure img{max-width:100%;height:auto}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{text(title)}</title><style>{style}</style></head><body>"
        f"<h1>{text(title)}</h1>{roofline_section(contents)}</body></html>\n"
    )


def evaluation_scores(contents: RooflineContents) -> list[ClassificationScores]:
    """Each evaluation's scores: as stored, else computed from its predictions."""
    return [
        evaluation.scores
        if evaluation.scores is not None
        else score_predictions(evaluation.predictions)
        for evaluation in contents.evaluations
        if evaluation.predictions
    ]


def labels_table(contents: RooflineContents) -> str:
    """One row per labelled kernel, then one per variant that has no label and why."""
    head = header_row(
        [
            ("app", ""),
            ("variant", ""),
            ("kernel", ""),
            ("label", ""),
            ("SP AI [op/B]", "num"),
            ("DP AI [op/B]", "num"),
            ("INT AI [op/B]", "num"),
            ("balance SP / DP / INT [op/B]", "num"),
            ("GPU", ""),
            ("note", ""),
        ]
    )
    rows = []
    for variant in contents.variants:
        for label in variant.labels:
            balance = label.balance
            rows.append(
                table_row(
                    [
                        (text(variant.app), ""),
                        (text(variant.variant), ""),
                        (text(label.kernel), ""),
                        (text(label.label), ""),
                        (significant(label.sp_ai_op_per_byte), "num"),
                        (significant(label.dp_ai_op_per_byte), "num"),
                        (significant(label.int_ai_op_per_byte), "num"),
                        (
                            " / ".join(
                                significant(v)
                                for v in (
                                    balance.sp_op_per_byte,
                                    balance.dp_op_per_byte,
                                    balance.int_op_per_byte,
                                )
                            ),
                            "num",
                        ),
                        (text(variant.gpu), ""),
                        (text(label.reason), ""),
                    ]
                )
            )
        if not variant.labels:
            note = f"{variant.status}: {variant.reason}"
            cells = [(text(variant.app), ""), (text(variant.variant), "")]
            cells += [("", "")] * 6 + [(text(variant.gpu), ""), (text(note), "")]
            rows.append(table_row(cells))
    if not rows:
        return '<p class="empty">No profiled variants in this file.</p>'
    return (
        '<div class="scroll"><table id="roofline-labels"><thead>'
        + head
        + "</thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )


def scores_table(scores: Sequence[ClassificationScores]) -> str:
    """Accuracy, recall per class and MCC with their intervals, per model and scenario."""
    if not scores:
        return (
            '<p class="empty">No LLM evaluation stored (lassi-hpc roofline evaluate --store).</p>'
        )
    head = header_row(
        [
            ("model", ""),
            ("scenario", ""),
            ("kernels", "num"),
            ("accuracy [95% CI]", "num"),
            ("recall Compute [95% CI]", "num"),
            ("recall Bandwidth [95% CI]", "num"),
            ("MCC [95% CI]", "num"),
            ("unparsed", "num"),
        ]
    )
    rows = [
        table_row(
            [
                (text(s.model), ""),
                (text(s.scenario), ""),
                (str(s.kernels), "num"),
                (percent_with_interval(s.accuracy, *s.accuracy_ci), "num"),
                (percent_with_interval(s.recall["Compute"], *s.recall_ci["Compute"]), "num"),
                (percent_with_interval(s.recall["Bandwidth"], *s.recall_ci["Bandwidth"]), "num"),
                (_mcc(s), "num"),
                (str(s.unparsed), "num"),
            ]
        )
        for s in scores
    ]
    return (
        '<table id="roofline-scores"><thead>'
        + head
        + "</thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def confusion_table(scores: ClassificationScores) -> str:
    """Rows: true class; columns: predicted class and unparsed."""
    caption = f"Confusion matrix: {scores.model}, {scores.scenario}"
    head = header_row([("true \\ predicted", "")] + [(text(c), "num") for c in PREDICTED_COLUMNS])
    rows = [
        table_row([(text(truth), "")] + [(str(count), "num") for count in counts])
        for truth, counts in zip(BOUNDEDNESS, scores.confusion, strict=True)
    ]
    return (
        f'<table class="roofline-confusion"><caption>{text(caption)}</caption><thead>'
        + head
        + "</thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def scores_figure(scores: Sequence[ClassificationScores]) -> str:
    """Accuracy, recall per class and MCC per model x scenario, with interval bars, as an
    embedded PNG figure; "" when there are no scores."""
    if not scores:
        return ""
    names = ("accuracy", "recall Compute", "recall Bandwidth", "MCC")
    figure = new_figure(8.0, 1.2 + 0.5 * len(scores) * len(names) / 2)
    axes = figure.add_subplot()
    height = 0.8 / len(names)
    for offset, name in enumerate(names):
        values, lows, highs = [], [], []
        for s in scores:
            value, (low, high) = _metric(s, name)
            values.append(value)
            known = math.isfinite(value) and math.isfinite(low) and math.isfinite(high)
            lows.append(max(0.0, value - low) if known else 0.0)
            highs.append(max(0.0, high - value) if known else 0.0)
        positions = [i + offset * height for i in range(len(scores))]
        axes.barh(positions, values, height=height, xerr=[lows, highs], label=name, capsize=2)
    axes.set_yticks([i + 0.4 - height / 2 for i in range(len(scores))])
    axes.set_yticklabels([f"{s.model}\n{s.scenario}" for s in scores])
    axes.set_xlim(-1.0, 1.0)
    axes.axvline(0.0, color="#555555", linewidth=0.8)
    axes.set_xlabel("score (accuracy and recall: fraction; MCC: -1 to 1)")
    axes.legend(loc="lower left", fontsize="small")
    encoded = base64.b64encode(figure_png(figure)).decode("ascii")
    return (
        '<figure id="figure-roofline-scores"><img id="img-roofline-scores" '
        f'src="data:image/png;base64,{encoded}" alt="Bar chart of accuracy, recall per class '
        'and MCC per model and scenario, with 95% bootstrap intervals">'
        "<figcaption><strong>Roofline classification scores.</strong> Bars: point estimates; "
        "whiskers: 95% percentile bootstrap intervals over kernels.</figcaption></figure>"
    )


def _metric(scores: ClassificationScores, name: str) -> tuple[float, tuple[float, float]]:
    if name == "accuracy":
        return scores.accuracy, scores.accuracy_ci
    if name == "MCC":
        return scores.mcc, scores.mcc_ci
    label = name.removeprefix("recall ")
    return scores.recall[label], scores.recall_ci[label]


def _mcc(scores: ClassificationScores) -> str:
    low, high = scores.mcc_ci
    shown = f"{scores.mcc:.3f}"
    if math.isfinite(low) and math.isfinite(high):
        shown += f" [{low:.3f}, {high:.3f}]"
    return shown
