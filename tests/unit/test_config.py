"""Campaign and site configs: valid files load; every kind of mistake names file, key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from lassi_hpc.apps.load import load_manifest
from lassi_hpc.config import load_campaign, load_site
from lassi_hpc.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

CAMPAIGN = """
[campaign]
name = "t"
variants = ["omp"]
results_dir = "out"

[[apps]]
name = "stencil2d"

[[apps]]
name = "nbody"
variants = ["omp", "cuda"]

[measure]
repetitions = 5
"""


def write(tmp_path: Path, text: str, name: str = "c.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_bundled_configs_load() -> None:
    campaign = load_campaign(REPO / "examples" / "campaigns" / "demo.toml")
    site = load_site(REPO / "site_configs" / "local.toml")
    assert campaign.name == "demo"
    assert [name for name, _ in campaign.apps] == [
        "stencil2d",
        "histogram",
        "stream-triad",
        "nbody",
    ]
    assert campaign.results_dir == (REPO / "results").resolve()
    assert site.partition_for("omp") is not None
    assert site.partition_for("omp").name == "cpu"  # type: ignore[union-attr]


def test_campaign_values_and_defaults(tmp_path: Path) -> None:
    campaign = load_campaign(write(tmp_path, CAMPAIGN))
    assert campaign.apps == (("stencil2d", ("omp",)), ("nbody", ("omp", "cuda")))
    assert campaign.measure.repetitions == 5
    assert campaign.measure.idle_s == 0.5  # default kept
    assert campaign.results_dir == (tmp_path / "out").resolve()
    assert campaign.results_file.name == "t.h5"
    with pytest.raises(AttributeError):
        campaign.name = "x"  # type: ignore[misc]  # frozen


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        # a typo: the key, the nearest valid key and the allowed keys are named
        (
            ("repetitions = 5", "repetitons = 5"),
            ["measure.repetitons", "unknown key", "did you mean 'repetitions'", "must be one of"],
        ),
        # wrong type
        (("repetitions = 5", 'repetitions = "5"'), ["measure.repetitions", "integer", "'5'"]),
        # bool is not an int in TOML
        (("repetitions = 5", "repetitions = true"), ["measure.repetitions", "integer"]),
        # bad value
        (("repetitions = 5", "repetitions = 0"), ["measure.repetitions", "must be > 0", "0"]),
        # bad choice
        (('name = "t"', 'name = "t"\nsuite = "spec"'), ["campaign.suite", "examples, hecbench"]),
        # wrong element type inside an array
        (('variants = ["omp"]', "variants = [1]"), ["campaign.variants[0]", "string"]),
        # missing required key
        (('name = "t"', ""), ["campaign.name", "required key is missing"]),
        # duplicate app
        (('name = "nbody"', 'name = "stencil2d"'), ["apps[1].name", "listed twice"]),
    ],
)
def test_campaign_errors(tmp_path: Path, edit: tuple[str, str], fragments: list[str]) -> None:
    path = write(tmp_path, CAMPAIGN.replace(*edit, 1))
    with pytest.raises(ConfigError) as caught:
        load_campaign(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message, message


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[campaign\nname = 1")
    with pytest.raises(ConfigError, match=r"c\.toml.*not valid TOML.*line 1"):
        load_campaign(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_campaign(tmp_path / "nope.toml")


def test_a_config_of_another_kind_is_named_as_such(tmp_path: Path) -> None:
    # Swapped arguments (`run SITE --site CAMPAIGN`) or an app.toml given as a campaign.
    site, campaign = (
        REPO / "site_configs" / "local.toml",
        REPO / "examples" / "campaigns" / "demo.toml",
    )
    with pytest.raises(ConfigError, match=r"this is a site config \(\[site\]\), not a campaign"):
        load_campaign(site)
    with pytest.raises(ConfigError, match=r"this is a campaign config .*, not a site config"):
        load_site(campaign)
    app = REPO / "examples" / "apps" / "stencil2d" / "app.toml"
    with pytest.raises(ConfigError, match=r"this is an app manifest \(\[app\]\), not a campaign"):
        load_campaign(app)
    write(tmp_path, campaign.read_text(), "app.toml")
    with pytest.raises(ConfigError, match=r"this is a campaign config .*, not an app manifest"):
        load_manifest(tmp_path)


def test_hecbench_needs_a_path(tmp_path: Path) -> None:
    path = write(tmp_path, CAMPAIGN.replace('name = "t"', 'name = "t"\nsuite = "hecbench"', 1))
    with pytest.raises(ConfigError, match=r"campaign\.suite_path"):
        load_campaign(path)


SITE = (REPO / "site_configs" / "local.toml").read_text()


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        (('toolchain = "gcc-omp"', 'toolchain = "gcc"'), ["partitions[0].toolchain", "gcc-omp"]),
        (('device = "cpu"', 'device = "tpu"'), ["partitions[0].device", "cpu, nvidia, amd"]),
        (("workers = 1 ", "workers = -1 "), ["partitions[0].workers", "must be > 0"]),
        (('scheduler = "local"', 'schedular = "local"'), ["site.schedular", "'scheduler'"]),
        (('language = "omp"', 'language = "fortran"'), ["toolchains.gcc-omp.language", "cuda"]),
        (
            ('make_vars = { CC = "g++" }', "make_vars = { CC = 3 }"),
            ["toolchains.gcc-omp.make_vars.CC", "string"],
        ),
        (
            ('name = "cuda-compile"', 'name = "cpu"'),
            ["partitions[1].name", "defined twice"],
        ),
    ],
)
def test_site_errors(tmp_path: Path, edit: tuple[str, str], fragments: list[str]) -> None:
    assert edit[0] in SITE, edit[0]
    path = write(tmp_path, SITE.replace(*edit, 1), "site.toml")
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message


def test_site_limits_carry_the_sandbox_section() -> None:
    site = load_site(REPO / "site_configs" / "local.toml")
    limits = site.sandbox.limits(wall_s=7.0)
    assert limits.wall_s == 7.0
    assert limits.processes == site.sandbox.processes
    assert limits.network is False


def test_campaign_llm_and_refine_sections(tmp_path: Path) -> None:
    text = CAMPAIGN + (
        '\n[llm]\ngenerator = "big"\njudge = "other"\nmax_tokens = 100\n'
        "\n[refine]\nmax_iterations = 7\npatience = 3\nmax_fix_attempts = 0\njudge = false\n"
    )
    text = text.replace('results_dir = "out"', 'results_dir = "out"\nstrategies = ["vanilla"]')
    campaign = load_campaign(write(tmp_path, text))
    assert campaign.strategies == ("vanilla",)
    assert (campaign.llm.generator, campaign.llm.judge, campaign.llm.max_tokens) == (
        "big",
        "other",
        100,
    )
    assert campaign.refine.max_iterations == 7 and campaign.refine.max_fix_attempts == 0
    assert campaign.refine.judge is False
    assert load_campaign(write(tmp_path, CAMPAIGN)).strategies == ("lassi-ee",)


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        ("\n[campaign.x]\n", ["campaign.x"]),
        ("\n[refine]\npatience = 0\n", ["refine.patience", "must be > 0"]),
        ("\n[llm]\ntemperature = 3.5\n", ["llm.temperature", "between 0 and 2"]),
        ("\n[llm]\nmax_token = 5\n", ["llm.max_token", "'max_tokens'"]),
    ],
)
def test_campaign_llm_errors(tmp_path: Path, extra: str, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_campaign(write(tmp_path, CAMPAIGN + extra))
    for fragment in fragments:
        assert fragment in str(caught.value), str(caught.value)


def test_unknown_strategy_is_named(tmp_path: Path) -> None:
    text = CAMPAIGN.replace('results_dir = "out"', 'results_dir = "out"\nstrategies = ["lasi-ee"]')
    with pytest.raises(ConfigError, match=r"campaign\.strategies\[0\].*lassi-ee"):
        load_campaign(write(tmp_path, text))


@pytest.mark.parametrize(
    ("server", "fragments"),
    [
        ('kind = "external"', ["llm_servers.x.url", "required when kind = 'external'"]),
        ('kind = "vllm"', ["llm_servers.x.model", "required when kind = 'vllm'"]),
        ('kind = "embedded"\nurl = "http://h/v1"', ["llm_servers.x.url", "only for kind"]),
        ('kind = "ollama"', ["llm_servers.x.kind", "embedded, vllm, external"]),
        ('kind = "embedded"\napi = "responses"', ["llm_servers.x.api", "completions, chat"]),
    ],
)
def test_llm_server_errors(tmp_path: Path, server: str, fragments: list[str]) -> None:
    path = write(tmp_path, SITE + f"\n[llm_servers.x]\n{server}\n", "site.toml")
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    for fragment in fragments:
        assert fragment in str(caught.value), str(caught.value)


def test_bundled_site_has_the_embedded_server() -> None:
    site = load_site(REPO / "site_configs" / "local.toml")
    assert site.llm_servers["embedded"].kind == "embedded"
    assert site.llm_servers["embedded"].api == "completions"
