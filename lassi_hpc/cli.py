"""`lassi-hpc` command line: run | status | report | baseline | measure | check | env |
render-sbatch.

Errors that lassi_hpc raises on purpose (LassiError) print as one clear message and exit 2; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import shutil
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from lassi_hpc import __version__
from lassi_hpc.apps.load import MANIFEST_NAME, load_manifest
from lassi_hpc.cli_measure import add_measure_parser
from lassi_hpc.cli_roofline import add_roofline_parser
from lassi_hpc.cli_sbatch import add_render_sbatch_parser
from lassi_hpc.cli_signals import interrupt_on_sigterm
from lassi_hpc.cli_types import k_list, non_negative_float, positive_int
from lassi_hpc.config.campaign import CampaignConfig, load_campaign
from lassi_hpc.config.site import SiteConfig, load_site
from lassi_hpc.config.validate import read_toml
from lassi_hpc.errors import ConfigError, LassiError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SITE = REPO_ROOT / "site_configs" / "local.toml"


def config_kind(path: Path) -> str:
    """'campaign', 'site' or 'app', from the file's top-level tables."""
    data = read_toml(path)
    kinds = [kind for kind in ("campaign", "site", "app") if kind in data]
    if len(kinds) != 1:
        raise ConfigError(
            str(path),
            "",
            "cannot tell what kind of config this is: it needs exactly one of the top-level "
            "tables [campaign], [site] or [app]",
        )
    return kinds[0]


def _check_slurm_site(site: SiteConfig) -> int:
    """Print the dry run of every job the site's campaigns submit; return how many checks failed."""
    from lassi_hpc.flow.slurm_requests import slurm_job_requests
    from lassi_hpc.slurm.site_check import check_requests

    results = check_requests(slurm_job_requests(site))
    for result in results:
        print(f"  {result.line()}")
    return sum(not result.ok for result in results)


def _check_shared_paths(sites: list[SiteConfig], campaigns: list[CampaignConfig]) -> None:
    """Print whether the paths that a Slurm site's nodes share look shared (warnings only)."""
    from lassi_hpc.flow.run_dirs import parsl_run_dir
    from lassi_hpc.slurm.shared_fs import check_shared_paths

    for site in sites:
        paths: list[tuple[str, Path]] = []
        if site.slurm is not None and site.slurm.shared_dir:
            paths.append(("[slurm] shared_dir", Path(site.slurm.shared_dir)))
        for campaign in campaigns:
            name = campaign.name
            paths.append(
                (f"{name}: Parsl run directory", parsl_run_dir(site, campaign.results_file))
            )
            paths.append((f"{name}: results directory", campaign.results_file.parent))
            paths.append((f"{name}: app sources", campaign.suite_path))
        if paths:
            print(f"{site.source}: paths its compute nodes share")
        for check in check_shared_paths(paths):
            print(f"  {check.line()}")


def _check_campaign_plan(campaign: CampaignConfig, sites: list[SiteConfig]) -> None:
    """Resolve the campaign's apps and variants (and, against each site given, its partitions and
    LLM servers) as `run` does before any work, so that `check` finds what `run` would refuse."""
    from lassi_hpc.flow.baseline import load_app
    from lassi_hpc.flow.campaign import check_campaign_on_site

    if not sites:
        for app_name, variants in campaign.apps:
            load_app(campaign, app_name, variants)
        return
    for site in sites:
        roles, tasks = check_campaign_on_site(campaign, site)
        servers = ", ".join(f"{role} {name!r}" for role, name in roles.items())
        routes = ", ".join(f"{t.manifest.name}/{t.variant} -> {t.partition.name}" for t in tasks)
        print(f"{campaign.source}: runs on site {site.name!r}: LLM servers {servers}; {routes}")


