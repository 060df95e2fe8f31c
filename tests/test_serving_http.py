"""The HTTP server, for real: a pipeline run pushes a model, `mtrec serve` runs
as two worker processes on one loopback port, and every endpoint is called
over HTTP, bad requests included; then new versions are pushed under
concurrent load, and every worker must pick them up without failing a request."""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import portpicker
import pytest

from mtrec.serving.server import WORKER_HEADER
from mtrec.serving.versions import publish, published_versions

pytestmark = pytest.mark.e2e  # runs the pipeline

MODEL = "recommender"


WORKERS = 2


def _exchange(base: str, path: str, body=None, raw: bytes | None = None, timeout: float = 30):
    """(status, parsed JSON, answering worker's pid) of a GET, or of a POST when a
    body is given; each call opens a new connection, which the kernel gives to
    any of the workers."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(base + path, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read()), response.headers[WORKER_HEADER]
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers[WORKER_HEADER]


def _request(base: str, path: str, body=None, raw: bytes | None = None, timeout: float = 30):
    """(status, parsed JSON) of a GET, or of a POST when a body is given."""
    return _exchange(base, path, body, raw, timeout)[:2]


def _until_every_worker(base: str, path: str, holds, what: str, timeout: float = 60) -> None:
    """Asks `path` until the answers of all WORKERS workers satisfy `holds(body)`."""
    latest: dict = {}
    deadline = time.monotonic() + timeout
    while len(latest) < WORKERS or not all(holds(body) for body in latest.values()):
        assert time.monotonic() < deadline, f"not every worker {what} in {timeout} s: {latest}"
        _, body, worker = _exchange(base, path)
        latest[worker] = body
        time.sleep(0.05)


@pytest.fixture(scope="module")
def served(tmp_path_factory, sample_run):
    """A running server over a copy of the session's pushed sample model (these tests
    publish versions into it): (base URL, serving dir)."""
    assert sample_run.exit_code == 0, sample_run.output
    root = tmp_path_factory.mktemp("serving")
    shutil.copytree(sample_run.serving_dir, root / "serving")
    port = portpicker.pick_unused_port()
    mtrec = os.path.join(os.path.dirname(sys.executable), "mtrec")
    log = open(root / "serve.log", "w")
    process = subprocess.Popen([mtrec, "serve", "--port", str(port), "--poll-seconds", "0.5",
                                "--workers", str(WORKERS), "--serving-dir", str(root / "serving")],
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if _request(base, "/readyz")[0] == 200:
                break
        except (urllib.error.URLError, ConnectionError):
            pass
        assert process.poll() is None, (root / "serve.log").read_text()
        assert time.monotonic() < deadline, "the server did not become ready in 120 s"
        time.sleep(0.5)
    yield base, str(root / "serving")
    process.terminate()
    process.wait(timeout=30)
    log.close()


def test_health_readiness_and_status(served):
    base, serving_dir = served
    assert _request(base, "/healthz") == (200, {"status": "ok"})
    status, ready = _request(base, "/readyz")
    (version,) = published_versions(os.path.join(serving_dir, MODEL))
    assert status == 200 and ready["version"] == version
    status, body = _request(base, f"/v1/models/{MODEL}")
    assert status == 200
    assert body == {"model_version_status": [{"version": str(version), "state": "AVAILABLE",
                                              "status": {"error_code": "OK", "error_message": ""}}]}


def test_every_worker_answers_on_the_fast_path(served):
    base, _ = served
    _until_every_worker(base, "/readyz", lambda body: body["fast_path"] and body["worker_pid"] > 0,
                        "answered on the fast path")


def test_a_worker_that_dies_is_replaced(served):
    base, _ = served
    _, ready, worker = _exchange(base, "/readyz")
    os.kill(int(worker), signal.SIGKILL)
    latest: dict = {}
    deadline = time.monotonic() + 120
    while len(latest) < WORKERS:  # two live workers again, neither the killed one
        assert time.monotonic() < deadline, f"the killed worker was not replaced: {latest}"
        try:
            status, body, pid = _exchange(base, "/readyz")
        except (urllib.error.URLError, ConnectionError):
            continue  # a connection the dead worker had accepted
        if status == 200 and pid != worker:
            latest[pid] = body
        time.sleep(0.05)
    assert _request(base, "/recommend", {"users": ["u0001"], "k": 3})[0] == 200


def test_a_second_server_on_the_same_port_is_refused(served):
    base, serving_dir = served
    port = base.rsplit(":", 1)[1]
    mtrec = os.path.join(os.path.dirname(sys.executable), "mtrec")
    second = subprocess.run([mtrec, "serve", "--port", port, "--workers", "2",
                             "--serving-dir", serving_dir], capture_output=True, text=True,
                            timeout=120)
    assert second.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in second.stderr
    assert "Traceback" not in second.stderr


def test_tf_serving_predict_row_and_columnar(served):
    base, _ = served
    status, body = _request(base, f"/v1/models/{MODEL}:predict", {"instances": ["u0001", "u0002"]})
    assert status == 200 and len(body["predictions"]) == 2
    first = body["predictions"][0]
    assert len(first["item_ids"]) == 100 and len(first["titles"]) == 100 and len(first["scores"]) == 100
    status, body = _request(base, f"/v1/models/{MODEL}:predict", {
        "signature_name": "predict_rating",
        "instances": [{"user_id": "u0001", "item_id": "i0002"}]})
    assert status == 200 and isinstance(body["predictions"][0], float)  # one output: bare values
    status, body = _request(base, f"/v1/models/{MODEL}:predict", {
        "signature_name": "predict_rating", "inputs": {"user_id": ["u0001"], "item_id": ["i0002"]}})
    assert status == 200 and len(body["outputs"]["rating"]) == 1


def test_recommend_get_post_and_cold_start(served):
    base, _ = served
    status, body = _request(base, "/recommend?user=u0001&k=5")
    assert status == 200
    (result,) = body["recommendations"]
    assert result["user"] == "u0001" and not result["cold_start"] and len(result["items"]) == 5
    assert all(item["title"] for item in result["items"])
    status, with_seen = _request(base, "/recommend?user=u0001&k=5&exclude_seen=false")
    assert status == 200
    status, body = _request(base, "/recommend", {"users": ["u0001", "never-seen"], "k": 3})
    assert status == 200
    known, unknown = body["recommendations"]
    assert unknown["cold_start"] and len(unknown["items"]) == 3
    counts = [item["score"] for item in unknown["items"]]
    assert counts == sorted(counts, reverse=True)  # the most popular, by training count


def test_predict_and_similar_items(served):
    base, _ = served
    status, body = _request(base, "/predict", {"pairs": [{"user": "u0001", "item": "i0002"},
                                                         {"user": "new-user", "item": "i0002"}]})
    assert status == 200
    assert [p["cold_start"] for p in body["predictions"]] == [False, True]
    assert all(0.0 < p["rating"] < 6.0 for p in body["predictions"])
    status, body = _request(base, "/similar-items?item=i0001&k=4")
    assert status == 200 and len(body["items"]) == 4
    assert "i0001" not in [item["item_id"] for item in body["items"]]


@pytest.mark.parametrize("method,path,body,raw,status,message", [
    ("POST", "/recommend", None, b"{not json", 400, "not valid JSON"),
    ("POST", "/recommend", None, b"[1, 2]", 400, "must be a JSON object"),
    ("GET", "/recommend?user=u0001&k=0", None, None, 400, "k must be in 1..100"),
    ("GET", "/recommend?user=u0001&k=100000", None, None, 400, "k must be in 1..100"),
    ("GET", "/recommend?user=u0001&k=ten", None, None, 400, "k must be an integer"),
    ("GET", "/recommend", None, None, 400, "'user' query parameter is required"),
    ("POST", "/recommend", {"users": "u0001"}, None, 400, "non-empty list of ids"),
    ("POST", "/recommend", {"users": [1, 2]}, None, 400, "non-empty strings"),
    ("POST", "/recommend", {"users": ["u0001"], "k": 2.5}, None, 400, "k must be an integer"),
    ("POST", "/recommend", {"users": ["u0001"], "exclude_seen": "maybe"}, None, 400, "true or false"),
    ("POST", "/predict", {"pairs": [{"user": "u0001", "item": "no-such-item"}]}, None, 404, "unknown item"),
    ("POST", "/predict", {"pairs": [{"user": 1, "item": 2}]}, None, 400, "each pair must be"),
    ("GET", "/similar-items?item=no-such-item", None, None, 404, "unknown item"),
    ("GET", "/v1/models/other", None, None, 404, "model 'other' not found"),
    ("POST", "/v1/models/other:predict", {"instances": ["u1"]}, None, 404, "model 'other' not found"),
    ("POST", f"/v1/models/{MODEL}:classify", {"instances": ["u1"]}, None, 404, "expected <name>:predict"),
    ("POST", f"/v1/models/{MODEL}:predict", {}, None, 400, "exactly one of 'instances'"),
    ("POST", f"/v1/models/{MODEL}:predict", {"instances": ["u1"], "signature_name": "nope"}, None,
     400, "signature_name 'nope' not found"),
    ("POST", f"/v1/models/{MODEL}:predict", {"signature_name": "predict_rating",
                                              "instances": [{"user_id": "u1"}]}, None, 400, "missing input"),
    ("POST", f"/v1/models/{MODEL}:predict", {"instances": [[1, 2]]}, None, 400, "do not match signature"),
    # Shapes the signature cannot take: a nested list, a bare string, a number.
    ("POST", f"/v1/models/{MODEL}:predict", {"instances": [["u1", "u2"]]}, None, 400,
     "input 'user_id' has shape [1, 2]"),
    ("POST", f"/v1/models/{MODEL}:predict", {"inputs": {"user_id": "u1"}}, None, 400,
     "input 'user_id' has shape []"),
    ("POST", f"/v1/models/{MODEL}:predict", {"inputs": {"user_id": 7}}, None, 400,
     "do not match signature"),
    ("GET", "/no/such/path", None, None, 404, "Not Found"),
])
def test_bad_requests_get_a_clear_4xx(served, method, path, body, raw, status, message):
    base, _ = served
    if method == "POST" and body is None and raw is None:
        raw = b"{}"
    got, answer = _request(base, path, body=body, raw=raw)
    assert got == status, answer
    assert message in answer["error"]


def test_version_switch_under_load_drops_nothing(served, tmp_path):
    base, serving_dir = served
    model_base = os.path.join(serving_dir, MODEL)
    (old,) = published_versions(model_base)
    retrained = tmp_path / "retrained"  # a second model to publish (same files, new source)
    shutil.copytree(os.path.join(model_base, str(old)), retrained)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"this is not a SavedModel")

    stop = threading.Event()
    outcomes: list[tuple[int, int]] = []

    def client():
        while not stop.is_set():
            status, body = _request(base, "/recommend", {"users": ["u0001", "u0002"], "k": 10})
            outcomes.append((status, body.get("model_version", -1)))

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        clients = [pool.submit(client) for _ in range(8)]
        time.sleep(1.0)
        new = int(os.path.basename(publish(str(retrained), model_base)))
        _until_every_worker(base, "/readyz", lambda body: body["version"] == new,
                            "picked up the new version")
        time.sleep(1.0)
        bad = int(os.path.basename(publish(str(broken), model_base)))
        _until_every_worker(base, f"/v1/models/{MODEL}", lambda body: any(
            s["version"] == str(bad) for s in body["model_version_status"]),
            "tried the broken version")
        time.sleep(1.0)
        stop.set()
        for future in clients:
            future.result()

    failures = [o for o in outcomes if o[0] != 200]
    assert not failures, failures[:5]
    versions = {version for _, version in outcomes}
    assert versions == {old, new}, versions  # served both, never the broken one
    expected = {str(new): "AVAILABLE", str(bad): "END"}
    _until_every_worker(base, f"/v1/models/{MODEL}", lambda body: {
        s["version"]: s["state"] for s in body["model_version_status"]} == expected,
        "reported the broken version and kept the good one", timeout=5)
    _until_every_worker(base, "/readyz", lambda body: body["version"] == new,
                        "still serves the good version", timeout=5)


def test_wrk_load_closed_and_open_loop(served, tmp_path):
    """The benchmark's load generator (wrk and its Lua script) against the server."""
    from mtrec.benchmarks import http_load

    if not shutil.which("wrk"):
        if os.environ.get("CI"):
            pytest.fail("wrk is not installed: .ci/run installs Debian's wrk package")
        pytest.skip("wrk not installed (apt-get install wrk)")
    base, _ = served
    users = http_load.users_file(["u0001", "u0002", "u0003", "never-seen"], str(tmp_path))
    closed = http_load.run_wrk(base, users, 8, 2, "closed")
    assert closed.requests > 50 and closed.errors == 0
    assert 0 < closed.p50_ms <= closed.p99_ms <= closed.max_ms
    paced = http_load.run_wrk(base, users, 10, 3, "open", rate=100.0)
    assert paced.errors == 0 and paced.target_rate == 100.0
    assert 240 <= paced.requests <= 330, paced  # 100/s for 3 s, give or take a request each
    assert 0 < paced.p50_ms <= paced.p99_ms
