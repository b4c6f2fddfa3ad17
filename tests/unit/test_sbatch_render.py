"""Strict template rendering and #SBATCH line building: every mistake is an error naming where."""

from __future__ import annotations

import subprocess

import pytest

from lassi_hpc.config.site import SlurmJob
from lassi_hpc.errors import ConfigError
from lassi_hpc.slurm.directives import job_directives, sbatch_option, scheduler_option_lines
from lassi_hpc.slurm.render import Raw, TemplateError, render_template

AWKWARD_VALUES = [
    "two words",
    "it's",
    'say "hi"',
    "$HOME and ${PATH}",
    "$(touch /tmp/lassi-should-not-exist)",
    "`id`",
    "semi; colon && amp | pipe > file",
    "back\\slash",
    "new\nline",
    "",
]


def test_placeholders_take_their_values_and_double_dollar_is_a_dollar() -> None:
    text = "a=${alpha} b=${beta}\necho $$HOME $${x:-y} $$$$\n"
    rendered = render_template(text, {"alpha": "1", "beta": "two"}, "t.sbatch")
    assert rendered == "a=1 b=two\necho $HOME ${x:-y} $$\n"


@pytest.mark.parametrize("value", AWKWARD_VALUES)
def test_a_plain_value_reaches_the_shell_as_one_word_unchanged(value: str) -> None:
    script = render_template("printf '%s|' ${value}\n", {"value": value}, "t.sbatch")
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=True, timeout=10
    )
    assert result.stdout == f"{value}|"


def test_a_value_with_spaces_quotes_and_dollar_is_single_quoted() -> None:
    rendered = render_template("x=${v}", {"v": "it's $HOME"}, "t.sbatch")
    assert rendered == "x='it'\"'\"'s $HOME'"


def test_raw_values_go_in_verbatim_and_are_not_rendered_again() -> None:
    raw = Raw("#SBATCH --time=01:00:00\nmodule load x ${not_a_placeholder} $lone")
    rendered = render_template("#!/bin/bash\n${block}\n", {"block": raw}, "t.sbatch")
    assert rendered == f"#!/bin/bash\n{raw.text}\n"


def test_a_missing_placeholder_names_itself_the_file_and_the_line() -> None:
    with pytest.raises(TemplateError) as error:
        render_template("one\ntwo ${present}\nthree ${absent}\n", {"present": "x"}, "d.sbatch")
    assert "d.sbatch:3: placeholder ${absent} has no value" in str(error.value)


def test_every_missing_placeholder_is_named() -> None:
    with pytest.raises(TemplateError) as error:
        render_template("${a}\n${b}\n", {}, "d.sbatch")
    assert "d.sbatch:1: placeholder ${a}" in str(error.value)
    assert "d.sbatch:2: placeholder ${b}" in str(error.value)


def test_a_value_used_by_no_placeholder_is_an_error() -> None:
    with pytest.raises(TemplateError) as error:
        render_template("${used}", {"used": "1", "spare": "2", "other": Raw("3")}, "d.sbatch")
    assert "d.sbatch: values given but used by no placeholder: other, spare" in str(error.value)


@pytest.mark.parametrize("text", ["echo $HOME", "echo $(date)", "${bad name}", "${}", "end $"])
def test_a_dollar_that_is_neither_escaped_nor_a_placeholder_is_an_error(text: str) -> None:
    with pytest.raises(TemplateError) as error:
        render_template(f"first line\n{text}\n", {}, "d.sbatch")
    assert "d.sbatch:2: a '$' that is neither '$$'" in str(error.value)


def test_sbatch_option_writes_a_plain_value_unquoted() -> None:
    line = sbatch_option("partition", "gpu-a100", file="site.toml", key="slurm.driver.partition")
    assert line == "#SBATCH --partition=gpu-a100"


@pytest.mark.parametrize(
    "value", ["two words", "tab\there", "it's", 'dq"', "hash#", "$HOME", "back`tick`", "new\nline",
              "back\\slash", ""]
)  # fmt: skip
def test_sbatch_option_refuses_what_sbatch_would_misread(value: str) -> None:
    with pytest.raises(ConfigError) as error:
        sbatch_option("account", value, file="site.toml", key="slurm.driver.account")
    message = str(error.value)
    assert message.startswith("site.toml: slurm.driver.account: cannot be written on an #SBATCH")
    assert "--account" in message
    assert repr(value) in message


def test_job_directives_name_only_what_is_set() -> None:
    job = SlurmJob(partition="cpu", walltime="02:00:00", cores=2)
    assert job_directives(job, file="s.toml", key="slurm.driver") == [
        "#SBATCH --partition=cpu",
        "#SBATCH --time=02:00:00",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
        "#SBATCH --cpus-per-task=2",
    ]


def test_job_directives_with_every_key_set() -> None:
    job = SlurmJob(
        partition="gpu",
        account="acct",
        qos="high",
        walltime="1-00:00:00",
        constraint="a100&ib",
        gpus=4,
        gpu_type="a100",
        cores=16,
        memory="64G",
    )
    lines = job_directives(job, file="s.toml", key="llm_servers.v.slurm")
    assert lines == [
        "#SBATCH --partition=gpu",
        "#SBATCH --account=acct",
        "#SBATCH --qos=high",
        "#SBATCH --constraint=a100&ib",
        "#SBATCH --time=1-00:00:00",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
        "#SBATCH --cpus-per-task=16",
        "#SBATCH --mem=64G",
        "#SBATCH --gres=gpu:a100:4",
    ]


def test_gpus_without_a_type_ask_for_any_gpu() -> None:
    lines = job_directives(SlurmJob(partition="gpu", gpus=2), file="s.toml", key="k")
    assert lines[-1] == "#SBATCH --gres=gpu:2"


@pytest.mark.parametrize(
    ("job", "key"),
    [
        (SlurmJob(partition="my partition"), "slurm.driver.partition"),
        (SlurmJob(partition="p", qos="$QOS"), "slurm.driver.qos"),
        (SlurmJob(partition="p", constraint="a100|'h100'"), "slurm.driver.constraint"),
        (SlurmJob(partition="p", memory="64 G"), "slurm.driver.memory"),
        (SlurmJob(partition="p", gpus=1, gpu_type="a#100"), "slurm.driver.gpu_type"),
    ],
)
def test_a_refused_job_value_names_its_config_key(job: SlurmJob, key: str) -> None:
    with pytest.raises(ConfigError) as error:
        job_directives(job, file="site.toml", key="slurm.driver")
    assert error.value.key == key
    assert error.value.file == "site.toml"


def test_scheduler_options_are_verbatim_sbatch_lines() -> None:
    lines = ("#SBATCH --mail-type=END", '#SBATCH --comment="two words"')
    assert scheduler_option_lines(lines, file="s.toml", key="k") == list(lines)


@pytest.mark.parametrize("line", ["--mail-type=END", "echo hi", "#SBATCH --a=1\necho injected"])
def test_a_scheduler_option_that_is_not_one_sbatch_line_is_refused(line: str) -> None:
    with pytest.raises(ConfigError) as error:
        scheduler_option_lines(("#SBATCH --x=1", line), file="s.toml", key="slurm.driver.opts")
    assert error.value.key == "slurm.driver.opts[1]"
    assert "must be one line starting with '#SBATCH '" in str(error.value)