def cmd_check(args: argparse.Namespace) -> int:
    failed = 0
    sites: list[SiteConfig] = []
    slurm_sites: list[SiteConfig] = []
    campaigns: list[CampaignConfig] = []
    # docs/usage.md: an app may be given as its directory as well as its app.toml
    files = [
        path / MANIFEST_NAME if path.is_dir() and (path / MANIFEST_NAME).is_file() else path
        for path in args.files
    ]
    for path in files:
        kind = config_kind(path)
        if kind == "campaign":
            campaign = load_campaign(path)
            campaigns.append(campaign)
            detail = f"{len(campaign.apps)} apps, results in {campaign.results_file}"
        elif kind == "site":
            site = load_site(path)
            sites.append(site)
            if site.scheduler == "slurm":
                slurm_sites.append(site)
            missing = [
                f"{name} needs {tc.compiler!r}"
                for name, tc in site.toolchains.items()
                if shutil.which(tc.compiler) is None
            ]
            detail = f"{len(site.partitions)} partitions"
            if missing and site.scheduler == "local":
                detail += "; compilers not on PATH here: " + "; ".join(missing)
            if site.scheduler == "slurm" and not args.offline:
                print(f"{path}: valid {kind} config ({detail}); asking Slurm about its jobs")
                failed += _check_slurm_site(site)
                continue
        else:
            manifest = load_manifest(path.parent if path.name == MANIFEST_NAME else path)
            detail = f"variants {', '.join(v for v, _ in manifest.variants)}"
        print(f"{path}: valid {kind} config ({detail})")
    for campaign in campaigns:
        _check_campaign_plan(campaign, sites)
    _check_shared_paths(slurm_sites, campaigns)
    return 1 if failed else 0


def cmd_env(args: argparse.Namespace) -> int:
    from lassi_hpc.energy import detect_backend
    from lassi_hpc.roofline.profile_run import PROFILERS
    from lassi_hpc.roofline.profiler_access import profiler_lines
    from lassi_hpc.sandbox import isolation_report

    print(f"lassi_hpc {__version__}, Python {sys.version.split()[0]}")
    print(f"sandbox: {isolation_report()}")
    backend, reasons = detect_backend("auto")
    try:
        how = backend.method.value
        label = " (an ESTIMATE, not a measurement)" if backend.name == "estimate" else ""
        print(f"energy: using {backend.name} ({how}){label}")
        for device in backend.devices():
            print(f"  device {device.kind} {device.name} [{device.uid}]")
            for key, value in device.details:
                print(f"    {key}: {value}")
    finally:
        backend.close()
    for reason in reasons:
        print(f"  not used: {reason}")
    for compiler in ("g++", "nvcc", "hipcc"):
        print(f"compiler {compiler}: {shutil.which(compiler) or 'not found'}")
    for launcher in ("mpiexec", "srun"):
        print(f"launcher {launcher}: {shutil.which(launcher) or 'not found'}")
    for line in profiler_lines(PROFILERS):
        print(line)
    return 0


def _add_redo_failed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redo-failed",
        action="store_true",
        help="profile again the baselines stored with a failed status (after fixing the cause)",
    )


