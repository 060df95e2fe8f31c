"""`mtrec bench serving`: the ScaNN index against brute force, and HTTP under load.

Part 1, in-process. Item embeddings at 10k, 100k and 1M items (d = 32 and
64) are drawn from a mixture of Gaussians (real embeddings cluster; uniform
noise would flatter neither method), queries from the same mixture. For each
size, the index the exporter would build (ScannSettings.for_corpus, k = 100)
and the TFRS BruteForce layer, the reference, are both wrapped in
tf.function, as in the SavedModel, and measured on the same queries:
recall@100 of ScaNN against brute force, single-query p50/p99 latency, and
throughput on batches of 1,000 queries.

Part 2, over HTTP (benchmarks/http_load.py): `mtrec serve` over a copy of
the newest pushed model, loaded by wrk: the SavedModel signatures in one
process as the reference, then the fast path in one worker per core at 1,
50 and 200 connections (closed loop), at fixed arrival rates (open loop),
across a version switch, and over a synthetic 1M-item model
(benchmarks/synthetic_model.py).
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import tempfile
import time
from typing import Dict, List, Optional

import numpy as np
import scann  # noqa: F401
import tensorflow as tf
import tensorflow_recommenders as tfrs

from mtrec.benchmarks import http_load
from mtrec.benchmarks.http_load import LoadResult
from mtrec.trainer_module.index import ScannSettings, build_scann_index, recall_against_exact

K = 100
SINGLE_QUERIES = 300
BATCH = 1000
OPEN_CONNECTIONS = 10  # wrk connections (and threads) of the open-loop runs


@dataclasses.dataclass
class IndexRow:
    items: int
    dim: int
    method: str
    recall: Optional[float]
    p50_ms: float
    p99_ms: float
    batch_qps: float
    build_s: float


def clustered(rng: np.random.Generator, rows: int, dim: int, centers: np.ndarray) -> np.ndarray:
    """Points around randomly chosen centers (noise 0.5 of the center spread)."""
    chosen = centers[rng.integers(0, len(centers), rows)]
    return (chosen + 0.5 * rng.standard_normal((rows, dim))).astype(np.float32)


def _latencies(search, queries: np.ndarray) -> List[float]:
    search(queries[:1])  # trace once
    times = []
    for row in queries:
        start = time.perf_counter()
        search(row[None, :])
        times.append((time.perf_counter() - start) * 1000)
    return times


def _throughput(search, queries: np.ndarray) -> float:
    search(queries)
    start = time.perf_counter()
    search(queries)
    return len(queries) / (time.perf_counter() - start)


def bench_index(items: int, dim: int, seed: int = 0) -> List[IndexRow]:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((max(16, int(np.sqrt(items))), dim)).astype(np.float32)
    corpus = clustered(rng, items, dim, centers)
    queries = clustered(rng, BATCH, dim, centers)

    start = time.perf_counter()
    brute = tfrs.layers.factorized_top_k.BruteForce(k=K)
    brute.index(tf.constant(corpus))
    brute_build = time.perf_counter() - start
    start = time.perf_counter()
    settings = ScannSettings.for_corpus(items, K)
    index = build_scann_index(tf.constant(corpus), settings)
    scann_build = time.perf_counter() - start

    brute_search = tf.function(lambda q: brute(q)[1])
    scann_search = tf.function(lambda q: index(q)[1])
    exact = brute_search(tf.constant(queries)).numpy()
    approximate = scann_search(tf.constant(queries)).numpy()
    rows = []
    for method, search, recall, build in (
            ("brute force (TFRS BruteForce)", brute_search, None, brute_build),
            (f"ScaNN ({settings.num_leaves} leaves, {settings.num_leaves_to_search} searched, "
             f"reorder {settings.num_reordering_candidates})", scann_search,
             recall_against_exact(approximate, exact), scann_build)):
        latencies = _latencies(search, queries[:SINGLE_QUERIES])
        rows.append(IndexRow(items, dim, method, recall, statistics.median(latencies),
                             float(np.percentile(latencies, 99)), _throughput(search, queries), build))
    return rows


@dataclasses.dataclass
class HttpReport:
    """Part 2's measurements."""

    model: str                    # what was served
    workers: int
    reference: LoadResult         # the SavedModel signatures in one process, 50 connections
    closed: List[LoadResult]      # the fast path, `workers` processes
    open: List[LoadResult]
    switch: LoadResult
    switch_seconds: Optional[float]  # publish -> every worker on the new version; None: never
    memory_mib: List[float]       # resident set per worker after the runs
    large: Optional[LoadResult]   # the same server over a synthetic model with `large_items` items
    large_items: int
    large_memory_mib: List[float]
    batch_growth_mib: Dict[str, float]  # peak growth of a 512-user recommend call, per path


