"""Shared test setup: Keras 2 for TFRS before anything imports TensorFlow, the
shared MovieLens folder, and one pushed sample model for the whole session."""

import pathlib

from mtrec.pipeline.runtime import env

env.configure()

import dataclasses  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    """../shared/data (MovieLens, never copied into the repo)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not found: the MovieLens tests read the shared data folder")
    return SHARED_DATA


@dataclasses.dataclass(frozen=True)
class SampleRun:
    """`mtrec run` with the defaults (the embedded sample): what it printed and where."""

    root: pathlib.Path  # holds pipeline/ and serving/
    exit_code: int
    output: str  # stdout and stderr, as a terminal shows them

    @property
    def pipeline_root(self) -> pathlib.Path:
        return self.root / "pipeline"

    @property
    def serving_dir(self) -> pathlib.Path:
        return self.root / "serving"


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory) -> SampleRun:
    """One pushed sample model, shared so the suite runs fewer pipelines.

    Tests that only read it use it as it is; tests/test_pipeline_e2e.py adds
    runs to its pipeline root (a cached re-run and a refused one, neither of
    which pushes); a test that publishes versions copies the serving folder.
    """
    root = tmp_path_factory.mktemp("sample-run")
    # A process of its own, as a user runs it: TFX's in-process state (the
    # Evaluator re-imports its module file) stays out of the other tests.
    mtrec = pathlib.Path(sys.executable).parent / "mtrec"
    run = subprocess.run([str(mtrec), "run", "--pipeline-root", str(root / "pipeline"),
                          "--serving-dir", str(root / "serving")],
                         capture_output=True, text=True, timeout=1200)
    return SampleRun(root, run.returncode, run.stdout + run.stderr)
