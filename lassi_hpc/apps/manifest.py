"""The application model: what an app is made of, how to build and run it, how to judge its output.

One `AppManifest` describes an app with one or more variants (cuda, hip, omp). The bundled examples
declare theirs in `app.toml`; the HeCBench adapter builds the same records from a suite checkout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lassi_hpc.errors import AppError

Language = Literal["cuda", "hip", "omp"]
CompareMode = Literal["stdout", "files", "both"]


@dataclass(frozen=True)
class AppInput:
    """A named argument set. Hidden inputs are never shown to an LLM: they catch special-casing."""

    name: str
    args: tuple[str, ...]
    hidden: bool = False


@dataclass(frozen=True)
class OracleSpec:
    """How the harness judges a run's output against the original's on the same input.

    Numbers are compared with |a - b| <= atol + rtol * |b|; text around numbers must match exactly.
    Lines matching any `mask` regex (timings) are dropped first. The app's own verdict line counts
    only in addition: a `self_check_fail` match fails the run, a missing `self_check_pass` (when
    set) too.
    """

    compare: CompareMode = "stdout"
    output_files: tuple[str, ...] = ()
    rtol: float = 1e-5
    atol: float = 1e-8
    mask: tuple[str, ...] = (r"(?i)\btime\b", r"(?i)elapsed", r"(?i)\bms\b", r"(?i)seconds")
    self_check_pass: str = ""
    self_check_fail: str = ""
    max_output_file_bytes: int = 16 * 2**20
    # (file name, "float32" | "float64"): output files that are raw little-endian arrays, compared
    # element by element with the tolerance instead of byte for byte. Names must be in output_files.
    binary_dtypes: tuple[tuple[str, str], ...] = ()
    # For apps that print nothing but timings: stdout empty after masking is then a match (the
    # candidate's must be empty too), and only the exit status and the app's own check judge the
    # run. Always a weak check: say why in `weak_check`.
    empty_output_ok: bool = False
    # Why this oracle is weaker than it looks ("" = not known to be weak), e.g. a verdict that only
    # tests convergence or an app that prints no verdict. Shown in reports; judges nothing itself.
    weak_check: str = ""


@dataclass(frozen=True)
class VariantSpec:
    """One language variant of an app: a directory of sources built with `make`.

    `outside_sources` are files of the app root outside the variant directory that the build
    reads (a HeCBench omp Makefile's `-I../<app>-cuda` headers), relative to the root, without
    '..'. They are never editable. With any, the build copies the root's files into scratch and
    runs in `<copy>/<dir>` (stages/build.py). `run_files`, likewise outside the variant directory
    and relative to the root, are files its runs read (a HeCBench input argument such as
    `../<app>-cuda/data.bin`); each run's scratch copy holds them at the same place, so the
    argument resolves there (stages/run.py).
    """

    language: Language
    dir: str  # relative to the app directory
    sources: tuple[str, ...]  # every file copied into the scratch build directory
    editable: tuple[str, ...]  # the subset an LLM may change; the rest is hashed and checked
    outside_sources: tuple[str, ...] = ()  # relative to the app root, e.g. "keogh-cuda/reference.h"
    run_files: tuple[str, ...] = ()  # relative to the app root, e.g. "data/stencil/in.bin"


@dataclass(frozen=True)
class BuildSpec:
    """`command` runs in the scratch copy with the toolchain's make variables appended."""

    command: tuple[str, ...] = ("make",)
    binary: str = "main"
    timeout_s: float = 300.0


@dataclass(frozen=True)
class MpiSpec:
    """An app that runs under MPI: `<launcher> <rank and node flags> ./<binary> <args>`.

    `launcher` is the launch program and its fixed options; its program name says how the counts
    are passed (lassi_hpc.apps.mpi_launch): mpiexec / mpirun `-n R` (and `-ppn` for several
    nodes), srun `--ntasks=R --nodes=N`. A site partition may name another launcher.
    """

    ranks: int
    nodes: int = 1
    launcher: tuple[str, ...] = ("mpiexec",)


@dataclass(frozen=True)
class RunSpec:
    """The binary is run as `./<binary> <args>`, or under an MPI launcher when `mpi` is set."""

    timeout_s: float = 120.0
    mpi: MpiSpec | None = None


@dataclass(frozen=True)
class AppManifest:
    name: str
    root: str  # absolute path of the app directory
    summary: str
    pattern: str  # e.g. "stencil", "reduction", "streaming", "n-body"
    build: BuildSpec
    run: RunSpec
    inputs: tuple[AppInput, ...]  # the first one named "default" is what prompts show
    oracle: OracleSpec
    variants: tuple[tuple[str, VariantSpec], ...]  # (variant name, spec), e.g. ("omp", ...)

    def variant(self, name: str) -> VariantSpec:
        for key, spec in self.variants:
            if key == name:
                return spec
        choices = ", ".join(key for key, _ in self.variants)
        raise AppError(f"app {self.name!r} has no variant {name!r}; it has: {choices}")

    @property
    def default_input(self) -> AppInput:
        return self.inputs[0]

    @property
    def hidden_inputs(self) -> tuple[AppInput, ...]:
        return tuple(i for i in self.inputs if i.hidden)
