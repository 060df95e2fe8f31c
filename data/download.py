"""Download a MovieLens dataset from GroupLens, verify its MD5 and unpack it.

The zip is streamed in chunks to a temporary file in the output folder while
its MD5 is computed, verified, unpacked into a temporary folder and only then
renamed into place, so an interrupted or corrupt download never leaves a
half-written dataset behind. GroupLens publishes an MD5 next to each zip
(`<url>.md5`). The digests of the frozen releases (100K, 1M, 25M) are pinned
below; `ml-latest-small` changes over time, so its digest is fetched from
`<url>.md5` on the same server at download time and verified against that.

An unpacked dataset gets a `.mtrec-verified` file holding the MD5 it was
verified against; a later call finds it and does not download again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import os
import pathlib
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from typing import BinaryIO, Optional, Union

from rich import progress as rich_progress
from rich.console import Console

from mtrec.pipeline.runtime.errors import UserFacingError

GROUPLENS = "https://files.grouplens.org/datasets/movielens"
VERIFIED_MARK = ".mtrec-verified"
CHUNK_BYTES = 1 << 20
TIMEOUT_SECONDS = 60.0


class DownloadError(UserFacingError):
    """A download problem the user can fix (name, network, checksum, output folder)."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One downloadable dataset: `<base_url>/<archive>` unpacks to `<folder>/`."""

    name: str
    archive: str
    folder: str
    md5: Optional[str]  # None: read the digest from `<url>.md5` at download time

    def url(self, base_url: str = GROUPLENS) -> str:
        return f"{base_url.rstrip('/')}/{self.archive}"


# The pinned MD5s are GroupLens's published `<archive>.md5` values, as quoted in
# github.com/eli-osherovich/papers_with_code, datasets/movielens/dl_config.py
# (commit 3888fe1b); several independent repositories quote the same values.
DATASETS = {d.name: d for d in (
    Dataset("movielens-100k", "ml-100k.zip", "ml-100k", md5="0e33842e24a9c977be4e0107933c0723"),
    Dataset("movielens-latest-small", "ml-latest-small.zip", "ml-latest-small", md5=None),
    Dataset("movielens-1m", "ml-1m.zip", "ml-1m", md5="c4d9eecfca2ab87c1945afe126590906"),
    Dataset("movielens-25m", "ml-25m.zip", "ml-25m", md5="6b51fb2759a8657d3bfcbfc42b592ada"),
)}


@dataclasses.dataclass(frozen=True)
class Downloaded:
    """Where the dataset is, the MD5 it was verified against, and whether this call fetched it."""

    path: pathlib.Path
    md5: str
    downloaded: bool


def download(dataset: Union[str, Dataset], output: str, base_url: str = GROUPLENS) -> Downloaded:
    """Downloads, verifies and unpacks `dataset` into `<output>/<folder>`.

    `dataset` is a name from DATASETS or a Dataset (tests pass their own).
    `base_url` replaces GroupLens's for a mirror. Raises DownloadError for a
    problem the user can fix; nothing partial is left behind.
    """
    spec = _resolve(dataset)
    output_dir = pathlib.Path(output)
    target = output_dir / spec.folder
    mark = target / VERIFIED_MARK
    verified = mark.read_text().split()[0] if mark.is_file() else None
    if verified and spec.md5 in (None, verified):
        return Downloaded(target, verified, downloaded=False)
    if target.exists():
        raise DownloadError(f"{target} exists but is not a copy mtrec verified (no matching "
                            f"{VERIFIED_MARK}): remove it or choose another --output")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        partial = tempfile.NamedTemporaryFile(dir=output_dir, prefix=f".{spec.archive}.",
                                              suffix=".part", delete=False)
    except OSError as error:
        raise DownloadError(f"{output_dir}: cannot write there: {error.strerror}") from error

    url = spec.url(base_url)
    try:
        expected = spec.md5 or _published_md5(url + ".md5")
        actual = _stream(url, partial)
        partial.close()
        if actual != expected:
            raise DownloadError(f"{url}: checksum mismatch: expected MD5 {expected}, "
                                f"got {actual}")
        _unpack(pathlib.Path(partial.name), spec, actual, target)
    finally:
        partial.close()
        os.unlink(partial.name)
    return Downloaded(target, actual, downloaded=True)


