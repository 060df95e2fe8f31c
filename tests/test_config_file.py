"""`mtrec init` and `mtrec config show`: the config file generated from the defaults."""

import dataclasses
import pathlib

import tomli

from mtrec.pipeline import cli
from mtrec.pipeline.config import Config, load_config
from mtrec.pipeline.config_file import descriptions, dump, render_docs, template

REPO = pathlib.Path(__file__).resolve().parent.parent


def _keys(config: Config) -> set:
    keys = set()
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            keys |= {f"{field.name}.{f.name}" for f in dataclasses.fields(value)}
        else:
            keys.add(field.name)
    return keys


def test_every_key_is_documented_and_in_the_template():
    documented = descriptions()
    assert set(documented) == _keys(Config())
    assert all(documented.values())
    text = template()
    for key, description in documented.items():
        assert f"{key.split('.')[-1]} = " in text
        assert f"# {description}" in text


def test_the_configuration_page_is_generated_from_the_fields():
    page = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert render_docs(page) == page, "docs/configuration.md is stale: run `make docs`"
    for key in descriptions():
        assert f"| `{key}` |" in page


def test_run_options_share_the_fields_help(capsys):
    import pytest

    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert f"{descriptions()['model.epochs']} (model.epochs)" in shown


def test_init_writes_a_file_that_loads_back_to_the_defaults(tmp_path, capsys):
    path = tmp_path / "mtrec.toml"
    assert cli.main(["init", str(path)]) == 0
    assert load_config(path) == load_config()
    assert "mtrec run --config" in capsys.readouterr().out


def test_init_refuses_to_overwrite(tmp_path, capsys):
    path = tmp_path / "mtrec.toml"
    path.write_text("# mine\n")
    assert cli.main(["init", str(path)]) == cli.EXIT_USAGE
    assert "already exists" in capsys.readouterr().err
    assert path.read_text() == "# mine\n"
    assert cli.main(["init", str(path), "--force"]) == 0
    assert "[model]" in path.read_text()


def test_config_show_prints_file_then_options(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text('[model]\nepochs = 3\nbatch_size = 64\n[gate]\nmax_rmse = 1.5\n')
    assert cli.main(["config", "show", "--config", str(path), "--set", "model.epochs=7",
                     "--set", "model.rating_weight=0.5"]) == 0
    shown = tomli.loads(capsys.readouterr().out)
    assert shown["model"]["epochs"] == 7  # the option wins over the file
    assert shown["model"]["batch_size"] == 64
    assert shown["model"]["rating_weight"] == 0.5
    assert shown["gate"]["max_rmse"] == 1.5
    # What config show prints is itself a config that reproduces the run's settings.
    effective = tmp_path / "effective.toml"
    effective.write_text(dump(load_config(path, {"model.epochs": 7})))
    assert load_config(effective) == load_config(path, {"model.epochs": 7})


def test_config_show_names_a_bad_key(capsys):
    assert cli.main(["config", "show", "--set", "model.epoch=3"]) == cli.EXIT_USAGE
    assert "model.epoch" in capsys.readouterr().err
