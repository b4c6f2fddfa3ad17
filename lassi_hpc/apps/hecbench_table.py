"""The per-app oracle table of the 20 HeCBench apps of the LASSI-EE study, as data.

One `HecbenchAppFacts` per app says how the harness judges that app: the enlarged default
arguments of the study, held-out argument sets, the app's own verdict line (where it prints one),
masks for timing and nondeterministic lines, the tolerance, which files are verification code,
and why the check is weak where it is.

HeCBench is the user's own checkout and none of it is in this repository. Rows marked
`checked_against_suite=True` were read in one public version of the app's cuda variant
(zjin-lcf/HeCBench, as stored in 2025): the argument list and its constraints, the verdict lines
as printed, the verification code and where it lives, and what stdout holds; none was run. Rows
marked False are our expectation from the suite's conventions. Versions differ (some apps gained
a check or an argument check later), and `note` says where the study's arguments do not fit the
version read. The baseline stage shows at once when a fact is wrong for the user's checkout: an
app whose verdict line does not match fails its baseline with "no line matching
self_check_pass". docs/hecbench.md renders this table.
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
NO_VALUES = "stdout holds no computed value, only the verdict"
CHECK_IN_MAIN = (
    "its reference and check live in main.cu with the kernels (editable), and stdout holds no "
    "computed value: only its own verdict, from a file the LLM may edit, judges it"
)
FIXED_SIZES = (
    "its sizes are compile-time constants (the argument is only a repeat count), so held-out "
    "inputs rerun the same data"
)


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
    # Extra `make` arguments (NAME=value) that switch on the app's own check, e.g. VERIFY=yes.
    make_args: tuple[str, ...] = ()
    # The app prints nothing but timings: see OracleSpec.empty_output_ok.
    empty_output_ok: bool = False
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
        self_check_pass=r"^SUCCESS$",
        self_check_fail=r"^FAIL$",
        weak_check=(
            "the host reference and the kernel call the same __host__ __device__ hash function "
            f"in murmurhash3.cu, so an edit to it changes both sides; {NO_VALUES}"
        ),
        expected_run_s=20.0,
        checked_against_suite=True,
        note=(
            "argv: <number of keys> <repeat>; the code file is murmurhash3.cu (no main.cu); "
            "keys of rand() % 10000 bytes (srand(3)), about 3.7 GB at 750000 keys; exits 1 on FAIL"
        ),
    ),
    _facts(
        "floydwarshall",
        "2048 100 256",
        ("100 2 16", "257 3 32"),
        self_check_pass=r"^PASS$",
        self_check_fail=r"^FAIL$",
        weak_check=f"{CHECK_IN_MAIN}; only the distances are compared, not the path matrix",
        expected_run_s=30.0,
        checked_against_suite=True,
        note=(
            "argv: <number of nodes> <iterations> <block size>; nodes are rounded up to a "
            "multiple of the block size, and a block whose square exceeds 256 becomes 16; "
            "exits 0 even on FAIL"
        ),
    ),
    _facts(
        "matrix-rotate",
        "30000 100",
        # Repeats that are not multiples of 4: 100 quarter-turns leave the matrix unchanged.
        ("1001 2", "2049 3"),
        self_check_pass=r"^PASS$",
        self_check_fail=r"^FAIL$",
        weak_check=(
            f"{CHECK_IN_MAIN}; at the study's 100 quarter-turns the expected matrix equals the "
            "input, so a kernel that does nothing passes there (the held-out repeats 2 and 3 "
            "catch it)"
        ),
        expected_run_s=20.0,
        checked_against_suite=True,
        note=(
            "the suite's directory is src/matrix-rotate-*; the study calls it stu-matrix-rotate; "
            "argv: <matrix size> <repeat>; the serial reference rotates on the host repeat times; "
            "two n*n float arrays (7.2 GB at n = 30000)"
        ),
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
        note="only its Makefiles were read (run: 16384 100, source main.cu): main.cu is unread",
    ),
    _facts(
        "pathfinder",
        "100000 10000 2500",
        # Pyramid heights h with 2 * h < 250 (the block width), as the version read requires.
        ("1000 100 20", "4099 257 37"),
        # No pass pattern: older versions print no verdict; FAIL fails the run in either.
        self_check_fail=r"^FAIL$",
        weak_check=(
            "older versions print no verdict and only timings (nothing left to compare); the "
            "version read prints PASS/FAIL against reference.h, and that line is compared"
        ),
        verification_files=("reference.h",),
        expected_run_s=20.0,
        checked_against_suite=True,
        note=(
            "argv: <columns> <rows> <pyramid height>; the version read refuses a pyramid height "
            "h with 2 * h >= 250 (exit 1), so the study's 2500 needs an older checkout or other "
            "arguments; Makefile run: 100000 1000 5"
        ),
    ),
    _facts(
        "entropy",
        "8192 8192 500",
        ("1000 1000 3", "777 1029 2"),
        self_check_pass=r"^PASS$",
        self_check_fail=r"^FAIL$",
        rtol=1e-4,
        weak_check=(
            "only the second (optimised) kernel's result is checked, within 1e-3: the first "
            f"kernel's result is overwritten unchecked; {NO_VALUES}"
        ),
        verification_files=("reference.h",),
        expected_run_s=20.0,
        checked_against_suite=True,
        note="argv: <width> <height> <repeat>; exits 1 on FAIL",
    ),
    _facts(
        "randomAccess",
        "10 1",
        # One argument: the version read takes only <repeat> (see the note).
        ("2", "5"),
        self_check_pass=r"^Found \d+ errors in \d+ locations \(PASS\)\.$",
        self_check_fail=r"\(FAIL\)\.$",
        # No mask on the error count: the updates are atomic XORs (cuda and omp), which commute,
        # so the count is deterministic (0) and comparing it is exact.
        weak_check=(
            f"its PASS tolerates up to 1% wrong table entries (the harness compares the error "
            f"count exactly); {FIXED_SIZES}"
        ),
        expected_run_s=15.0,
        checked_against_suite=True,
        note=(
            "argv: <repeat> only in the version read (two arguments print the usage and exit 1), "
            "so the study's '10 1' needs an older checkout or args = ['10']; the table is 2^25 "
            "words; the omp variant prints the same lines"
        ),
    ),
    _facts(
        "extrema",
        "750",
        ("1", "3"),
        self_check_fail=r"^[12]D test: FAILED$",
        weak_check=(
            "prints nothing on success and '1D/2D test: FAILED' on a mismatch; after masking only "
            f"separator lines are left to compare; {FIXED_SIZES}"
        ),
        verification_files=("reference.h",),
        expected_run_s=20.0,
        checked_against_suite=True,
        note="argv: <repeat>; kernels in kernels.h, CPU reference in reference.h; exits 0 always",
    ),
    _facts(
        "marchingCubes",
        "100",
        ("2", "7"),
        self_check_pass=r"^PASS$",
        self_check_fail=r"^FAIL$",
        weak_check=(
            "its PASS compares four counts with constants hard-coded for N = 1024 in main.cu "
            "(editable), and the vertex coordinates it sums are never read back; N is a "
            "compile-time constant, so held-out inputs only change the repeat count"
        ),
        expected_run_s=15.0,
        checked_against_suite=True,
        note="argv: <repeat>; the block, vertex and triangle counts it prints are compared",
    ),
    _facts(
        "jaccard",
        "1024 512 1000",
        ("100 32 3", "333 61 2"),
        weak_check=(
            "prints no verdict (its PASS/FAIL exists only in a -DDEBUG build, on a fixed 4x4 "
            "matrix) and no computed value: after masking only the sizes line is left, so the "
            "comparison judges nothing computed"
        ),
        rtol=1e-4,
        expected_run_s=20.0,
        checked_against_suite=True,
        note=(
            "argv: <rows> <columns> <iterations>, unchecked (fewer arguments crash); the version "
            "read already runs a LASSI-derived kernel (jaccard_is_opt)"
        ),
    ),
    _facts(
        "chacha20",
        "300000",
        ("1000", "4099"),
        self_check_pass=r"^PASS$",
        self_check_fail=r"^FAIL$",
        rtol=0.0,
        atol=0.0,
        weak_check=(
            "checks one fixed 256-byte test vector whose key, nonce and expected keystream are "
            "constants in main.cu (editable); the argument is only a repeat count, so held-out "
            "inputs rerun the same data"
        ),
        expected_run_s=15.0,
        checked_against_suite=True,
        note="argv: <repeat>; the cipher is in chacha20.h; exits 1 on FAIL",
    ),
    _facts(
        "all-pairs-distance",
        "10000",
        ("3", "17"),
        self_check_pass=r"^PASS$",
        self_check_fail=r"^FAIL$",
        weak_check=f"{CHECK_IN_MAIN}; {FIXED_SIZES}",
        expected_run_s=20.0,
        checked_against_suite=True,
        note=(
            "argv: <iterations>; three kernels, one PASS/FAIL line each; the cuda variant "
            "includes cub; the exit status is that of the last comparison only"
        ),
    ),
    _facts(
        "layout",
        "2500",
        ("3", "31"),
        self_check_pass=r"^PASS$",
        self_check_fail=r"^FAIL$",
        weak_check=f"{CHECK_IN_MAIN}; {FIXED_SIZES}",
        expected_run_s=15.0,
        checked_against_suite=True,
        note="argv: <repeat> (at least 1); AoS then SoA kernel, a PASS line each; exits 1 on FAIL",
    ),
    _facts(
        "dense-embedding",
        "100000 128 100",
        # The app asserts rows > batch size squared.
        ("1000 16 3", "4099 61 2"),
        self_check_pass=r"^PASS$",
        self_check_fail=r"^FAIL$",
        rtol=1e-4,
        weak_check=CHECK_IN_MAIN,
        expected_run_s=20.0,
        checked_against_suite=True,
        note=(
            "argv: <rows> <batch size> <repeat>, rows > batch size squared (assert); a PASS line "
            "per embedding width (768, 2048, 12288) and block size (128..1024), 12 in all; exits "
            "0 even on FAIL; five host arrays of rows * 12288 floats (about 25 GB at the study's "
            "arguments)"
        ),
    ),
    _facts(
        "bsearch",
        "8388608 1000",
        ("1000003 3", "65537 5"),
        # Built with VERIFY=yes (its Makefile then adds -DDEBUG): verify() checks every result
        # and prints "incorrect result" on the first wrong one.
        make_args=("VERIFY=yes",),
        self_check_fail=r"incorrect result",
        empty_output_ok=True,
        weak_check=(
            "prints only timings: nothing is left to compare after masking, so it is judged by "
            "its own verify() (built with VERIFY=yes), which lives in the editable main.cu"
        ),
        expected_run_s=20.0,
        checked_against_suite=True,
        note=(
            "its verify() exists only in a -DDEBUG build (VERIFY=yes) and prints only on a "
            "wrong result ('incorrect result'); no result is ever printed"
        ),
    ),
    _facts(
        "colorwheel",
        "10000 256 500000",
        ("100 16 1000", "333 64 2001"),
        self_check_pass=r"^PASS$",
        # On a mismatch it prints the largest pixel error and exits 1, never the word FAIL.
        self_check_fail=r"^(FAIL|Maximum error between host and device results: \d+)$",
        weak_check=(
            "the host reference and the kernel call the same __host__ __device__ colour function "
            f"in main.cu, so an edit to it changes both sides; {NO_VALUES}"
        ),
        expected_run_s=30.0,
        checked_against_suite=True,
        note="argv: <range> (a float) <size> <repeat>",
    ),
    _facts(
        "lid-driven-cavity",
        "",
        (),
        weak_check=(
            f"{NO_VERDICT}; its per-step lines ('Time = ..., iter = ..., res = ...') fall under "
            "the time mask, so only the problem size is compared, and the velocity field goes to "
            f"velocity_gpu.dat, which the harness does not read; {NO_ARGS}"
        ),
        rtol=1e-4,
        expected_run_s=30.0,
        checked_against_suite=True,
        note="NUM = 512 and the end time are compile-time constants",
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
        empty_output_ok=facts.empty_output_ok,
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
