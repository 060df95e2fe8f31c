"""An untrained mtrec SavedModel at a chosen size, for serving benchmarks.

The item embeddings are drawn from a mixture of Gaussians, as in the index
benchmark (benchmarks/serving.py), so the ScaNN tree has real clusters to
find; users are points from the same mixture, and each has rated a random
set of items. Everything else (the module, the index, the signatures) is
what the Trainer exports (trainer_module/export.py), so a server loads it
exactly as a pushed model.
"""

from __future__ import annotations

import numpy as np

from mtrec.benchmarks.serving import clustered


def build(path: str, num_items: int, num_users: int, dim: int = 64, seen_per_user: int = 50,
          max_k: int = 100, seed: int = 0) -> None:
    """Saves the model to `path`."""
    import tensorflow as tf

    from mtrec.trainer_module import export, features
    from mtrec.trainer_module.model import LossWeights, MultiTaskRecommender

    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((max(16, int(np.sqrt(num_items))), dim)).astype(np.float32)
    model = MultiTaskRecommender(num_users=num_users, num_items=num_items, embedding_dim=dim,
                                 loss_weights=LossWeights(1.0, 0.0))
    oov = features.NUM_OOV_BUCKETS
    for tower, rows in ((model.item_tower, num_items), (model.user_tower, num_users)):
        tower(tf.constant([0], tf.int64))  # builds the embedding
        tower.embedding.set_weights([clustered(rng, rows + oov, dim, centers)])
    seen_counts = rng.integers(1, 2 * seen_per_user, num_users)
    seen_rows = [np.sort(rng.choice(num_items, count, replace=False)) for count in seen_counts]
    seen = tf.RaggedTensor.from_row_lengths(
        np.concatenate(seen_rows).astype(np.int64),
        np.append(seen_counts, np.zeros(oov, np.int64)).astype(np.int64))
    spec = {features.USER_ID: tf.io.FixedLenFeature([], tf.string),
            features.ITEM_ID: tf.io.FixedLenFeature([], tf.string)}
    items = [f"i{i}" for i in range(num_items)]
    module = export.RecommenderModule(
        model=model, user_vocabulary=[f"u{i}" for i in range(num_users)], item_vocabulary=items,
        seen_items=seen, item_titles={}, item_counts=rng.zipf(1.5, num_items).astype(np.float64),
        max_k=max_k, raw_feature_spec=spec, top_k_max_users=num_users)
    export.save(module, path, index_quality={})


def batch_memory_mib(version_dir: str, users: int, fast_path: bool) -> float:
    """Growth of this process's resident memory, in MiB, at its highest
    during one recommend call of `users` users (k = 100), over the memory
    after a one-user call. Sampled every millisecond, because the process's
    lifetime peak (ru_maxrss) is set by loading the model, not by the call."""
    import threading

    import psutil

    from mtrec.serving.loader import PushedModel

    process = psutil.Process()
    model = PushedModel(version_dir, fast_path=fast_path)
    ids = [f"u{i}" for i in range(users)]
    model.recommend(ids[:1], model.max_k)
    before = process.memory_info().rss
    highest = [before]
    finished = threading.Event()

    def sample():
        while not finished.wait(0.001):
            highest[0] = max(highest[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        model.recommend(ids, model.max_k)
    finally:
        finished.set()
        sampler.join()
    highest[0] = max(highest[0], process.memory_info().rss)
    return (highest[0] - before) / 2**20
