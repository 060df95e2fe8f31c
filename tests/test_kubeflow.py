"""Kubeflow (Vertex) compilation: the JSON parses into KFP's PipelineSpec
protobuf, with every component, the gate's wiring and the image."""

import json

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from mtrec.pipeline import cli

IMAGE = "europe-docker.pkg.dev/project/repo/mtrec:1.0"


def test_compile_kubeflow_pipeline_spec(tmp_path, capsys):
    output = tmp_path / "out" / "pipeline.json"
    code = cli.main(["compile", "kubeflow", "-o", str(output), "--image", IMAGE,
                     "--set", "pipeline_root=gs://bucket/root",
                     "--set", "serving.serving_dir=gs://bucket/serving",
                     "--set", "data.ratings_dir=gs://bucket/ratings",
                     "--set", "data.items_file=gs://bucket/items.csv"])
    assert code == 0, capsys.readouterr().err
    job = json.loads(output.read_text())
    spec = json_format.ParseDict(job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    tasks = spec.root.dag.tasks
    assert {"CsvExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "Transform",
            "Trainer", "Evaluator", "Pusher"} <= set(tasks)
    assert any(name.startswith("latest_blessed_model_resolver") for name in tasks)

    # The gate: the Pusher consumes the Evaluator's blessing and runs after it.
    pusher = tasks["Pusher"]
    blessing = pusher.inputs.artifacts["model_blessing"].task_output_artifact
    assert (blessing.producer_task, blessing.output_artifact_key) == ("Evaluator", "blessing")
    assert "Evaluator" in pusher.dependent_tasks
    destination = json.loads(pusher.inputs.parameters["push_destination"]
                              .runtime_value.constant_value.string_value)
    assert destination["filesystem"]["base_directory"] == "gs://bucket/serving/recommender"
    evaluator = tasks["Evaluator"]
    baseline = evaluator.inputs.artifacts["baseline_model"].task_output_artifact
    assert baseline.producer_task.startswith("latest_blessed_model_resolver")
    eval_config = json.loads(evaluator.inputs.parameters["eval_config"]
                             .runtime_value.constant_value.string_value)
    gated = eval_config["metrics_specs"][0]["per_slice_thresholds"]
    assert set(gated) == {"top_100_accuracy_seen_excluded", "rmse", "lift_over_most_popular",
                          "rmse_gain_over_biases"}
    # The gate applies to the overall slice only (pipeline/gate.py).
    assert all([t["slicing_specs"] for t in per_metric["thresholds"]] == [[{}]]
               for per_metric in gated.values())

    # Every component runs in the configured image.
    executors = spec.deployment_spec["executors"]
    images = {name: executor["container"]["image"] for name, executor in executors.items()
              if "container" in executor}
    assert len(images) >= 8 and set(images.values()) == {IMAGE}
    assert job["runtimeConfig"]["gcsOutputDirectory"] == "gs://bucket/root"


def test_compile_kubeflow_with_spans_reads_the_newest_span_alone(tmp_path, capsys):
    base = ["compile", "kubeflow", "--image", IMAGE, "--set", "pipeline_root=gs://bucket/root",
            "--set", "data.ratings_dir=gs://bucket/ratings",
            "--set", "data.file_pattern=span-{SPAN}/*.csv"]
    output = tmp_path / "spans.json"
    assert cli.main([*base, "-o", str(output)]) == 0, capsys.readouterr().err
    spec = json_format.ParseDict(json.loads(output.read_text())["pipelineSpec"],
                                 pipeline_spec_pb2.PipelineSpec())
    tasks = spec.root.dag.tasks
    input_config = json.loads(tasks["CsvExampleGen"].inputs.parameters["input_config"]
                              .runtime_value.constant_value.string_value)
    assert input_config["splits"][0]["pattern"] == "span-{SPAN}/*.csv"
    # Kubeflow V2 compiles only TFX's own strategies: each run uses its own span alone.
    assert not any("span" in name for name in tasks)
    transform_examples = tasks["Transform"].inputs.artifacts["examples"].task_output_artifact
    assert transform_examples.producer_task == "CsvExampleGen"

    assert cli.main([*base, "-o", str(output), "--set", "data.window_spans=2"]) == 2
    assert "data.window_spans: Kubeflow V2 runs each span alone" in capsys.readouterr().err
