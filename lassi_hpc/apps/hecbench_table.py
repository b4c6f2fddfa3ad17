"""The per-app oracle table of the 20 HeCBench apps of the LASSI-EE study, as data.

One `HecbenchAppFacts` per app says how the harness judges that app: the enlarged default
arguments of the study, held-out argument sets, the app's own verdict line (where it prints one),
masks for timing and nondeterministic lines, the tolerance, which files are verification code,
and why the check is weak where it is.

HeCBench is the user's own checkout and none of it is in this repository. Most facts here are our
expectation from the suite's conventions (`checked_against_suite=False`). The few marked True were
read in one public version of the app's cuda variant (zjin-lcf/HeCBench): the verdict strings, the
argument list and the verification file names; none was run. The baseline stage shows at once
when an expectation is wrong: an app whose verdict line does not match fails its baseline with
"no line matching self_check_pass". docs/hecbench.md renders this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from lassi_hpc.apps.manifest import OracleSpec

# HeCBench apps print timings as "... time ... (s)", "(us)", "(ms)" and bandwidths; all vary.
HECBENCH_MASKS: tuple[str, ...] = (
    *OracleSpec().mask,
    r"(?i)\b[GMT]B/s\b",
    r"(?i)bandwidth",
    r"(?i)throughput",
    r"(?i)\bG(FLOP|OP)S?\b",
)
# The verdict forms the suite uses: "PASS", "SUCCESS", "Found 0 errors ... (PASS)".
VERDICT_PASS = r"\b(PASS|PASSED|SUCCESS)\b"
VERDICT_FAIL = r"\b(FAIL|FAILED|FAILURE)\b"
# Verification code by name, in every app (the table may add more per app).
VERIFICATION_NAME_PATTERNS: tuple[str, ...] = ("reference*", "verify*", "check*")

NO_VERDICT = "prints no verdict: judged by the harness's output comparison alone"
NO_ARGS = "takes no arguments: sizes are compile-time constants, so no held-out input exists"


@dataclass(frozen=True)
class HecbenchAppFacts:
    """How the harness judges one HeCBench app; durations in s.

    `args` are the enlarged arguments of the LASSI-EE study; `heldout_args` are ours (smaller or
    differently shaped sizes the LLM never sees), not the study's. `nondeterministic_masks` drop
    lines whose values legitimately change from run to run (races, atomics, random seeds).
    `verification_files` are never editable, in addition to VERIFICATION_NAME_PATTERNS.
    """

    name: str
    args: tuple[str, ...]
    heldout_args: tuple[tuple[str, ...], ...] = ()
    self_check_pass: str = ""
    self_check_fail: str = VERDICT_FAIL
    nondeterministic_masks: tuple[str, ...] = ()
    rtol: float = 1e-5
    atol: float = 1e-8
    weak_check: str = ""
    expected_run_s: float = 10.0
    verification_files: tuple[str, ...] = ()
    checked_against_suite: bool = False
    note: str = ""

    @property
    def run_timeout_s(self) -> float:
        """Generous: ten times the expected run, at least two minutes."""
        return max(120.0, 10.0 * self.expected_run_s)


def _facts(name: str, args: str, heldout: tuple[str, ...], **fields: object) -> HecbenchAppFacts:
    return HecbenchAppFacts(
        name=name,
        args=tuple(args.split()),
        heldout_args=tuple(tuple(h.split()) for h in heldout),
        **fields,  # type: ignore[arg-type]
    )


# Held-out argument sets below are ours: chosen small enough to run in seconds and shaped so that
# a kernel specialised to the default sizes (multiples of a block, powers of two) breaks.
_TABLE: tuple[HecbenchAppFacts, ...] = (
    _facts(
        "keogh",
        "256 22500000 100",
        ("100 1000003 3", "37 250000 2"),
        self_check_pass=r"^PASS$",
        self_check_fail=r"^FAIL$",
        verification_files=("reference.h",),
        expected_run_s=10.0,
        checked_against_suite=True,
        note="stdout holds only the sizes: the app's own check (vs reference.h) carries the weight",
    ),
    _facts(
        "threadfence",
        "100 250000000",
        ("3 1000003", "5 65537"),
        self_check_pass=r"^PASS$",
        self_check_fail=r"^FAIL$",
        expected_run_s=5.0,
        checked_against_suite=True,
        note="the sum of -1.0s is exact in float32, so its check is an exact comparison",
    ),
    _facts(
        "murmurhash3",
        "750000 500",
        ("1001 3", "30011 2"),
        self_check_pass=VERDICT_PASS,
        expected_run_s=20.0,
    ),
    _facts(
        "floydwarshall",
        "2048 100 256",
        ("100 2 16", "257 3 32"),
        self_check_pass=VERDICT_PASS,
        expected_run_s=30.0,
    ),
    _facts(
        "stu-matrix-rotate",
        "30000 100",
        ("1001 2", "2049 3"),
        self_check_pass=VERDICT_PASS,
        expected_run_s=20.0,
    ),
    _facts(
        "jacobi",
        "",
        (),
        self_check_pass=r"^PASS$",
        self_check_fail=r"^FAIL$",
        # The error norm is summed with float atomics: its last digits depend on the order.
        rtol=1e-3,
        atol=1e-7,
        weak_check=f"its PASS only tests convergence, not the solution; {NO_ARGS}",
        expected_run_s=15.0,
        checked_against_suite=True,
    ),
    _facts(
        "segment-reduce",
        "16384 100",
        ("1000 3", "4097 2"),
        weak_check=NO_VERDICT,
        expected_run_s=20.0,
    ),
    _facts(
        "pathfinder",
        "100000 10000 2500",
        ("1000 100 20", "4099 257 37"),
        weak_check=NO_VERDICT,
        verification_files=("reference.h",),
        expected_run_s=20.0,
    ),
    _facts(
        "entropy",
        "8192 8192 500",
        ("1000 1000 3", "777 1029 2"),
        self_check_pass=VERDICT_PASS,
        rtol=1e-4,
        expected_run_s=20.0,
    ),
    _facts(
        "randomAccess",
        "10 1",
        ("2 1", "5 1"),
        self_check_pass=VERDICT_PASS,
        # HPCC RandomAccess tolerates racy updates: the error count differs between runs.
        nondeterministic_masks=(r"(?i)found \d+ errors",),
        expected_run_s=15.0,
    ),
    _facts(
        "extrema",
        "750",
        ("3", "17"),
        self_check_pass=VERDICT_PASS,
        expected_run_s=20.0,
    ),
    _facts(
        "marchingCubes",
        "100",
        ("2", "7"),
        self_check_pass=VERDICT_PASS,
        expected_run_s=15.0,
    ),
    _facts(
        "jaccard",
        "1024 512 1000",
        ("100 32 3", "333 61 2"),
        self_check_pass=VERDICT_PASS,
        rtol=1e-4,
        expected_run_s=20.0,
    ),
    _facts(
        "chacha20",
        "300000",
        ("1000", "4099"),
        self_check_pass=VERDICT_PASS,
        rtol=0.0,
        atol=0.0,
        expected_run_s=15.0,
        note="a cipher: any numeric output must match exactly",
    ),
    _facts(
        "all-pairs-distance",
        "10000",
        ("3", "17"),
        self_check_pass=VERDICT_PASS,
        expected_run_s=20.0,
    ),
    _facts(
        "layout",
        "2500",
        ("3", "31"),
        self_check_pass=VERDICT_PASS,
        expected_run_s=15.0,
    ),
    _facts(
        "dense-embedding",
        "100000 128 100",
        ("1000 16 3", "3001 64 2"),
        self_check_pass=VERDICT_PASS,
        rtol=1e-4,
        expected_run_s=20.0,
    ),
    _facts(
        "bsearch",
        "8388608 1000",
        ("1000003 3", "65537 5"),
        weak_check=(
            "prints only timings and no verdict: after masking nothing is left to compare, so "
            "the harness cannot judge it without an added output dump"
        ),
        expected_run_s=20.0,
        checked_against_suite=True,
    ),
    _facts(
        "colorwheel",
        "10000 256 500000",
        ("100 16 1000", "333 64 2001"),
        self_check_pass=VERDICT_PASS,
        expected_run_s=30.0,
    ),
    _facts(
        "lid-driven-cavity",
        "",
        (),
        weak_check=f"{NO_VERDICT}; {NO_ARGS}",
        rtol=1e-4,
        expected_run_s=30.0,
    ),
)

HECBENCH_APPS: dict[str, HecbenchAppFacts] = {facts.name: facts for facts in _TABLE}


def oracle_for(facts: HecbenchAppFacts) -> OracleSpec:
    """The OracleSpec the harness judges `facts.name` with (stdout comparison + own verdict)."""
    return OracleSpec(
        compare="stdout",
        rtol=facts.rtol,
        atol=facts.atol,
        mask=(*HECBENCH_MASKS, *facts.nondeterministic_masks),
        self_check_pass=facts.self_check_pass,
        self_check_fail=facts.self_check_fail,
        weak_check=facts.weak_check,
    )


def generic_oracle(app: str) -> OracleSpec:
    """For an app not in the table: output comparison, a FAIL line fails, flagged as weak."""
    return OracleSpec(
        compare="stdout",
        mask=HECBENCH_MASKS,
        self_check_fail=VERDICT_FAIL,
        weak_check=(
            f"{app} is not in lassi_hpc's HeCBench oracle table: judged by output comparison "
            "alone, with no held-out inputs"
        ),
    )


def markdown_table(table: dict[str, HecbenchAppFacts] | None = None) -> str:
    """The table as markdown, one row per app, for docs/hecbench.md."""
    rows = [
        "| app | default args | held-out args (ours) | own verdict | tolerance | "
        "verification files | weak check | run s | checked |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for facts in (table or HECBENCH_APPS).values():
        heldout = "; ".join(" ".join(args) for args in facts.heldout_args) or "none"
        verdict = f"`{facts.self_check_pass}`" if facts.self_check_pass else "none"
        cells = (
            facts.name,
            " ".join(facts.args) or "(none)",
            heldout,
            verdict.replace("|", "\\|"),
            f"rtol {facts.rtol:g}, atol {facts.atol:g}",
            ", ".join(facts.verification_files) or "-",
            facts.weak_check or "-",
            f"{facts.expected_run_s:g}",
            "read" if facts.checked_against_suite else "expected",
        )
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
