"""`mtrec data download` against a real local HTTP server serving zips the
tests build themselves (no network, no MovieLens files)."""

from __future__ import annotations

import collections
import hashlib
import http.server
import os
import pathlib
import subprocess
import sys
import threading
import zipfile

import pytest

from mtrec.data.download import VERIFIED_MARK, Dataset, DownloadError, download

U_DATA = "1\t10\t4\t881250949\n2\t20\t3\t891717742\n"


def _fake_zip(path: pathlib.Path, folder: str, files: dict) -> bytes:
    """A small zip laid out like GroupLens's (every file under `folder/`), written to `path`."""
    path.parent.mkdir(exist_ok=True)
    with zipfile.ZipFile(path, "w") as zipped:
        for name, text in files.items():
            zipped.writestr(f"{folder}/{name}", text)
    return path.read_bytes()


class _Server:
    """A ThreadingHTTPServer on a free loopback port serving `files` (path -> bytes)."""

    def __init__(self):
        self.files: dict = {}
        self.requests = collections.Counter()
        self.truncate: set = set()  # paths answered with a Content-Length larger than the body
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests[self.path] += 1
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                length = len(body) * 2 if self.path in server.truncate else len(body)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/movielens"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    running = _Server()
    yield running
    running.close()


@pytest.fixture
def ml100k(tmp_path, server):
    """A fake ml-100k.zip on the server; returns a Dataset spec pinned to its MD5."""
    body = _fake_zip(tmp_path / "served" / "ml-100k.zip", "ml-100k",
                     {"u.data": U_DATA, "u.item": "10|Ten (1990)|\n", "README": "fake\n"})
    server.files["/movielens/ml-100k.zip"] = body
    return Dataset("movielens-100k", "ml-100k.zip", "ml-100k", md5=hashlib.md5(body).hexdigest())


def test_download_verifies_and_unpacks(tmp_path, server, ml100k):
    output = tmp_path / "out"
    result = download(ml100k, str(output), base_url=server.url)
    assert result.downloaded and result.md5 == ml100k.md5
    assert result.path == output / "ml-100k"
    assert (result.path / "u.data").read_text() == U_DATA
    assert (result.path / VERIFIED_MARK).read_text() == f"{ml100k.md5}  ml-100k.zip\n"
    assert sorted(p.name for p in output.iterdir()) == ["ml-100k"]  # no zip, no temp files


def test_checksum_mismatch_names_both_digests_and_leaves_nothing(tmp_path, server, ml100k):
    output = tmp_path / "out"
    wrong = Dataset(ml100k.name, ml100k.archive, ml100k.folder, md5="0" * 32)
    with pytest.raises(DownloadError) as raised:
        download(wrong, str(output), base_url=server.url)
    message = str(raised.value)
    assert f"{server.url}/ml-100k.zip" in message
    assert f"expected MD5 {'0' * 32}, got {ml100k.md5}" in message
    assert list(output.iterdir()) == []


def test_second_call_does_not_download_again(tmp_path, server, ml100k):
    first = download(ml100k, str(tmp_path / "out"), base_url=server.url)
    second = download(ml100k, str(tmp_path / "out"), base_url=server.url)
    assert first.downloaded and not second.downloaded
    assert second.path == first.path and second.md5 == ml100k.md5
    assert server.requests["/movielens/ml-100k.zip"] == 1


def test_unverified_folder_in_the_way_is_not_overwritten(tmp_path, server, ml100k):
    mine = tmp_path / "out" / "ml-100k"
    mine.mkdir(parents=True)
    (mine / "mine.txt").write_text("keep me")
    with pytest.raises(DownloadError, match="ml-100k exists but is not a copy mtrec verified"):
        download(ml100k, str(tmp_path / "out"), base_url=server.url)
    assert [p.name for p in mine.iterdir()] == ["mine.txt"]
    assert server.requests["/movielens/ml-100k.zip"] == 0


def test_http_404_names_the_url(tmp_path, server):
    missing = Dataset("movielens-1m", "ml-1m.zip", "ml-1m", md5="0" * 32)
    with pytest.raises(DownloadError, match=rf"^{server.url}/ml-1m.zip: HTTP 404 Not Found$"):
        download(missing, str(tmp_path), base_url=server.url)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_server_names_the_url(tmp_path, server, ml100k):
    url = server.url
    server.close()
    with pytest.raises(DownloadError, match=rf"^{url}/ml-100k.zip: cannot connect"):
        download(ml100k, str(tmp_path), base_url=url)


