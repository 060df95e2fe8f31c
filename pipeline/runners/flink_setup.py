"""Installs what the FlinkRunner needs into a cache folder: a Flink 1.18.1
distribution and Beam 2.59's Flink job server.

Both come from the registries this project can reach:

- Flink 1.18.1 from PyPI, without installing PyFlink (it pins an old Beam):
  `bin/` and `conf/` from the `apache-flink` wheel, `lib/`, `opt/`,
  `plugins/` and `bin/bash-java-utils.jar` from the `apache-flink-libraries`
  source archive. Both downloads are checked against their sha256.
- The job server jar built with Maven from `flink_jobserver/pom.xml` beside
  this module: Maven Central as reached here does not serve
  `beam-runners-flink-1.18-job-server:2.59.0`, so the pom shades the same
  runner (`beam-runners-flink-1.16:2.59.0`, whose sources Beam 2.59 shares
  for Flink 1.16 to 1.18) with Flink 1.18.1's client libraries. The jar is
  checked for the job server's main class.

Each step is skipped when its result is already in the cache.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import tarfile
import zipfile
from typing import Callable

from mtrec.pipeline.code_version import file_sha256
from mtrec.pipeline.runtime.errors import UserFacingError

FLINK_VERSION = "1.18.1"
_WHEEL = "apache_flink-1.18.1-cp310-cp310-manylinux1_x86_64.whl"
_LIBRARIES = "apache-flink-libraries-1.18.1.tar.gz"
_SHA256 = {
    _WHEEL: "f93cbc4d88e39135dd59d7d7cc2e2252dec4017c4943dd8ab62e117e953a2d15",
    _LIBRARIES: "369ce11ab33e5e15cdd349db2f5412dcc2fad163b6a87aa93b927a3631bcca7f",
}
JOB_SERVER_JAR = "beam-flink-1.18-job-server-2.59.0.jar"
_JOB_SERVER_MAIN = "org/apache/beam/runners/flink/FlinkJobServerDriver.class"
POM = pathlib.Path(__file__).resolve().parent / "flink_jobserver" / "pom.xml"


class FlinkSetupError(UserFacingError):
    """A download failed its checksum, or a tool the setup needs is missing."""


def flink_home(cache_dir: pathlib.Path) -> pathlib.Path:
    return cache_dir / f"flink-{FLINK_VERSION}"


def job_server_jar(cache_dir: pathlib.Path) -> pathlib.Path:
    return cache_dir / JOB_SERVER_JAR


def is_installed(cache_dir: pathlib.Path) -> bool:
    return (flink_home(cache_dir) / "lib" / f"flink-dist-{FLINK_VERSION}.jar").is_file() and \
        job_server_jar(cache_dir).is_file()


def _run(command: list, what: str) -> None:
    """Runs a setup command; its output is shown only when it fails."""
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0:
        raise FlinkSetupError(f"{what} failed (exit {finished.returncode}): "
                              f"{' '.join(map(str, command))}\n{finished.stdout[-3000:]}"
                              f"{finished.stderr[-3000:]}")


def _download(cache_dir: pathlib.Path, progress: Callable[[str], None]) -> None:
    downloads = cache_dir / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(downloads)]
    if not (downloads / _WHEEL).is_file():
        progress(f"downloading apache-flink=={FLINK_VERSION} (bin/, conf/) from PyPI")
        _run(pip + ["--python-version", "3.10", "--platform", "manylinux1_x86_64",
                    "--only-binary=:all:", f"apache-flink=={FLINK_VERSION}"], "pip download")
    if not (downloads / _LIBRARIES).is_file():
        progress(f"downloading apache-flink-libraries=={FLINK_VERSION} (lib/) from PyPI")
        _run(pip + ["--no-build-isolation", f"apache-flink-libraries=={FLINK_VERSION}"],
             "pip download")
    for name, expected in _SHA256.items():
        actual = file_sha256(str(downloads / name))
        if actual != expected:
            (downloads / name).unlink()
            raise FlinkSetupError(f"{downloads / name}: sha256 {actual}, expected {expected}; "
                                  "the file was removed, run the setup again")


def _assemble(cache_dir: pathlib.Path, progress: Callable[[str], None]) -> None:
    """FLINK_HOME from the two downloads, written to a staging folder and renamed."""
    home = flink_home(cache_dir)
    staging = cache_dir / f".{home.name}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    progress(f"assembling {home}")
    unpacked = cache_dir / ".unpacked"
    shutil.rmtree(unpacked, ignore_errors=True)
    with zipfile.ZipFile(cache_dir / "downloads" / _WHEEL) as wheel:
        wheel.extractall(unpacked / "wheel")
    with tarfile.open(cache_dir / "downloads" / _LIBRARIES) as archive:
        archive.extractall(unpacked / "libraries")
    pyflink = unpacked / "wheel" / "pyflink"
    deps = unpacked / "libraries" / f"apache-flink-libraries-{FLINK_VERSION}" / "deps"
    shutil.copytree(pyflink / "bin", staging / "bin")
    shutil.copytree(pyflink / "conf", staging / "conf")
    for folder in ("lib", "opt", "plugins"):
        shutil.copytree(deps / folder, staging / folder)
    shutil.copy(deps / "bin" / "bash-java-utils.jar", staging / "bin")
    (staging / "bin" / "find-flink-home.sh").unlink(missing_ok=True)  # PyFlink's, not ours
    for script in (staging / "bin").iterdir():
        script.chmod(0o755)
    (staging / "log").mkdir()
    shutil.rmtree(unpacked)
    shutil.rmtree(home, ignore_errors=True)
    staging.rename(home)


def _build_job_server(cache_dir: pathlib.Path, progress: Callable[[str], None]) -> None:
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise FlinkSetupError("the Flink job server is built with Maven and Java 17: install "
                              "them (Debian: apt-get install maven openjdk-17-jdk-headless)")
    progress(f"building {JOB_SERVER_JAR} with Maven (pipeline/runners/flink_jobserver/pom.xml)")
    build = cache_dir / "jobserver-build"
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    shutil.copy(POM, build / "pom.xml")
    _run(["mvn", "-B", "-q", f"-Dmaven.repo.local={cache_dir / 'm2'}", "-f",
          str(build / "pom.xml"), "package"], "the job server build")
    built = build / "target" / JOB_SERVER_JAR
    with zipfile.ZipFile(built) as jar:
        if _JOB_SERVER_MAIN not in jar.namelist():
            raise FlinkSetupError(f"{built}: no {_JOB_SERVER_MAIN}; the build is not a job server")
    built.rename(job_server_jar(cache_dir))
    shutil.rmtree(build)


def install(cache_dir: pathlib.Path, progress: Callable[[str], None] = print) -> None:
    """Makes `flink_home(cache_dir)` and `job_server_jar(cache_dir)`; idempotent."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    if not (flink_home(cache_dir) / "lib" / f"flink-dist-{FLINK_VERSION}.jar").is_file():
        _download(cache_dir, progress)
        _assemble(cache_dir, progress)
    if not job_server_jar(cache_dir).is_file():
        _build_job_server(cache_dir, progress)
