"""Mistakes a user makes get one clear line and exit status 2, not a traceback."""

import pytest

from mtrec.pipeline import cli


def _run(capsys, *argv):
    code = cli.main(list(argv))
    return code, capsys.readouterr().err


def test_missing_data_dir(capsys, tmp_path):
    code, err = _run(capsys, "run", "--data-dir", str(tmp_path / "nope"))
    assert code == 2 and "nope: ratings folder not found" in err and "Traceback" not in err


def test_missing_required_column_names_file_and_column(capsys, tmp_path):
    (tmp_path / "r.csv").write_text("user_id,movie,rating\n1,2,3\n")
    code, err = _run(capsys, "run", "--data-dir", str(tmp_path), "--items-file", "")
    assert code == 2
    assert "r.csv: missing required column(s) item_id" in err


@pytest.mark.parametrize("content,message", [
    ("", "the file is empty"),
    ("user_id,item_id,rating\n", "header only, no ratings"),
])
def test_empty_and_header_only_files(capsys, tmp_path, content, message):
    (tmp_path / "r.csv").write_text(content)
    code, err = _run(capsys, "run", "--data-dir", str(tmp_path), "--items-file", "")
    assert code == 2 and message in err


def test_no_matching_files(capsys, tmp_path):
    code, err = _run(capsys, "run", "--data-dir", str(tmp_path))
    assert code == 2 and "no file matches '*.csv'" in err


def test_bad_config_value_and_set_syntax(capsys, tmp_path):
    code, err = _run(capsys, "run", "--epochs", "-3")
    assert code == 2 and "model.epochs: must be in 0..10000" in err
    code, err = _run(capsys, "run", "--set", "model.epochs")
    assert code == 2 and "expected section.key=value" in err
    config = tmp_path / "c.toml"
    config.write_text("[gate]\nmin_rmse = 1\n")
    code, err = _run(capsys, "run", "--config", str(config))
    assert code == 2 and "gate.min_rmse: unknown setting" in err


def test_recommend_without_a_pushed_model(capsys, tmp_path):
    code, err = _run(capsys, "recommend", "--user", "u1", "--serving-dir", str(tmp_path))
    assert code == 2 and "no pushed model under" in err


def test_enabled_side_feature_without_its_column_names_column_and_key(capsys, tmp_path):
    (tmp_path / "r.csv").write_text("user_id,item_id,rating,title\n1,2,3,Heat (1995)\n")
    code, err = _run(capsys, "run", "--data-dir", str(tmp_path), "--items-file", "",
                     "--set", 'model.item_features=["title", "genres"]')
    assert code == 2
    assert "r.csv: missing column 'genres', enabled by model.item_features" in err
    code, err = _run(capsys, "run", "--data-dir", str(tmp_path), "--items-file", "",
                     "--set", 'model.user_features=["review_summary"]')
    assert code == 2
    assert "missing column 'review_summary', enabled by model.user_features" in err


def test_timestamp_enabled_without_a_timestamp_column_names_column_and_key(capsys, tmp_path):
    (tmp_path / "r.csv").write_text("user_id,item_id,rating\n1,2,3\n")
    for key in ("item_features", "user_features"):
        code, err = _run(capsys, "run", "--data-dir", str(tmp_path), "--items-file", "",
                         "--set", f'model.{key}=["timestamp"]')
        assert code == 2
        assert f"r.csv: missing column 'timestamp', enabled by model.{key}" in err


def test_exact_search_with_seen_items_is_refused_before_loading(capsys, tmp_path):
    code, err = _run(capsys, "recommend", "--user", "u1", "--exact", "--include-seen",
                     "--serving-dir", str(tmp_path / "nothing-pushed"))
    assert code == 2 and "--exact searches with seen items excluded only" in err