def test_interrupted_download_leaves_no_partial_file(tmp_path, server, ml100k):
    server.truncate.add("/movielens/ml-100k.zip")
    size = len(server.files["/movielens/ml-100k.zip"])
    with pytest.raises(DownloadError, match=rf"ml-100k.zip: download interrupted after {size} "
                                            rf"of {2 * size} bytes"):
        download(ml100k, str(tmp_path / "out"), base_url=server.url)
    assert list((tmp_path / "out").iterdir()) == []


def test_unpinned_digest_is_read_from_the_servers_md5_file(tmp_path, server, ml100k):
    unpinned = Dataset(ml100k.name, ml100k.archive, ml100k.folder, md5=None)
    server.files["/movielens/ml-100k.zip.md5"] = f"MD5 (ml-100k.zip) = {ml100k.md5}\n".encode()
    result = download(unpinned, str(tmp_path / "out"), base_url=server.url)
    assert result.downloaded and result.md5 == ml100k.md5
    server.files["/movielens/ml-100k.zip.md5"] = b"MD5 (ml-100k.zip) = " + b"f" * 32 + b"\n"
    with pytest.raises(DownloadError, match=f"expected MD5 {'f' * 32}, got {ml100k.md5}"):
        download(unpinned, str(tmp_path / "again"), base_url=server.url)


def test_unknown_name_and_unwritable_output(tmp_path):
    with pytest.raises(DownloadError, match="unknown dataset 'movielens-7'; known: "
                                            "movielens-100k, movielens-latest-small"):
        download("movielens-7", str(tmp_path))
    (tmp_path / "a-file").write_text("")
    with pytest.raises(DownloadError, match="a-file/out: cannot write there"):
        download("movielens-100k", str(tmp_path / "a-file" / "out"))


def test_pinned_digests_are_md5_hex():
    from mtrec.data.download import DATASETS

    assert set(DATASETS) == {"movielens-100k", "movielens-latest-small", "movielens-1m",
                             "movielens-25m"}
    for spec in DATASETS.values():
        assert spec.url() == f"https://files.grouplens.org/datasets/movielens/{spec.archive}"
        assert spec.md5 is None or (len(spec.md5) == 32 and int(spec.md5, 16) >= 0)


def _mtrec(*args: str) -> subprocess.CompletedProcess:
    mtrec = os.path.join(os.path.dirname(sys.executable), "mtrec")
    return subprocess.run([mtrec, *args], capture_output=True, text=True, timeout=120)


def test_cli_download_from_a_mirror(tmp_path, server):
    body = _fake_zip(tmp_path / "served" / "ml-latest-small.zip", "ml-latest-small",
                     {"ratings.csv": "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n"})
    digest = hashlib.md5(body).hexdigest()
    server.files["/movielens/ml-latest-small.zip"] = body
    server.files["/movielens/ml-latest-small.zip.md5"] = \
        f"MD5 (ml-latest-small.zip) = {digest}\n".encode()
    output = tmp_path / "out"
    completed = _mtrec("data", "download", "movielens-latest-small", "--mirror", server.url,
                       "--output", str(output))
    assert completed.returncode == 0, completed.stderr
    assert f"verified (MD5 {digest}) and unpacked to {output}/ml-latest-small" in completed.stdout
    assert (output / "ml-latest-small" / "ratings.csv").is_file()
    again = _mtrec("data", "download", "movielens-latest-small", "--mirror", server.url,
                   "--output", str(output))
    assert again.returncode == 0 and "not downloading again" in again.stdout
    assert server.requests["/movielens/ml-latest-small.zip"] == 1


def test_cli_checks_the_pinned_digest_and_rejects_unknown_names(tmp_path, server, ml100k):
    # The fake zip is not GroupLens's, so the pinned MD5 of ml-100k.zip rejects it.
    completed = _mtrec("data", "download", "movielens-100k", "--mirror", server.url,
                       "--output", str(tmp_path / "out"))
    assert completed.returncode == 2
    assert completed.stderr == (f"mtrec data: error: {server.url}/ml-100k.zip: checksum mismatch: "
                                f"expected MD5 0e33842e24a9c977be4e0107933c0723, "
                                f"got {ml100k.md5}\n")
    assert list((tmp_path / "out").iterdir()) == []
    unknown = _mtrec("data", "download", "movielens-7", "--output", str(tmp_path))
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert "unknown dataset 'movielens-7'" in unknown.stderr
