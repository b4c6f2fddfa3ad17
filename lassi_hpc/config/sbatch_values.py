"""What a Slurm site's values must be to reach sbatch as written, checked when the site loads.

sbatch does not parse #SBATCH lines as shell: a quote, `#`, `$` or space in a value is taken
literally, cuts the value short or ends the option list, depending on the Slurm version. And the
first line that is not an #SBATCH directive ends the list: Parsl writes a partition's own
requests (partition, account, GPUs, --exclusive) after its `scheduler_options`, so one such line
there would make sbatch drop them silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from lassi_hpc.errors import ConfigError

_UNSAFE = re.compile(r"[\s'\"#$`\\]")


def sbatch_value_problem(value: str, option: str) -> str | None:
    """Why `value` cannot follow `--option=` on an #SBATCH line; None when it can."""
    if not value or _UNSAFE.search(value):
        return (
            f"cannot be written on an #SBATCH line (--{option}): it must be non-empty, without "
            "whitespace, quotes, '#', '$', backquotes or backslashes"
        )
    return None


def scheduler_line_problem(line: str) -> str | None:
    """Why `line` cannot be an extra `#SBATCH ...` line; None when it can."""
    if not line.startswith("#SBATCH ") or "\n" in line or "\r" in line:
        return "must be one line starting with '#SBATCH ', e.g. '#SBATCH --reservation=gpu-week'"
    return None


def check_sbatch_values(
    file: str, key: str, values: Mapping[str, tuple[str, str]], scheduler_options: tuple[str, ...]
) -> None:
    """ConfigError naming `key`.<field> for the first value that sbatch would misread.

    `values` maps a field name to (its value, the sbatch option it becomes); empty values are
    not written and pass. `gpu_type` must be the GRES type alone: the request adds "gpu:" and
    the count.
    """
    for field, (value, option) in values.items():
        if not value:
            continue
        problem = sbatch_value_problem(value, option)
        if problem is None and field == "gpu_type" and ":" in value:
            problem = "must be the GRES type alone, e.g. 'a100' for gpu:a100:<n> (sinfo -o %G)"
        if problem is not None:
            raise ConfigError(file, f"{key}.{field}", problem, value=value, show_value=True)
    for index, line in enumerate(scheduler_options):
        if (problem := scheduler_line_problem(line)) is not None:
            raise ConfigError(
                file, f"{key}.scheduler_options[{index}]", problem, value=line, show_value=True
            )
