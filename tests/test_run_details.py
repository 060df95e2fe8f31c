"""The summary's data counts and anomalies, read from the artifacts TFX writes."""

from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

from mtrec.pipeline.runs.results import read_anomalies, read_split_counts


def test_anomalies_are_one_line_each_with_split_and_feature(tmp_path):
    anomalies = anomalies_pb2.Anomalies()
    anomalies.anomaly_info["rating"].short_description = "Out-of-range values"
    anomalies.anomaly_info["item_id"].description = "Column dropped"
    (tmp_path / "Split-eval").mkdir()
    (tmp_path / "Split-eval" / "SchemaDiff.pb").write_bytes(anomalies.SerializeToString())
    (tmp_path / "Split-train").mkdir()
    (tmp_path / "Split-train" / "SchemaDiff.pb").write_bytes(
        anomalies_pb2.Anomalies().SerializeToString())
    assert read_anomalies(str(tmp_path)) == ["eval: item_id: Column dropped",
                                             "eval: rating: Out-of-range values"]


def test_split_counts_from_tfdv_statistics(tmp_path):
    for split, examples, users in (("train", 80, 10), ("eval", 20, 7)):
        stats = statistics_pb2.DatasetFeatureStatisticsList()
        dataset = stats.datasets.add(num_examples=examples)
        user = dataset.features.add()
        user.path.step.append("user_id")
        user.string_stats.unique = users
        item = dataset.features.add()
        item.path.step.append("item_id")
        item.num_stats.mean = 3.0  # numeric ids: TFDV has no unique count
        (tmp_path / f"Split-{split}").mkdir()
        (tmp_path / f"Split-{split}" / "FeatureStats.pb").write_bytes(stats.SerializeToString())
    counts = {c.split: (c.interactions, c.users, c.items) for c in read_split_counts(str(tmp_path))}
    assert counts == {"train": (80, 10, None), "eval": (20, 7, None)}
