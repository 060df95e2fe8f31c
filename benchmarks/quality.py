"""`mtrec bench quality`: the project's models beside strong baselines, on one split.

For each dataset the real pipeline runs once per loss weighting (rating-only,
retrieval-only, the joint default and a sweep between them); Transform and
everything upstream are cached after the first run, so every model sees the
same vocabularies and the same train/eval split. The baselines (global mean,
user + item biases, most popular, EASE, the TFRS tutorial's recipe) are then
fitted on that very split, read back from the ExampleGen artifact.

Top-K accuracy and RMSE of the project's models are the Evaluator's (TFMA);
per-user Recall@10 / NDCG@10 come from ranking.py on the exported model's
embeddings, which also recomputes top-K so a disagreement with TFMA shows.
"""

from __future__ import annotations

import dataclasses
import datetime
import glob
import itertools
import os
import pathlib
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mtrec.benchmarks import baselines, ranking, report, tfrs_recipe
from mtrec.benchmarks.ranking import Interactions
from mtrec.data import synthetic
from mtrec.pipeline.config import load_config

REPO = pathlib.Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Where a dataset's files come from: `shared_folder`, prepared by `mtrec
    data prepare NAME`; `synthetic`, generated here; neither: the embedded sample."""

    name: str
    preset: str  # the config shipped for it, relative to the repository; "": the defaults
    shared_folder: str = ""  # under ../shared/data
    synthetic: Optional[synthetic.ScaledSpec] = None


DATASETS = {
    "sample": Dataset("sample", ""),
    "movielens-100k": Dataset("movielens-100k", "configs/movielens-100k.toml", "ml-100k"),
    "movielens-latest-small": Dataset("movielens-latest-small",
                                      "configs/movielens-latest-small.toml", "ml-latest-small"),
    "synthetic-sparse": Dataset("synthetic-sparse", "",
                                synthetic=synthetic.SPARSE_REVIEWS_SHAPE),
}


def prepare(dataset: Dataset, shared_data: str, data_dir: str) -> str:
    """Writes the dataset's ratings/ and items.csv under data_dir, once, and
    returns the folder that holds them (the embedded sample's own folder for
    the sample). Prepared once: rewriting the files would change ExampleGen's
    input fingerprint and defeat the cache of every later run."""
    from mtrec.data import movielens
    from mtrec.pipeline.config import SAMPLE_DIR

    if not dataset.shared_folder and dataset.synthetic is None:
        return str(SAMPLE_DIR)
    if not os.path.exists(os.path.join(data_dir, "ratings")):
        if dataset.shared_folder:
            movielens.prepare(dataset.name, os.path.join(shared_data, dataset.shared_folder),
                              data_dir)
        else:
            synthetic.write(dataset.synthetic, data_dir)
    return data_dir


# (retrieval, rating) loss weights: rating-only, the joint trade-off, retrieval-only.
SWEEP = ((0.0, 1.0), (1.0, 1.0), (1.0, 0.3), (1.0, 0.1), (1.0, 0.0))

COLUMNS = ("top_100_accuracy", "top_100_accuracy_seen_excluded", "top_10_accuracy_seen_excluded",
           "recall_at_10", "ndcg_at_10", "rmse")
HEADINGS = ("top-100 (TFRS def.)", "top-100, seen excl.", "top-10, seen excl.", "Recall@10",
            "NDCG@10", "RMSE")
TFMA_AGREEMENT = 1e-3  # |TFMA - ranking.py| allowed on the same model (ties, float32 vs 64)


@dataclasses.dataclass
class ModelResult:
    name: str
    metrics: Dict[str, float]  # COLUMNS entries that apply
    seconds: float  # fit + evaluate (the whole pipeline run for the project's models)
    weights: Optional[Tuple[float, float]] = None  # (retrieval, rating) for the project's models


@dataclasses.dataclass
class Split:
    """The pipeline's train/eval split as indices over the training vocabularies."""

    train: Interactions
    held_out: Interactions
    user_ids: List[str]  # index -> id (training users)
    item_ids: List[str]  # index -> id (training items)


def read_examples(split_folder: str) -> Tuple[List[str], List[str], np.ndarray]:
    import tensorflow as tf

    from mtrec.trainer_module import features

    users, items, ratings = [], [], []

    def value(feature) -> object:
        kind = feature.WhichOneof("kind")
        values = getattr(feature, kind).value if kind else []
        return values[0] if len(values) else None

    files = sorted(glob.glob(os.path.join(split_folder, "*.gz")))
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        example = tf.train.Example.FromString(record.numpy()).features.feature
        user, item = value(example[features.USER_ID]), value(example[features.ITEM_ID])
        users.append(user.decode() if isinstance(user, bytes) else str(user))
        items.append(item.decode() if isinstance(item, bytes) else str(item))
        rating = value(example[features.RATING]) if features.RATING in example else None
        ratings.append(np.nan if rating is None else float(rating))
    return users, items, np.asarray(ratings, dtype=np.float64)


def read_split(examples_uri: str) -> Split:
    """The Examples artifact's train and eval splits, indexed by the training vocabularies."""
    from mtrec.components.split_example_gen import EVAL_SPLIT, TRAIN_SPLIT

    train = read_examples(os.path.join(examples_uri, f"Split-{TRAIN_SPLIT}"))
    held_out = read_examples(os.path.join(examples_uri, f"Split-{EVAL_SPLIT}"))
    return indexed_split(train, held_out)


def indexed_split(train, held_out) -> Split:
    """`train` and `held_out`, each (users, items, ratings), indexed by train's sorted ids;
    an id train never saw gets the index one past the end."""
    train_users, train_items, _ = train
    user_ids, item_ids = sorted(set(train_users)), sorted(set(train_items))
    user_index = {u: i for i, u in enumerate(user_ids)}
    item_index = {i: n for n, i in enumerate(item_ids)}

    def interactions(users, items, ratings) -> Interactions:
        return Interactions(
            users=np.array([user_index.get(u, len(user_ids)) for u in users], dtype=np.int64),
            items=np.array([item_index.get(i, len(item_ids)) for i in items], dtype=np.int64),
            ratings=ratings)
    return Split(interactions(*train), interactions(*held_out), user_ids, item_ids)


def exported_model_scorer(model_uri: str, split: Split) -> ranking.Scorer:
    """Scores of the Trainer's exported model: user tower · item tower, as its `evaluate` does."""
    import scann  # noqa: F401  (the SavedModel holds ScaNN ops)
    import tensorflow as tf
    from tfx.utils import path_utils

    model = tf.saved_model.load(path_utils.serving_model_path(model_uri))
    items = model.signatures["item_embedding"](item_id=tf.constant(split.item_ids))["embedding"]
    # The index past the training users stands for an unseen user: the model's OOV row.
    user_ids = tf.constant(split.user_ids + ["\x00unseen user"])
    users = model.signatures["user_embedding"](user_id=user_ids)["embedding"].numpy()
    items = items.numpy()
    return lambda batch: users[batch] @ items.T


def _timed(function, *args):
    start = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - start


def baseline_results(split: Split) -> List[ModelResult]:
    """Global mean, biases, most popular, EASE and the TFRS tutorial, on `split`."""
    num_users, num_items = len(split.user_ids), len(split.item_ids)
    train, held_out = split.train, split.held_out
    has_ratings = not np.all(np.isnan(train.ratings))
    results = []

    def ranked(name, make_scorer):
        start = time.perf_counter()
        scorer = make_scorer()
        metrics = ranking.ranking_metrics(scorer, train, held_out, num_users, num_items)
        return ModelResult(name, metrics, time.perf_counter() - start)

    if has_ratings:
        predicted, seconds = _timed(baselines.global_mean, train, held_out)
        results.append(ModelResult("global mean rating", {"rmse": ranking.rmse(predicted, held_out)},
                                   seconds))
        predicted, seconds = _timed(baselines.biases, train, held_out, num_users, num_items)
        results.append(ModelResult("user + item biases (λ = 5)",
                                   {"rmse": ranking.rmse(predicted, held_out)}, seconds))
    results.append(ranked("most popular", lambda: baselines.most_popular(train, num_items)))
    results.append(ranked("EASE (λ = 500)", lambda: baselines.ease(train, num_users, num_items)))
    if has_ratings:
        start = time.perf_counter()
        scorer, model = tfrs_recipe.fit(train, num_users, num_items)
        metrics = ranking.ranking_metrics(scorer, train, held_out, num_users, num_items)
        metrics["rmse"] = ranking.rmse(tfrs_recipe.predict_ratings(model, held_out), held_out)
        results.append(ModelResult("TFRS multitask tutorial, joint (1, 1)", metrics,
                                   time.perf_counter() - start))
    return results


def _model_name(weights: Tuple[float, float], default: Tuple[float, float]) -> str:
    retrieval, rating = weights
    if retrieval == 0:
        return "mtrec rating-only"
    if rating == 0:
        return "mtrec retrieval-only"
    label = f"mtrec joint ({retrieval:g}, {rating:g})"
    return label + ", the default" if weights == default else label


def pipeline_results(dataset: Dataset, data_dir: str, work_dir: str,
                     sweep: Sequence[Tuple[float, float]], progress=print
                     ) -> Tuple[List[ModelResult], Split]:
    """Runs the real pipeline once per weighting; returns its models and the split."""
    from mtrec.pipeline.runners.local import run_local
    from mtrec.pipeline.runs.results import EXAMPLES, MODEL, read_run

    results, split = [], None
    preset = REPO / dataset.preset if dataset.preset else None
    default = load_config(preset).model.preset_weights()
    for weights in sweep:
        config = load_config(preset, {
            "data.ratings_dir": os.path.join(data_dir, "ratings"),
            "data.items_file": os.path.join(data_dir, "items.csv"),
            "pipeline_root": os.path.join(work_dir, "pipeline"),
            "serving.serving_dir": os.path.join(work_dir, "serving"),
            "model.retrieval_weight": weights[0], "model.rating_weight": weights[1]})
        name = _model_name(weights, default)
        progress(f"{dataset.name}: {name}: running the pipeline")
        config, seconds = _timed(run_local, config)
        run = read_run(config.metadata_path)
        if split is None:
            split = read_split(run.artifact_uris[EXAMPLES])
        tfma_metrics = {row.name: row.value for row in run.metrics}
        ours = ranking.ranking_metrics(
            exported_model_scorer(run.artifact_uris[MODEL], split), split.train, split.held_out,
            len(split.user_ids), len(split.item_ids))
        for key in ("top_100_accuracy", "top_100_accuracy_seen_excluded"):
            # The Evaluator leaves out a K over a fifth of the corpus (40 items: K <= 5).
            if key in tfma_metrics and abs(ours[key] - tfma_metrics[key]) > TFMA_AGREEMENT:
                raise RuntimeError(f"{name}: {key} is {tfma_metrics[key]:.4f} in TFMA but "
                                   f"{ours[key]:.4f} from the exported embeddings")
        metrics = {key: tfma_metrics[key] for key in COLUMNS if key in tfma_metrics}
        metrics.update(recall_at_10=ours["recall_at_10"], ndcg_at_10=ours["ndcg_at_10"])
        if weights[1] == 0:
            metrics.pop("rmse", None)  # the rating head was never trained
        results.append(ModelResult(name, metrics, seconds, weights))
    return results, split


def markdown_table(results: Sequence[ModelResult]) -> str:
    lines = ["| model | " + " | ".join(HEADINGS) + " | seconds |",
             "| --- |" + " --- |" * (len(HEADINGS) + 1)]
    for result in results:
        cells = [f"{result.metrics[key]:.3f}" if key in result.metrics else "–" for key in COLUMNS]
        lines.append(f"| {result.name} | " + " | ".join(cells) + f" | {result.seconds:.0f} |")
    return "\n".join(lines)


def plot_tradeoff(dataset: str, ours: Sequence[ModelResult], references: Sequence[ModelResult],
                  path: str) -> None:
    """RMSE against seen-excluded top-100, one point per loss weighting, baselines as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_key, y_key = "top_100_accuracy_seen_excluded", "rmse"
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=110)
    points = [r for r in ours if x_key in r.metrics and y_key in r.metrics]
    axes.plot([r.metrics[x_key] for r in points], [r.metrics[y_key] for r in points], "o-",
              color="tab:blue", label="mtrec, loss-weight sweep")
    for result in points:
        retrieval, rating = result.weights
        label = "rating only" if retrieval == 0 else f"{rating / retrieval:g}"
        axes.annotate(label, (result.metrics[x_key], result.metrics[y_key]),
                      textcoords="offset points", xytext=(5, 5), fontsize=8)
    styles = itertools.cycle(["--", ":", "-.", (0, (5, 1, 1, 1))])
    for reference in references:
        if x_key in reference.metrics and y_key in reference.metrics:
            axes.plot(reference.metrics[x_key], reference.metrics[y_key], "s", color="tab:red",
                      label=reference.name)
        elif x_key in reference.metrics:
            axes.axvline(reference.metrics[x_key], color="gray", linestyle=next(styles),
                         label=f"{reference.name} (top-100)")
        elif y_key in reference.metrics:
            axes.axhline(reference.metrics[y_key], color="gray", linestyle=next(styles),
                         label=f"{reference.name} (RMSE)")
    axes.set_xlabel("top-100 accuracy, seen items excluded (higher is better)")
    axes.set_ylabel("RMSE (lower is better)")
    axes.set_title(f"{dataset}: the retrieval/rating trade-off (labels: rating weight / "
                   f"retrieval weight)", fontsize=9)
    axes.legend(fontsize=7, loc="best")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def run(datasets: Sequence[str], shared_data: str, work_dir: str, output: str,
        sweep: Sequence[Tuple[float, float]] = SWEEP, progress=print) -> str:
    """Benchmarks each dataset; writes the section and plots; returns the section."""
    parts = []
    for name in datasets:
        dataset = DATASETS[name]
        progress(f"{name}: preparing the data")
        data_dir = prepare(dataset, shared_data, os.path.join(work_dir, name, "data"))
        ours, split = pipeline_results(dataset, data_dir, os.path.join(work_dir, name), sweep,
                                       progress)
        progress(f"{name}: fitting the baselines on the same split")
        references = baseline_results(split)
        plot = os.path.join(os.path.dirname(output), f"quality-{name}.png")
        plot_tradeoff(name, ours, references, plot)
        parts.append(f"### {name}\n\n"
                     f"{len(split.train.users):,} training and {len(split.held_out.users):,} "
                     f"held-out interactions; {len(split.user_ids):,} users and "
                     f"{len(split.item_ids):,} items in training.\n\n"
                     + markdown_table(references + ours)
                     + f"\n\n![RMSE against top-100 on {name}]({os.path.basename(plot)})\n")
    section = (
        "## Model quality (`mtrec bench quality`)\n\n"
        f"Run on {datetime.date.today()} on {report.machine()}. Each dataset's split is the "
        "pipeline's (random 80/20, seed 42); every row is fitted on its training part and "
        "evaluated on its held-out part. Metrics: as defined in [pipeline.md](pipeline.md#metrics) (top-K per held-out "
        "interaction; Recall@10 and NDCG@10 per user, seen items excluded). The project's "
        "rows are whole `mtrec run`s of the dataset's preset with the loss weights shown "
        "(retrieval, rating); their seconds are the whole pipeline, upstream components "
        "cached after the first.\n\n" + "\n".join(parts))
    report.write_section(output, section)
    return section
