"""`#SBATCH` lines, built in Python from config values and checked so that sbatch reads them as
written (the rules are in config/sbatch_values.py). Values sbatch would misread are refused with
an error naming the config key instead of being quoted.
"""

from __future__ import annotations

from lassi_hpc.config.sbatch_values import sbatch_value_problem, scheduler_line_problem
from lassi_hpc.config.site import SlurmJob
from lassi_hpc.errors import ConfigError

SIGNAL_TIME_MAX_S = 65535
"""The largest lead time Slurm's --signal=...@TIME accepts, in seconds."""


def sbatch_option(option: str, value: str, *, file: str, key: str) -> str:
    """`#SBATCH --option=value`; ConfigError naming `file` and `key` when the value is empty or
    holds whitespace, a quote, `#`, `$`, a backquote or a backslash."""
    if (problem := sbatch_value_problem(value, option)) is not None:
        raise ConfigError(file, key, problem, value=value, show_value=True)
    return f"#SBATCH --{option}={value}"


def gpu_gres(gpus: int, gpu_type: str) -> str:
    """The GRES request for `gpus` GPUs of one node: gpu:<type>:<n>, or gpu:<n> for any type;
    "" for none."""
    if gpus < 1:
        return ""
    return f"gpu:{gpu_type}:{gpus}" if gpu_type else f"gpu:{gpus}"


def job_directives(job: SlurmJob, *, file: str, key: str) -> list[str]:
    """The #SBATCH lines of a one-node, one-task job `job` found at `key` (e.g. "slurm.driver"):
    partition, account, qos, constraint (when set), time, cores, memory (when set), GPUs (when
    asked). Job name, output and scheduler_options are the caller's."""

    def option(name: str, value: str, field: str) -> str:
        return sbatch_option(name, value, file=file, key=f"{key}.{field}")

    lines = [option("partition", job.partition, "partition")]
    for name in ("account", "qos", "constraint"):
        value = getattr(job, name)
        if value:
            lines.append(option(name, value, name))
    lines += [
        option("time", job.walltime, "walltime"),
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
        f"#SBATCH --cpus-per-task={job.cores}",
    ]
    if job.memory:
        lines.append(option("mem", job.memory, "memory"))
    if job.gpus > 0:
        lines.append(option("gres", gpu_gres(job.gpus, job.gpu_type), "gpu_type"))
    return lines


def scheduler_option_lines(options: tuple[str, ...], *, file: str, key: str) -> list[str]:
    """The site's extra `#SBATCH ...` lines, verbatim; each must be one line starting with
    `#SBATCH`, since anything else would end sbatch's reading of the directives."""
    for index, line in enumerate(options):
        if (problem := scheduler_line_problem(line)) is not None:
            raise ConfigError(file, f"{key}[{index}]", problem, value=line, show_value=True)
    return list(options)
