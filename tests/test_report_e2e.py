"""End to end: what a user sees of a run, from the terminal and the report.

One module-scoped pair of pipeline runs on the sample (the second changes
only the rating loss weight, so the data components come from the cache):
the run's progress and summary, `mtrec runs` / `mtrec show`, and the HTML
report, rendered in headless Chromium (Debian's `chromium`; `.ci/run`
installs it) to check that its plots load and its tables are there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html.parser
import io
import os
import re
import shutil
import subprocess

import pytest

from mtrec.pipeline import cli
from mtrec.pipeline.config import metadata_path
from mtrec.pipeline.runs.results import list_runs

pytestmark = pytest.mark.e2e  # runs the pipeline

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--hide-scrollbars", "--virtual-time-budget=10000"]


@dataclasses.dataclass
class Runs:
    root: str
    outputs: list


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    root = tmp_path_factory.mktemp("ux")
    base = ["run", "--pipeline-root", str(root / "pipeline"), "--serving-dir", str(root / "serving")]
    outputs = []
    for extra in ([], ["--set", "model.rating_weight=1.0", "--epochs", "4"]):
        # What a user's terminal (or a CI log) shows: everything on stdout.
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = cli.main(base + extra)
        outputs.append((code, buffer.getvalue()))
    return Runs(str(root / "pipeline"), outputs)


def _cli(capsys, *argv) -> str:
    assert cli.main(list(argv)) == 0
    return capsys.readouterr().out


def test_run_shows_progress_then_the_summary(runs):
    code, out = runs.outputs[0]
    assert code == 0, out
    # Progress: each component as it starts and ends, and the Trainer's epochs.
    assert re.search(r"\] ▶ Trainer", out) and re.search(r"\] ✓ Evaluator \(\d+\.\ds\)", out)
    assert re.search(r"Epoch 10/10", out) and "loss" in out
    # Summary: data per split, anomalies, components, evaluation, gate, push, times.
    data = out[out.index("Data (per split"):]
    assert re.search(r"│ train\s+│\s+[\d,]+ │\s+600 │\s+\d+ │", data), data[:600]
    assert re.search(r"│ eval\s+│", data)
    assert "Anomalies: none found by ExampleValidator." in out
    assert "Evaluation (held-out split" in out and "top_100_accuracy_seen_excluded" in out
    assert "Gate: BLESSED" in out
    assert re.search(r"Pushed model: version \d+ at ", out)
    assert "tensorboard --logdir " in out
    assert re.search(r"finished in \d+s", out)
    assert "mtrec report " in out


def test_runs_lists_both_runs_and_show_reads_one(runs, capsys):
    ids = list_runs(metadata_path(runs.root))
    assert len(ids) == 2
    listing = _cli(capsys, "runs", "--pipeline-root", runs.root)
    assert all(run_id in listing for run_id in ids)
    assert "blessed" in listing and "top_100_accuracy_seen_excluded" in listing
    shown = _cli(capsys, "show", ids[0], "--pipeline-root", runs.root)
    assert f"Run {ids[0]}" in shown and re.search(r"rating_weight\s*│\s*0\.1\b", shown), shown
    latest = _cli(capsys, "show", "--pipeline-root", runs.root)
    assert f"Run {ids[1]}" in latest and "cached" in latest


def test_show_names_an_unknown_run(runs, capsys):
    assert cli.main(["show", "no-such-run", "--pipeline-root", runs.root]) == cli.EXIT_USAGE
    assert "no run 'no-such-run'" in capsys.readouterr().err


class _Elements(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def count(self, tag, css=None):
        return sum(1 for t, a in self.tags if t == tag and (css is None or css in
                                                            a.get("class", "").split()))


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    assert cli.main(["report", "-o", str(path), "--pipeline-root", runs.root]) == 0
    return path


def test_report_has_every_section(report):
    page = report.read_text()
    elements = _Elements()
    elements.feed(page)
    for css in ("components", "counts", "feature-stats", "settings", "evaluation",
                "slice-user_activity", "slice-item_popularity", "tradeoff", "recommendations"):
        assert elements.count("table", css) >= 1, css
    # Histograms, training curves, two slice plots, the trade-off plot.
    assert elements.count("img", "plot") >= 5
    assert "http://" not in page and "https://" not in page  # self-contained
    assert re.search(r"<td>10-49</td>", page) and "<td>head</td>" in page
    # Recommendations carry titles from the sample's items.csv.
    assert re.search(r"<td>i\d{4}</td><td>[A-Z][^<]+\(\d{4}\)</td>", page)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs Debian's chromium package")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return found


def test_report_renders_in_headless_chromium(report, tmp_path):
    chromium = _chromium()
    # Count, after the page has loaded, the images that decoded to a real picture.
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text().replace(
        "</body>", "<script>window.onload = () => { document.body.dataset.loadedPlots = "
        "[...document.images].filter(i => i.complete && i.naturalWidth > 100).length; "
        "document.body.dataset.tables = document.querySelectorAll('table').length; };"
        "</script></body>"))
    flags = CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", probe.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    images = len(re.findall(r'<img class="plot"', dom))
    assert images >= 5
    assert f'data-loaded-plots="{images}"' in dom
    assert int(re.search(r'data-tables="(\d+)"', dom)[1]) >= 10
    screenshot = tmp_path / "report.png"
    subprocess.run([chromium, *flags, f"--screenshot={screenshot}", "--window-size=1200,1600",
                    report.as_uri()], capture_output=True, timeout=120, check=True)
    from PIL import Image

    with Image.open(screenshot) as image:
        assert image.size == (1200, 1600)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 50  # text and plots, not a blank page
