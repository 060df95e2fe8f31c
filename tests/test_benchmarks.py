"""Benchmark plumbing: the markdown section writer and the index benchmark's
measurements at a small size. Speed itself is never asserted in tests."""

from mtrec.benchmarks import http_load, report, serving


def test_write_section_replaces_its_own_section_only(tmp_path):
    path = str(tmp_path / "benchmarks.md")
    report.write_section(path, "## Serving\n\nfirst run\n")
    report.write_section(path, "## Quality\n\nquality table\n")
    report.write_section(path, "## Serving\n\nsecond run\n")
    text = open(path).read()
    assert text.startswith("# Benchmarks")
    assert "second run" in text and "first run" not in text
    assert "quality table" in text
    assert text.count("## Serving") == 1


def test_index_benchmark_measures_both_methods():
    brute, approximate = serving.bench_index(items=2000, dim=8)
    assert brute.method.startswith("brute force") and brute.recall is None
    assert approximate.method.startswith("ScaNN")
    assert 0.95 <= approximate.recall <= 1.0  # a small corpus is searched exhaustively
    for row in (brute, approximate):
        assert 0 < row.p50_ms <= row.p99_ms and row.batch_qps > 0
    table = serving.render([brute, approximate], None, "test machine")
    assert "| 2,000 | 8 | brute force" in table and "1 (reference)" in table


def _load(label, connections, rate=None, errors=0):
    return http_load.LoadResult(label, connections, rate, requests=1000, seconds=2.0,
                                errors=errors, p50_ms=1.0, p99_ms=5.0, max_ms=9.0)


def _http_report(switch_seconds):
    return serving.HttpReport(
        model="recommender/1", workers=2, reference=_load("reference", 50),
        closed=[_load("closed loop", c) for c in (1, 50, 200)],
        open=[_load("2,000/s", 10, rate=2000.0)], switch=_load("switch", 50, errors=3),
        switch_seconds=switch_seconds, memory_mib=[600.0, 610.0], large=_load("large", 50),
        large_items=1_000_000, large_memory_mib=[2300.0, 2301.0],
        batch_growth_mib={"fast path": 6.0, "SavedModel signature": 30.0})


def test_http_report_shows_every_run_and_a_switch_that_never_came():
    table = serving.render([], _http_report(switch_seconds=None), "test machine")
    assert "| SavedModel signatures, 1 process (reference) | 50 | closed loop | 1,000 | 500 |" in table
    assert "| fast path, 2 workers, open loop at 2,000/s | 10 | 2,000 |" in table
    assert "synthetic 1,000,000-item model" in table
    assert "NOT within 60 s" in table and "failed requests during the run: 3." in table
    assert "fast path 6 MiB; SavedModel signature 30 MiB" in table
    switched = serving.render([], _http_report(switch_seconds=4.25), "test machine")
    assert "every worker served the new version 4.2 s after it was published" in switched