def cmd_baseline(args: argparse.Namespace) -> int:
    from lassi_hpc.flow.baseline import run_baseline

    campaign = load_campaign(args.campaign)
    site = load_site(args.site)
    results = run_baseline(campaign, site, redo_failed=args.redo_failed)
    print(results)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from lassi_hpc.flow.campaign import run_campaign

    campaign = load_campaign(args.campaign)
    site = load_site(args.site)
    results = run_campaign(campaign, site, redo_failed_baselines=args.redo_failed)
    print(results)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from lassi_hpc.flow.status_view import describe_campaign

    print(describe_campaign(args.results))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from lassi_hpc.analysis.model import ReportOptions
    from lassi_hpc.analysis.report import run_report
    from lassi_hpc.analysis.terminal import headline_lines
    from lassi_hpc.flow.status_view import results_path

    results = results_path(args.results)
    options = ReportOptions(
        noise_sds=args.noise_sds,
        bootstrap_samples=args.bootstrap,
        seed=args.seed,
        highlight_ks=args.k,
        max_bar_apps=args.max_bar_apps,
        max_trace_apps=args.max_trace_apps,
    )
    out_dir = args.out if args.out is not None else results.parent / "report"
    files = run_report(
        results,
        out_dir,
        options,
        lambda message: print(f"report: {message}", file=sys.stderr),
        roofline_path=args.roofline,
    )
    for line in headline_lines(files.report):
        print(line)
    print(f"tables: {files.html.parent / 'tables'} ({len(files.tables)} CSV files)")
    print(files.html)
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="lassi-hpc",
        description="LLM-driven energy-saving refactoring of parallel codes, measured on devices.",
    )
    top.add_argument("--version", action="version", version=f"lassi_hpc {__version__}")
    top.add_argument("-v", "--verbose", action="store_true", help="log debug output to stderr")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run (or resume) a campaign: baselines, then k LLM refactoring trials per app",
    )
    run.add_argument("campaign", type=Path, metavar="CAMPAIGN")
    run.add_argument(
        "--site", type=Path, default=DEFAULT_SITE, help=f"site config (default: {DEFAULT_SITE})"
    )
    _add_redo_failed(run)
    run.set_defaults(handler=cmd_run)

    status = commands.add_parser("status", help="show where a running or finished campaign stands")
    status.add_argument(
        "results", type=Path, metavar="RESULTS", help="the campaign's .h5 file or its directory"
    )
    status.set_defaults(handler=cmd_status)

    report = commands.add_parser(
        "report",
        help="turn a campaign's results into tables, CSV files and an HTML report with plots",
    )
    report.add_argument(
        "results", type=Path, metavar="RESULTS", help="the campaign's .h5 file or its directory"
    )
    report.add_argument(
        "--out", type=Path, help="output directory (default: report/ beside the results file)"
    )
    report.add_argument(
        "--noise-sds",
        type=non_negative_float,
        default=1.0,
        help="a gain of at most this many baseline run-to-run SDs counts as 0 (0: off; default 1)",
    )
    report.add_argument(
        "--bootstrap",
        type=positive_int,
        default=2000,
        metavar="N",
        help="bootstrap resamples of apps for campaign confidence intervals (default 2000)",
    )
    report.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    report.add_argument(
        "--k",
        type=k_list,
        default=(1, 3, 5),
        metavar="K,K,...",
        help="the k values shown as table columns (default 1,3,5)",
    )
    report.add_argument(
        "--max-bar-apps", type=positive_int, default=40, help="apps in the per-app bar chart"
    )
    report.add_argument(
        "--max-trace-apps", type=positive_int, default=12, help="apps whose power traces are drawn"
    )
    report.add_argument(
        "--roofline",
        type=Path,
        metavar="FILE",
        help="roofline HDF5 file to show (default: roofline.h5 beside the results, if any)",
    )
    report.set_defaults(handler=cmd_report)

    check = commands.add_parser(
        "check",
        help="validate campaign, site or app configs; on a Slurm site, dry-run its jobs",
        description="Validate configs. For a site with scheduler = 'slurm', also compare every "
        "job a campaign would submit (worker blocks, LLM server jobs, the driver) with what sinfo "
        "says of its partition and hand it to `sbatch --test-only`: nothing is submitted. Exits "
        "1 when a Slurm check fails.",
    )
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check.add_argument(
        "--offline", action="store_true", help="validate only; do not ask Slurm (sinfo, sbatch)"
    )
    check.set_defaults(handler=cmd_check)

    env = commands.add_parser("env", help="show sandbox layers, energy meters and compilers found")
    env.set_defaults(handler=cmd_env)

    add_measure_parser(commands)
    add_render_sbatch_parser(commands)
    add_roofline_parser(commands)

    baseline = commands.add_parser(
        "baseline",
        help="build, run, verify and measure the original version of every app",
    )
    baseline.add_argument("campaign", type=Path, metavar="CAMPAIGN")
    baseline.add_argument(
        "--site", type=Path, default=DEFAULT_SITE, help=f"site config (default: {DEFAULT_SITE})"
    )
    _add_redo_failed(baseline)
    baseline.set_defaults(handler=cmd_baseline)
    return top


def configure_logging(verbose: bool) -> None:
    """Warnings (or everything with -v) on stderr.

    The level sits on the handler, not only on the root logger: Parsl sets its own loggers to DEBUG
    and they propagate, so a root-level threshold alone would let its chatter through. Parsl's
    full log still goes to parsl.log in the campaign's run directory.
    """
    handler = logging.StreamHandler()
    handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)


def _stdout_reader_gone() -> bool:
    """True when stdout is a pipe or socket whose reading end was closed (poll reports an error)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure_logging(verbose=args.verbose)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM)
    if in_main_thread:
        # sbatch's pre-walltime warning and scancel arrive as SIGTERM: stop as on Ctrl-C.
        interrupt_on_sigterm()
    try:
        code: int = args.handler(args)
    except LassiError as error:
        print(f"lassi-hpc: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "lassi-hpc: interrupted (Ctrl-C or SIGTERM); finished results are kept, run again "
            "to resume",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:
        if not _stdout_reader_gone():
            raise
        # `lassi-hpc ... | head`: the reader has what it wanted. Point stdout at /dev/null so
        # that the interpreter's own flush at exit does not fail a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    finally:
        if in_main_thread:  # main() may be called by a program that has its own handler
            signal.signal(signal.SIGTERM, previous)
    return code


if __name__ == "__main__":
    sys.exit(main())
