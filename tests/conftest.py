"""Shared test setup: Keras 2 for TFRS before anything imports TensorFlow."""

import pathlib

from mtrec.pipeline import env

env.configure()

import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    """../shared/data (MovieLens, never copied into the repo)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not found: the MovieLens tests read the shared data folder")
    return SHARED_DATA
