"""The few lines `lassi-hpc report` prints: the campaign figures at the highlighted k."""

from __future__ import annotations

from lassi_hpc.analysis.html_format import percent
from lassi_hpc.analysis.model import CurvePoint, Report


def headline_lines(report: Report) -> list[str]:
    """One line per strategy and partition with ER@k and pass@k (95% CI) at the highlighted k,
    preceded by a warning when any energy is an estimate."""
    lines = []
    if any(app.is_estimate for app in report.apps):
        lines.append("ESTIMATED energy (no meter): the reductions below are not measurements")
    points = {(p.strategy, p.partition, p.k): p for p in report.curves}
    groups = sorted({(p.strategy, p.partition) for p in report.curves})
    for group in groups:
        strategy, partition = group
        shown = [
            points[(strategy, partition, k)]
            for k in report.options.highlight_ks
            if (strategy, partition, k) in points
        ]
        if not shown:
            # Say so rather than print nothing: every --k asked exceeds the trials of every app.
            most = max(p.k for p in report.curves if (p.strategy, p.partition) == group)
            asked = ",".join(str(k) for k in report.options.highlight_ks)
            lines.append(
                f"{strategy} on {partition}: nothing at k = {asked}: "
                f"its apps have at most {most} trials"
            )
            continue
        figures = "  ".join(_figures(point) for point in shown)
        apps = shown[0].apps
        lines.append(f"{strategy} on {partition} ({apps} apps): {figures}")
    if not groups:
        lines.append("no refactoring trials to score")
    return lines


def _figures(point: CurvePoint) -> str:
    return (
        f"ER@{point.k} {percent(point.er_mean)} "
        f"[{percent(point.er_ci95_low)}, {percent(point.er_ci95_high)}] "
        f"pass@{point.k} {percent(point.pass_mean)}"
    )
