"""Which label belongs to which extracted kernel: the join behind `roofline dataset`.

A profiler names a kernel by its function name only, and suites reuse names across apps
(HeCBench has many a `reduce` and a `kernel`). A label therefore names its app where
`roofline label --app` said it, and so does a kernel extracted with `roofline extract --app`;
the join then matches app and name. A label without an app still matches by name alone, but
only where the name is defined once per language among the extracted kernels: otherwise which
of them was profiled is unknown, and the join refuses rather than give every one that label.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lassi_hpc.roofline.labels_file import LabelRecord, LabelsFileError
from lassi_hpc.roofline.records import ExtractedKernel, LabelledKernel


class AmbiguousLabelError(LabelsFileError):
    """A label without an app names a kernel defined in more than one place."""


def label_index(lines: Sequence[LabelRecord]) -> dict[tuple[str, str], LabelRecord]:
    """(app, kernel) -> its line ("" app for a label that names none).

    A kernel listed twice with the same label keeps its first line; with different labels it is
    an error naming both lines (labels files of several apps concatenated without `--app`).
    """
    index: dict[tuple[str, str], LabelRecord] = {}
    for line in lines:
        key = (line.app, line.kernel)
        first = index.setdefault(key, line)
        if first.label != line.label:
            scope = f" of app {line.app!r}" if line.app else ""
            raise LabelsFileError(
                f"{line.where}: kernel {line.kernel!r}{scope} is labelled {line.label} here and "
                f"{first.label} at {first.where}; label each app's profile with "
                "`roofline label --app NAME`"
            )
    return index


def join_labels(
    kernels: Sequence[ExtractedKernel], lines: Sequence[LabelRecord], labels_path: Path
) -> list[LabelledKernel]:
    """The extracted kernels that have a label, in extraction order, with it.

    AmbiguousLabelError when a label without an app could belong to kernels of several files of
    the same language.
    """
    index = label_index(lines)
    places: dict[tuple[str, str], set[str]] = {}
    for kernel in kernels:
        places.setdefault((kernel.language, kernel.name), set()).add(
            f"{kernel.app}:{kernel.file}" if kernel.app else kernel.file
        )
    labelled: list[LabelledKernel] = []
    for kernel in kernels:
        line = index.get((kernel.app, kernel.name)) if kernel.app else None
        if line is None:
            line = index.get(("", kernel.name))
            if line is not None and len(places[(kernel.language, kernel.name)]) > 1:
                raise AmbiguousLabelError(_ambiguity(kernel, line, places, labels_path))
        if line is None:
            continue
        labelled.append(
            LabelledKernel(
                name=kernel.name,
                language=kernel.language,
                source=kernel.source,
                label=line.record["label"],
                profile_text=str(line.record.get("profile_text", "")),
                launch_text=str(line.record.get("launch_text", "")),
                file=kernel.file,
            )
        )
    return labelled


def _ambiguity(
    kernel: ExtractedKernel,
    line: LabelRecord,
    places: dict[tuple[str, str], set[str]],
    labels_path: Path,
) -> str:
    where = sorted(places[(kernel.language, kernel.name)])
    shown = ", ".join(where[:4]) + (f" and {len(where) - 4} more" if len(where) > 4 else "")
    return (
        f"{line.where}: kernel {kernel.name!r} is labelled without an app, but {len(where)} "
        f"{kernel.language} kernels have that name ({shown}), so which one was profiled is "
        f"unknown; give each app's name to both `roofline extract --app NAME` and `roofline "
        f'label --app NAME` (or label {labels_path.name}\'s line with an "app")'
    )
