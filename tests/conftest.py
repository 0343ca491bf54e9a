"""Shared fixtures: small synthetic benchmarks written once per session, a private image cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
# The real MUFAC zip, from one place: GLI_MUFAC_ZIP, else a copy beside the checkout (../shared, as in CI), else
# where `python -m gli_helpers download mufac --source <zip>` puts it.
_ZIP_NAME = "custom_korean_family_dataset_resolution_128.zip"
_BESIDE = REPO.parent / "shared" / "data" / "mufac" / _ZIP_NAME
MUFAC_ZIP = Path(os.environ.get("GLI_MUFAC_ZIP") or (_BESIDE if _BESIDE.is_file() else REPO / "data" / "mufac" / _ZIP_NAME))
# Set to 1 (CI does) to make a missing MUFAC zip a failure instead of a skip.
REQUIRE_REAL_DATA = os.environ.get("GLI_REQUIRE_REAL_DATA", "") not in ("", "0")

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def small_mufac(tmp_path_factory):
    from gli_helpers.data import make_synthetic_mufac
    root = tmp_path_factory.mktemp("syn") / "mufac"
    make_synthetic_mufac(root, seed=1, families=(12, 4, 4), forget_families=3, image_size=32)
    return root


@pytest.fixture(scope="session")
def small_mucac(tmp_path_factory):
    from gli_helpers.data import make_synthetic_mucac
    root = tmp_path_factory.mktemp("syn") / "mucac"
    make_synthetic_mucac(root, seed=1, people=(10, 12, 24, 10), image_size=32)
    return root


@pytest.fixture(scope="session")
def mufac_bench(small_mufac, cache_dir):
    from gli_helpers.data import load_benchmark
    return load_benchmark("synthetic-mufac", small_mufac, 16, cache_dir=cache_dir)


@pytest.fixture(scope="session")
def mucac_bench(small_mucac, cache_dir):
    from gli_helpers.data import load_benchmark
    return load_benchmark("synthetic-mucac", small_mucac, 16, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def mufac_zip():
    """The real MUFAC zip; a test that uses it is skipped (failed under GLI_REQUIRE_REAL_DATA=1) when it is missing."""
    if not MUFAC_ZIP.is_file():
        msg = (f"the real MUFAC zip is not at {MUFAC_ZIP}: download it (python -m gli_helpers download mufac "
               f"--dest data --source <zip or URL>, see data/README.md) or set GLI_MUFAC_ZIP=<path to {_ZIP_NAME}>")
        if REQUIRE_REAL_DATA:
            pytest.fail(msg + " (GLI_REQUIRE_REAL_DATA is set, so its absence is a failure)", pytrace=False)
        pytest.skip(msg)
    return MUFAC_ZIP
