"""The Trainer's cache key follows what it reads by path: the model code and the items file.

TFX re-runs a component when its exec properties change, so an edited items
file at the same path must change the Trainer's custom_config, and an
unchanged one must leave it as it was.
"""

import json
import shutil

from mtrec.pipeline.code_version import file_version, model_code_version
from mtrec.pipeline.config import SAMPLE_DIR, load_config
from mtrec.pipeline.pipeline import create_pipeline


def _trainer_custom_config(items_file: str) -> dict:
    config = load_config(overrides={"data.items_file": items_file})
    pipeline = create_pipeline(config)
    (trainer,) = [c for c in pipeline.components if c.id == "Trainer"]
    return json.loads(trainer.exec_properties["custom_config"])


def test_an_edited_items_file_at_the_same_path_changes_the_trainers_cache_key(tmp_path):
    items = tmp_path / "items.csv"
    shutil.copy(SAMPLE_DIR / "items.csv", items)
    before = _trainer_custom_config(str(items))
    assert _trainer_custom_config(str(items)) == before  # unchanged: cached
    lines = items.read_text(encoding="utf-8").splitlines()
    item_id = lines[1].split(",")[0]
    lines[1] = f"{item_id},A Retitled Film (2001)"
    items.write_text("\n".join(lines) + "\n", encoding="utf-8")
    after = _trainer_custom_config(str(items))
    assert after["items_file"] == before["items_file"]
    assert after["items_file_version"] != before["items_file_version"]
    assert after["items_file_version"] == file_version(str(items))


def test_the_cache_keys_name_the_code_and_no_items_file():
    config = _trainer_custom_config("")
    assert config["code_version"] == model_code_version()
    assert config["items_file_version"] == ""
