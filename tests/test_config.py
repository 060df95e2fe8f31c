"""Config loading: defaults, TOML, overrides and every validation error."""

import dataclasses
import pathlib

import pytest

from mtrec.pipeline.config import Config, ConfigError, load_config

REPO = pathlib.Path(__file__).resolve().parent.parent


def test_defaults_are_valid_and_point_at_the_sample():
    config = load_config()
    assert config.data.ratings_dir.endswith("data/sample/ratings")
    assert config.model.preset_weights() == (1.0, 0.1)
    assert config.trainer_settings().rating_weight == 0.1


def test_toml_then_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('pipeline_name = "x"\n[model]\nepochs = 3\nlearning_rate = 1\n')
    config = load_config(path, {"model.epochs": 5, "gate.max_rmse": 2})
    assert config.pipeline_name == "x"
    assert config.model.epochs == 5  # the override wins over the file
    assert config.model.learning_rate == 1.0 and isinstance(config.model.learning_rate, float)
    assert config.gate.max_rmse == 2.0


@pytest.mark.parametrize("objective,weights", [
    ("joint", (1.0, 0.1)), ("retrieval", (1.0, 0.0)), ("rating", (0.0, 1.0))])
def test_objective_presets(objective, weights):
    assert load_config(overrides={"model.objective": objective}).model.preset_weights() == weights


def test_side_features_are_off_by_default_and_reach_transform_and_trainer():
    assert load_config().side_features() == {"item_features": [], "user_features": []}
    config = load_config(overrides={"model.item_features": ["genres", "title"],
                                    "model.user_features": ["review_summary"]})
    settings = config.trainer_settings()
    assert settings.item_features == ("genres", "title")
    assert settings.user_features == ("review_summary",)
    assert config.side_features() == {"item_features": ["genres", "title"],
                                      "user_features": ["review_summary"]}


def test_timestamp_is_an_item_and_a_user_feature():
    config = load_config(overrides={"model.item_features": ["timestamp"],
                                    "model.user_features": ["review_summary", "timestamp"]})
    assert config.side_features() == {"item_features": ["timestamp"],
                                      "user_features": ["review_summary", "timestamp"]}
    with pytest.raises(ConfigError, match="model.user_features: must be distinct names"):
        load_config(overrides={"model.user_features": ["timestamp", "timestamp"]})


@pytest.mark.parametrize("cutoff,seconds", [
    ("", None), ("1700000000", 1_700_000_000), ("2024-01-01", 1_704_067_200),
    ("2024-01-01T00:00:00Z", 1_704_067_200), ("2024-01-01T01:00:00+01:00", 1_704_067_200)])
def test_split_cutoff_in_unix_seconds(cutoff, seconds):
    config = load_config(overrides={"data.split": "time", "data.split_cutoff": cutoff})
    assert config.data.split_cutoff_seconds() == seconds


def test_explicit_weight_overrides_preset():
    config = load_config(overrides={"model.objective": "joint", "model.rating_weight": 0.25})
    assert config.model.preset_weights() == (1.0, 0.25)


def test_implicit_data_trains_retrieval_only():
    config = load_config(overrides={"data.has_ratings": False})
    assert config.trainer_settings().rating_weight == 0.0
    with pytest.raises(ConfigError, match="nothing to train"):
        load_config(overrides={"data.has_ratings": False, "model.objective": "rating"})


@pytest.mark.parametrize("overrides,message", [
    ({"model.epochs": -1}, "model.epochs: must be in 0..10000"),
    ({"model.epochs": "ten"}, "model.epochs: expected an integer"),
    ({"model.objective": "both"}, "model.objective: must be one of"),
    ({"model.learning_rate": 0}, r"model.learning_rate: must be in \(0, 10\]"),
    ({"model.batch_size": 0}, "model.batch_size"),
    ({"gate.min_top_k_accuracy": 1.5}, r"gate.min_top_k_accuracy: must be in \[0, 1\]"),
    ({"gate.top_k_metric": "top_7_accuracy"}, "gate.top_k_metric: must be one of"),
    ({"serving.max_k": 0}, "serving.max_k"),
    ({"model.rating_hidden_units": [64, 0]}, "model.rating_hidden_units"),
    ({"model.unknown_knob": 1}, "model.unknown_knob: unknown setting"),
    ({"data.has_ratings": "yes"}, "data.has_ratings: expected true or false"),
    ({"data.split": "hash"}, "data.split: must be one of"),
    ({"data.eval_fraction": 1.0}, r"data.eval_fraction: must be in \(0, 1\)"),
    ({"data.eval_per_user": 0}, "data.eval_per_user: must be >= 1"),
    ({"data.split_cutoff": "last spring"}, "data.split_cutoff: expected unix seconds or an ISO"),
    ({"model.item_features": ["title", "plot"]}, "model.item_features: must be distinct names"),
    ({"model.item_features": ["title", "title"]}, "model.item_features: must be distinct names"),
    ({"model.item_features": "title"}, "model.item_features: expected a list"),
    ({"model.user_features": ["title"]}, "model.user_features: must be distinct names"),
])
def test_invalid_values_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=overrides)


def test_bad_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nepochs = 3")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        load_config(bad)
    section = tmp_path / "section.toml"
    section.write_text("model = 3\n")
    with pytest.raises(ConfigError, match=r"model: expected a \[model\] table"):
        load_config(section)


def test_configuration_page_lists_every_side_feature_option():
    from mtrec.trainer_module.features import ITEM_SIDE_FEATURES, USER_SIDE_FEATURES

    page = (REPO / "docs" / "configuration.md").read_text()
    for key, options in (("item_features", ITEM_SIDE_FEATURES),
                         ("user_features", USER_SIDE_FEATURES)):
        [line] = [line for line in page.splitlines() if line.startswith(f"| `model.{key}` |")]
        missing = [name for name in options if f'"{name}"' not in line]
        assert not missing, f"docs/configuration.md's model.{key} row lacks {missing}"


@pytest.mark.parametrize("preset", sorted((REPO / "configs").glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_preset_loads_with_its_measured_gate(preset):
    config = load_config(preset)
    # Bounds from `mtrec bench quality` (docs/benchmarks.md): above most
    # popular's top-100 and below the global mean's RMSE on both datasets.
    assert 0.3 <= config.gate.min_top_k_accuracy < 1.0
    assert config.gate.max_rmse < 1.0


def test_the_examples_seen_budget_cuts_epochs_as_the_data_grows():
    settings = dataclasses.replace(Config().trainer_settings(), epochs=10,
                                   max_examples_seen=20_000_000)
    assert settings.epochs_for(80_000) == 10
    assert settings.epochs_for(8_000_000) == 2  # 2.5 budgets' worth rounds to 2
    assert settings.epochs_for(100_000_000) == 1  # always at least one pass
    assert dataclasses.replace(settings, max_examples_seen=0).epochs_for(10 ** 9) == 10
    assert dataclasses.replace(settings, epochs=0).epochs_for(10) == 0