def _resolve(dataset: Union[str, Dataset]) -> Dataset:
    if isinstance(dataset, Dataset):
        return dataset
    if dataset not in DATASETS:
        raise DownloadError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    return DATASETS[dataset]


def _open(url: str):
    """The response for `url`, or a DownloadError naming the URL."""
    try:
        return urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as error:
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from error
    except urllib.error.URLError as error:
        raise DownloadError(f"{url}: cannot connect: {error.reason}") from error
    except ValueError as error:  # urllib's "unknown url type"
        raise DownloadError(f"{url}: not a URL ({error}); --mirror takes e.g. "
                            f"https://host/path") from error
    except (OSError, http.client.HTTPException) as error:
        raise DownloadError(f"{url}: {error}") from error


def _published_md5(url: str) -> str:
    """The digest in a GroupLens `.md5` file: `MD5 (file) = HEX` or `HEX  file`."""
    with _open(url) as response:
        text = response.read(4096).decode("ascii", errors="replace")
    found = re.search(r"\b[0-9a-fA-F]{32}\b", text)
    if not found:
        raise DownloadError(f"{url}: no MD5 digest in {text[:80]!r}")
    return found.group(0).lower()


def _stream(url: str, destination: BinaryIO) -> str:
    """Copies `url` to `destination` in chunks (a progress bar on a terminal); returns the MD5."""
    md5, received = hashlib.md5(), 0
    with _open(url) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        columns = (rich_progress.TextColumn("{task.description}"), rich_progress.BarColumn(),
                   rich_progress.DownloadColumn(), rich_progress.TransferSpeedColumn(),
                   rich_progress.TimeRemainingColumn())
        size = f" ({total / 1e6:.1f} MB)" if total is not None else ""
        print(f"downloading {url}{size}", flush=True)
        plain = not sys.stdout.isatty()  # a pipe or a log gets the line above, no bar
        # disable= alone still writes a blank line to a non-terminal; a quiet console does not.
        with rich_progress.Progress(*columns, disable=plain, console=Console(quiet=plain)) as bar:
            task = bar.add_task(url.rsplit("/", 1)[-1], total=total)
            while True:
                try:
                    chunk = response.read(CHUNK_BYTES)
                except (OSError, http.client.HTTPException) as error:
                    raise DownloadError(f"{url}: download interrupted after {received} bytes: "
                                        f"{error}") from error
                if not chunk:
                    break
                try:
                    destination.write(chunk)
                except OSError as error:
                    raise DownloadError(f"{destination.name}: cannot write: "
                                        f"{error.strerror}") from error
                md5.update(chunk)
                received += len(chunk)
                bar.advance(task, len(chunk))
    # A sized read returns b"" rather than raising when the server closes the
    # connection before Content-Length bytes, so count them.
    if total is not None and received != total:
        raise DownloadError(f"{url}: download interrupted after {received} of {total} bytes")
    return md5.hexdigest()


def _unpack(archive: pathlib.Path, spec: Dataset, md5: str, target: pathlib.Path) -> None:
    """Unpacks the verified zip beside `target`, marks its folder, renames it to `target`."""
    folder = spec.folder
    staging = pathlib.Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{folder}."))
    try:
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(staging)  # zipfile drops absolute and '..' parts of member names
        unpacked = staging / folder
        if not unpacked.is_dir():
            raise DownloadError(f"{spec.archive}: the archive has no {folder}/ folder")
        (unpacked / VERIFIED_MARK).write_text(f"{md5}  {spec.archive}\n")
        unpacked.rename(target)
    finally:
        shutil.rmtree(staging)
