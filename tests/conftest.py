"""Shared fixtures: small synthetic benchmarks written once per session, a private image cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
MUFAC_ZIP = REPO.parent / "shared" / "data" / "mufac" / "custom_korean_family_dataset_resolution_128.zip"

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
