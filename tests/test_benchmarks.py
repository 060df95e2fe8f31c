"""Benchmark plumbing: the markdown section writer and the index benchmark's
measurements at a small size. Speed itself is never asserted in tests."""

from mtrec.benchmarks import report, serving


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