def in_fresh_process(function, *args):
    """function(*args) in a spawned process, which ends with the call."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def bench_http(serving_dir: str, model_name: str, seconds: float = 15.0,
               large_items: int = 1_000_000, workers: Optional[int] = None) -> HttpReport:
    """Part 2 over the newest pushed model (and a synthetic `large_items`-item
    model, 0 to skip it); each wrk run lasts `seconds`."""
    from mtrec.benchmarks import synthetic_model
    from mtrec.serving.loader import PushedModel, latest_version_dir

    workers = workers or os.cpu_count() or 1
    http_load.require_wrk()
    newest = latest_version_dir(serving_dir, model_name)
    with tempfile.TemporaryDirectory(prefix="mtrec-bench-serving-") as folder:
        served_dir = http_load.private_copy(newest, folder, model_name)
        users = http_load.users_file(PushedModel(newest).embedding_table("user")[0], folder)
        print("HTTP: the SavedModel signatures, 1 process (the reference) ...", flush=True)
        with http_load.served(served_dir, model_name, 1, fast_path=False) as server:
            http_load.run_wrk(server.base, users, 50, 3, "warm-up")
            reference = http_load.run_wrk(server.base, users, 50, seconds,
                                          "SavedModel signatures, 1 process")
        print(f"HTTP: the fast path, {workers} workers ...", flush=True)
        with http_load.served(served_dir, model_name, workers, fast_path=True) as server:
            http_load.run_wrk(server.base, users, 50, 3, "warm-up")
            closed = [http_load.run_wrk(server.base, users, c, seconds, "closed loop")
                      for c in (1, 50, 200)]
            best = max(result.rate for result in closed)
            # An open loop needs only the connections its rate keeps busy (2,000/s
            # at ~1 ms is 2 in flight); each is a wrk thread on the server's cores.
            open_loop = [http_load.run_wrk(server.base, users, connections, seconds, label,
                                           rate=rate)
                         for label, rate, connections in (
                             (f"50% of the max ({best:,.0f}/s)", 0.5 * best, OPEN_CONNECTIONS),
                             (f"80% of the max ({best:,.0f}/s)", 0.8 * best, OPEN_CONNECTIONS),
                             ("2,000/s", 2000.0, OPEN_CONNECTIONS),
                             ("2,000/s", 2000.0, 50))]
            switch, switch_seconds = http_load.switch_during_load(server, served_dir, model_name,
                                                              users, seconds)
            memory = server.worker_memory_mib()
        large, large_memory, growth = None, [], {}
        if large_items:
            print(f"HTTP: a synthetic {large_items:,}-item model ...", flush=True)
            large_dir = os.path.join(folder, "large", model_name, "1")
            in_fresh_process(synthetic_model.build, large_dir, large_items, 10_000)
            large_users = http_load.users_file([f"u{i}" for i in range(10_000)],
                                               os.path.join(folder, "large"))
            with http_load.served(os.path.join(folder, "large"), model_name, workers,
                                  fast_path=True) as server:
                http_load.run_wrk(server.base, large_users, 50, 3, "warm-up")
                large = http_load.run_wrk(server.base, large_users, 50, seconds, "closed loop")
                large_memory = server.worker_memory_mib()
            growth = {path: in_fresh_process(synthetic_model.batch_memory_mib, large_dir, 512,
                                              path == "fast path")
                      for path in ("fast path", "SavedModel signature")}
    return HttpReport(os.path.basename(os.path.dirname(newest)) + "/" + os.path.basename(newest),
                      workers, reference, closed, open_loop, switch, switch_seconds, memory, large,
                      large_items, large_memory, growth)


def _load_row(configuration: str, result: LoadResult) -> str:
    target = f"{result.target_rate:,.0f}" if result.target_rate else "closed loop"
    return (f"| {configuration} | {result.connections} | {target} | {result.requests:,} | "
            f"{result.rate:,.0f} | {result.p50_ms:.2f} | {result.p99_ms:.2f} | "
            f"{result.max_ms:.1f} | {result.errors} |")


def _render_http(report: HttpReport) -> List[str]:
    fast = f"fast path, {report.workers} workers"
    lines = ["", f"HTTP: `mtrec serve` on loopback over the pushed model {report.model}, "
             "`POST /recommend` (one user, k = 10) from wrk (`benchmarks/wrk/recommend.lua`) "
             "on the same cores. Closed loop: each connection sends when its last answer "
             "came. Open loop: requests due at a fixed rate, latency from each request's "
             "intended start. The reference is the SavedModel's `recommend` signature in one "
             "process (`--workers 1 --no-fast-path`, the path TF Serving takes).", "",
             "| server | connections | target req/s | requests | req/s | p50 ms | p99 ms | max ms | errors |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
             _load_row("SavedModel signatures, 1 process (reference)", report.reference)]
    lines += [_load_row(fast, result) for result in report.closed]
    lines += [_load_row(f"{fast}, open loop at {result.label}", result) for result in report.open]
    lines.append(_load_row(f"{fast}, a new version published during the run", report.switch))
    if report.large is not None:
        lines.append(_load_row(f"{fast}, synthetic {report.large_items:,}-item model",
                               report.large))
    memory = ", ".join(f"{m:,.0f}" for m in report.memory_mib)
    switched = (f"{report.switch_seconds:.1f} s after it was published"
                if report.switch_seconds is not None
                else f"NOT within {http_load.SWITCH_PATIENCE_S:.0f} s of its publication")
    lines += ["", f"- Version switch: every worker served the new version {switched}; "
              f"failed requests during the run: {report.switch.errors}.",
              f"- Resident memory per worker: {memory} MiB."]
    if report.large is not None:
        large = ", ".join(f"{m:,.0f}" for m in report.large_memory_mib)
        growth = "; ".join(f"{path} {mib:,.0f} MiB" for path, mib in report.batch_growth_mib.items())
        lines += [f"- At {report.large_items:,} items: {large} MiB per worker; one 512-user "
                  f"recommend call (k = 100) took, at its highest, this much resident "
                  f"memory above a one-user call: {growth}."]
    return lines


def render(index_rows: List[IndexRow], http: Optional[HttpReport], machine: str) -> str:
    lines = ["## Serving: ScaNN index against brute force, and HTTP under load", "",
             f"`mtrec bench serving`, {machine}. Synthetic clustered embeddings (see "
             "`benchmarks/serving.py`); k = 100; single-query latency over "
             f"{SINGLE_QUERIES} queries, throughput on batches of {BATCH}.", "",
             "| items | d | method | recall@100 | p50 ms | p99 ms | batch queries/s | build s | speed-up p50 |",
             "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for brute, approx in zip(index_rows[::2], index_rows[1::2]):
        for row in (brute, approx):
            speedup = brute.p50_ms / row.p50_ms
            recall = "1 (reference)" if row.recall is None else f"{row.recall:.4f}"
            lines.append(f"| {row.items:,} | {row.dim} | {row.method} | {recall} | {row.p50_ms:.2f} | "
                         f"{row.p99_ms:.2f} | {row.batch_qps:,.0f} | {row.build_s:.1f} | {speedup:.1f}× |")
    if http:
        lines += _render_http(http)
    lines += ["", "Goals (issue 5): recall ≥ 0.95; ≥ 5× faster than brute force at 1M items; "
              "in-process p50 ≤ 2 ms. Goals (issue 19): 50 connections p99 ≤ 20 ms and "
              "≥ 5,000 req/s with 0 errors; open loop at 2,000 req/s p99 ≤ 10 ms; 1M items "
              "p99 ≤ 30 ms at 50 connections; 0 failed requests across a version switch.", ""]
    return "\n".join(lines)
