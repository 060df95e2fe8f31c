"""The plain-script baseline of `mtrec bench overhead`: what a user would write
without the pipeline, following the TFRS multitask tutorial.

It reads MovieLens 100K's `u.data` as GroupLens ships it (or a folder of the
pipeline's ratings CSVs: `mtrec bench scale` runs it on its synthetic data),
splits it 80/20 at
random (seed 42), builds the id vocabularies from the training part, fits the
tutorial's joint model (`tfrs_recipe.py`) and evaluates top-100 accuracy and
RMSE on the held-out part: everything the pipeline does for one model, with no
validation, caching, gate, metadata or export. The overhead benchmark times it
as a command, imports included, as it times `mtrec run`.

Usage:  python -m mtrec.benchmarks.tfrs_script PATH/TO/ml-100k/u.data | RATINGS_FOLDER
Prints one JSON line: the metrics and the row counts.
"""

from __future__ import annotations

import glob
import json
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from mtrec.benchmarks import ranking, tfrs_recipe

SEED = 42
EVAL_FRACTION = 0.2


def read_u_data(path: str):
    """(users, items, ratings) string/float arrays from tab-separated `u.data`."""
    columns = np.loadtxt(path, dtype=str, delimiter="\t", usecols=(0, 1, 2), ndmin=2)
    if columns.shape[0] == 0:
        raise ValueError(f"{path}: no rows")
    return columns[:, 0], columns[:, 1], columns[:, 2].astype(np.float32)


def read_ratings_csvs(folder: str):
    """(users, items, ratings) from every `*.csv` in the folder, in the pipeline's
    columns (user_id, item_id, rating)."""
    paths = sorted(glob.glob(os.path.join(folder, "*.csv")))
    if not paths:
        raise ValueError(f"{folder}: no *.csv file")
    columns = {"user_id": pa.string(), "item_id": pa.string(), "rating": pa.float32()}
    table = pa.concat_tables(pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(
        include_columns=list(columns), column_types=columns)) for path in paths)
    if table.num_rows == 0:
        raise ValueError(f"{folder}: no rows")
    return (np.asarray(table["user_id"].to_pylist()), np.asarray(table["item_id"].to_pylist()),
            table["rating"].to_numpy())


def vocabulary_index(ids: np.ndarray, vocabulary: np.ndarray) -> np.ndarray:
    """Each id's position in the sorted `vocabulary`; len(vocabulary) when absent."""
    positions = np.minimum(np.searchsorted(vocabulary, ids), len(vocabulary) - 1)
    return np.where(vocabulary[positions] == ids, positions, len(vocabulary))


def split_and_index(users, items, ratings):
    """A seeded random 80/20 split, ids indexed by the training vocabularies."""
    is_eval = np.random.default_rng(SEED).random(len(users)) < EVAL_FRACTION
    user_ids = np.unique(users[~is_eval])
    item_ids = np.unique(items[~is_eval])

    def part(mask):
        return ranking.Interactions(vocabulary_index(users[mask], user_ids),
                                    vocabulary_index(items[mask], item_ids), ratings[mask])
    return part(~is_eval), part(is_eval), len(user_ids), len(item_ids)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__.split("Usage:")[1].strip().splitlines()[0], file=sys.stderr)
        return 2
    read = read_ratings_csvs if os.path.isdir(argv[0]) else read_u_data
    train, held_out, num_users, num_items = split_and_index(*read(argv[0]))
    scorer, model = tfrs_recipe.fit(train, num_users, num_items, seed=SEED)
    metrics = ranking.ranking_metrics(scorer, train, held_out, num_users, num_items)
    # Users and items unseen in training get the embeddings' spare last row.
    metrics["rmse"] = ranking.rmse(tfrs_recipe.predict_ratings(model, held_out), held_out)
    print(json.dumps({"train_rows": int(len(train.users)),
                      "held_out_rows": int(len(held_out.users)), **metrics}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
