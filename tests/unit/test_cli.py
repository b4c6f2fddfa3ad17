"""The command line: `check` validates each config kind and fails clearly; commands have help."""

from __future__ import annotations

from pathlib import Path

import pytest

from lassi_hpc.cli import main
from lassi_hpc.testing.synthetic_campaign import write_synthetic_campaign

REPO = Path(__file__).resolve().parents[2]


def test_check_accepts_each_kind(capsys: pytest.CaptureFixture[str]) -> None:
    files = [
        REPO / "examples" / "campaigns" / "demo.toml",
        REPO / "site_configs" / "local.toml",
        REPO / "tests" / "data" / "apps" / "tiny" / "app.toml",
    ]
    assert main(["check", *map(str, files)]) == 0
    out = capsys.readouterr().out
    assert "valid campaign config" in out
    assert "valid site config" in out
    assert "valid app config" in out
    assert "demo.toml: runs on site 'local': LLM servers generator 'embedded'" in out


def test_check_refuses_a_campaign_its_site_cannot_run(capsys: pytest.CaptureFixture[str]) -> None:
    # The Slurm example site serves no 'embedded' model, which the demo campaign asks for.
    files = [REPO / "site_configs" / "slurm-a100-mi100.toml", REPO / "examples/campaigns/demo.toml"]
    assert main(["check", "--offline", *map(str, files)]) == 2
    assert "llm.generator: no LLM server named 'embedded'" in capsys.readouterr().err


def test_check_accepts_an_app_directory(capsys: pytest.CaptureFixture[str]) -> None:
    app_dir = REPO / "tests" / "data" / "apps" / "tiny"
    assert main(["check", str(app_dir)]) == 0
    assert "valid app config" in capsys.readouterr().out


def test_check_rejects_a_typo_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[campaign]\nname = "x"\n\n[[apps]]\nnmae = "stencil2d"\n')
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lassi-hpc: error: ")
    assert "apps[0].nmae" in err
    assert "did you mean 'name'" in err


def test_check_refuses_a_file_of_unknown_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.toml"
    other.write_text("[something]\nx = 1\n")
    assert main(["check", str(other)]) == 2
    assert "[campaign], [site] or [app]" in capsys.readouterr().err


def test_check_resolves_a_campaigns_apps_and_variants(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign = tmp_path / "c.toml"
    campaign.write_text('[campaign]\nname = "x"\n\n[[apps]]\nname = "stencil"\n')
    assert main(["check", str(campaign)]) == 2
    err = capsys.readouterr().err
    assert f"{campaign}: apps[0]: no app 'stencil'" in err and "stencil2d" in err
    campaign.write_text(
        '[campaign]\nname = "x"\nvariants = ["openmp"]\n[[apps]]\nname = "stencil2d"\n'
    )
    assert main(["check", str(campaign)]) == 2
    assert (
        "apps[0]: app 'stencil2d' has no variant 'openmp'; it has: omp" in capsys.readouterr().err
    )


def test_check_plans_a_campaign_on_the_site_given_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = str(REPO / "site_configs" / "local.toml")
    campaign = tmp_path / "c.toml"
    campaign.write_text('[campaign]\nname = "x"\n[[apps]]\nname = "stencil2d"\npartition = "gpu"\n')
    assert main(["check", str(campaign)]) == 0  # the partition is the site's business
    assert main(["check", str(campaign), site]) == 2
    assert "apps[0].partition: site 'local'" in capsys.readouterr().err
    campaign.write_text(
        '[campaign]\nname = "x"\n[[apps]]\nname = "stencil2d"\n[llm]\ngenerator = "gpt4"\n'
    )
    assert main(["check", site, str(campaign)]) == 2
    assert "llm.generator: no LLM server named 'gpt4'" in capsys.readouterr().err
    campaign.write_text('[campaign]\nname = "x"\n[[apps]]\nname = "stencil2d"\n')
    assert main(["check", str(campaign), site]) == 0
    assert "stencil2d/omp -> cpu" in capsys.readouterr().out


def test_run_refuses_an_unknown_app_without_leaving_a_results_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign = tmp_path / "c.toml"
    campaign.write_text('[campaign]\nname = "x"\n\n[[apps]]\nname = "no-such-app"\n')
    assert main(["run", str(campaign)]) == 2
    assert "apps[0]: no app 'no-such-app'" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_baseline_reports_an_unknown_app_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign = tmp_path / "c.toml"
    campaign.write_text('[campaign]\nname = "x"\n\n[[apps]]\nname = "no-such-app"\n')
    assert main(["baseline", str(campaign)]) == 2
    err = capsys.readouterr().err
    assert "no app 'no-such-app'" in err
    assert not (tmp_path / "results").exists()


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("check", "env", "baseline"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: lassi-hpc" in capsys.readouterr().out


def test_status_and_report_refuse_a_campaign_file_naming_what_they_take(
    capsys: pytest.CaptureFixture[str],
) -> None:
    campaign = str(REPO / "examples" / "campaigns" / "demo.toml")
    for command in ("status", "report"):
        assert main([command, campaign]) == 2
        err = capsys.readouterr().err
        assert "a config file, not results" in err and "<results_dir>/<campaign name>/" in err


def test_report_refuses_an_out_that_is_a_file_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "c.h5"
    results.write_bytes(b"not read: --out is checked first")
    taken = tmp_path / "taken"
    taken.write_text("")
    assert main(["report", str(results), "--out", str(taken)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lassi-hpc: error: --out ") and "cannot create the report folder" in err


def test_status_says_what_the_baselines_spread_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "c.h5"
    write_synthetic_campaign(results, apps=1, trials=1, repetitions=2, trace_samples=4)
    assert main(["status", str(results)]) == 0
    baselines = [line for line in capsys.readouterr().out.splitlines() if ": ok, " in line]
    assert baselines and all(" J ± " in line and "(95% CI, " in line for line in baselines)
