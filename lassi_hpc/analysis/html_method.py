"""The report's "How these numbers were obtained" section: the definitions of ER@k, pass@k and
speedup@k, the noise floor, selection versus scoring, and the two kinds of interval, with this
report's settings filled in."""

from __future__ import annotations

from collections import Counter

from lassi_hpc.analysis.html_format import text
from lassi_hpc.analysis.model import Report


def method_section(report: Report) -> str:
    """The section as HTML (an <h2> and its paragraphs)."""
    options = report.options
    band = f"{100.0 * options.confidence:g}%"
    floor = (
        f"With noise_sds = {options.noise_sds:g}, a gain no larger than {options.noise_sds:g} "
        "times the baseline's run-to-run coefficient of variation (its standard deviation over "
        "its mean) counts as 0: such a gain cannot be told apart from measurement noise."
        if options.noise_sds > 0.0
        else "The noise floor is off (noise_sds = 0): every positive gain counts."
    )
    paragraphs = [
        (
            "ER@k (energy reduction at k)",
            "Each of an app line's n independent trials scores g = max(0, 1 − E/E<sub>baseline"
            "</sub>) if it passed every gate (build, run, output oracle, measurement, judge) and "
            "0 otherwise. ER@k is the expected best g among k trials drawn without replacement "
            "from the n, computed exactly with the unbiased estimator: sort g ascending, then "
            "ER@k = Σ<sub>i=k..n</sub> C(i−1, k−1) / C(n, k) · g<sub>(i)</sub>. It exists only "
            "for k ≤ n (shown as – otherwise). The campaign figure is the mean over app lines.",
        ),
        (
            "pass@k",
            "The same estimator over 0/1 scores (1 when the trial passed every gate), which equals "
            "1 − C(n−c, k) / C(n, k) for c passing trials: the chance that at least one of k "
            "trials yields a correct, measured candidate.",
        ),
        (
            "speedup@k",
            "The same estimator over max(1, T<sub>baseline</sub>/T) for passing trials and 1 for "
            "the others (a failed trial keeps the original code).",
        ),
        ("Noise floor", text(floor)),
        (
            "Selection versus scoring",
            "Choosing the best of several noisy measurements inflates the gain. The best step of "
            "a trial is selected on one measurement and, where the campaign re-measured it, "
            'scored on an independent one ("rescore"); otherwise the selection measurement is '
            f'also the score ("selection"), which is optimistic. {text(_scored_on_counts(report))}',
        ),
        (
            "Campaign intervals (bootstrap over apps)",
            text(
                f"The {band} intervals of the campaign curves are percentile intervals of "
                f"{options.bootstrap_samples} bootstrap resamples of the app lines (seed "
                f"{options.seed}). Apps are resampled,"
                " never candidates inside an app: that would duplicate trials and bias best-of-k "
                "downward."
            ),
        ),
        (
            "Per-app intervals (jackknife)",
            f"The {band} interval of an app line's ER@k is a leave-one-trial-out jackknife over "
            "its trials: the estimate ± Student's t (n − 1 degrees of freedom) × the jackknife "
            "standard error. It is undefined (–) at k = n.",
        ),
        (
            "Energy methods",
            "counter: a hardware energy counter difference; sampled-power: integrated power "
            "samples; estimate: a model (e.g. CPU time × nominal power), never a measurement, "
            "and labelled ESTIMATE wherever it is shown.",
        ),
    ]
    body = "".join(f"<dt>{title}</dt><dd>{content}</dd>" for title, content in paragraphs)
    return f'<section id="method"><h2>How these numbers were obtained</h2><dl>{body}</dl></section>'


def _scored_on_counts(report: Report) -> str:
    counts = Counter(app.scored_on for app in report.apps if app.scored_on)
    if not counts:
        return "No app line in this report has a passing trial."
    parts = ", ".join(f"{count} {how}" for how, count in sorted(counts.items()))
    return f"App lines with a passing trial, by how they were scored: {parts}."
