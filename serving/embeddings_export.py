"""Writes a pushed model's user and item embeddings, with their ids, to files.

Formats:
  csv      <kind>_embeddings.csv: id, e0, e1, ... (header row)
  npy      <kind>_embeddings.npy (float32 [N, d]) and <kind>_ids.txt (one id a line)
  parquet  <kind>_embeddings.parquet: id (string), embedding (list<float>)
"""

from __future__ import annotations

import csv
import os
from typing import Dict, List

import numpy as np

from mtrec.serving.loader import PushedModel

FORMATS = ("csv", "npy", "parquet")


def export_embeddings(model: PushedModel, output_dir: str, fmt: str) -> Dict[str, int]:
    """Writes both tables in `fmt` under `output_dir`; returns rows written per kind."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    os.makedirs(output_dir, exist_ok=True)
    written = {}
    for kind in ("user", "item"):
        ids, embeddings = model.embedding_table(kind)
        _WRITERS[fmt](os.path.join(output_dir, f"{kind}_embeddings"), ids, embeddings)
        written[kind] = len(ids)
    return written


def _write_csv(stem: str, ids: List[str], embeddings: np.ndarray) -> None:
    with open(stem + ".csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id"] + [f"e{j}" for j in range(embeddings.shape[1])])
        for identifier, row in zip(ids, embeddings):
            writer.writerow([identifier] + [f"{value:.7g}" for value in row])


def _write_npy(stem: str, ids: List[str], embeddings: np.ndarray) -> None:
    np.save(stem + ".npy", embeddings.astype(np.float32))
    with open(stem.replace("_embeddings", "_ids") + ".txt", "w", encoding="utf-8") as handle:
        handle.writelines(identifier + "\n" for identifier in ids)


def _write_parquet(stem: str, ids: List[str], embeddings: np.ndarray) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": pa.array(ids, pa.string()),
                      "embedding": pa.array(list(embeddings.astype(np.float32)),
                                            pa.list_(pa.float32()))})
    pq.write_table(table, stem + ".parquet")


_WRITERS = {"csv": _write_csv, "npy": _write_npy, "parquet": _write_parquet}
