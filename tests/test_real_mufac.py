"""The real MUFAC zip (GLI_MUFAC_ZIP, see conftest.py; skipped without it, a failure without it under
GLI_REQUIRE_REAL_DATA=1): counts, labels, cache, duplicates."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gli_helpers.data import load_benchmark


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory, mufac_zip):
    return tmp_path_factory.mktemp("mufac-cache")


@pytest.fixture(scope="module")
def first_load(real_cache, mufac_zip):
    return load_benchmark("mufac", mufac_zip, 16, cache_dir=real_cache)


@pytest.mark.slow
def test_counts_as_published(first_load):
    bench = first_load
    n = {s: len(bench.splits[s]) for s in ("train", "forget", "retain", "test", "unseen")}
    assert n == {"train": 10025, "forget": 1500, "retain": 8525, "test": 1539, "unseen": 1504}
    s = bench.summary()["splits"]
    assert s["train"]["people"] == 896 and s["test"]["people"] == 161 and s["unseen"]["people"] == 159
    for split in ("train", "test", "unseen"):
        assert sum(s[split]["labels"].values()) == s[split]["images"]
    assert s["train"]["labels"]["0-6"] == 2121 and s["test"]["labels"]["67-80"] == 4
    assert any("F0046/D" in note for note in bench.notes)  # the 1,500-row cut splits one person


def test_second_load_uses_cache(first_load, real_cache, mufac_zip):
    """The second load reads the decoded copy (the same tensors), not the JPEGs; how much faster that is depends on
    the machine and its load, so it is measured by ``bench load``, not asserted here."""
    bench = first_load
    again = load_benchmark("mufac", mufac_zip, 16, cache_dir=real_cache)
    assert any("loaded from cache" in n for n in again.notes)
    assert not any("loaded from cache" in n for n in bench.notes)
    for name in ("forget", "retain", "test", "unseen"):
        assert again.splits[name].images.equal(bench.splits[name].images), name


def test_duplicates_reported_and_dropped(real_cache, mufac_zip):
    bench = load_benchmark("mufac", mufac_zip, 16, cache_dir=real_cache, dedup=True)
    note = next(n for n in bench.notes if n.startswith("deduplicated"))
    assert "forget/retain" in note and "unseen/retain" in note
    assert 5000 < len(bench.train) < 10025 and len(bench.splits["test"]) < 1539


@pytest.mark.slow
def test_data_summary_cli_on_real_zip(real_cache, mufac_zip):
    res = subprocess.run([sys.executable, "-m", "gli_helpers", "data-summary", "--benchmark", "mufac", "--root",
                          str(mufac_zip), "--resolution", "16", "--cache-dir", str(real_cache), "--quiet"],
                         capture_output=True, text=True, check=True)
    s = json.loads(res.stdout)["splits"]
    assert (s["train"]["images"], s["test"]["images"], s["unseen"]["images"]) == (10025, 1539, 1504)
    assert (s["forget"]["images"], s["retain"]["images"], s["train"]["people"]) == (1500, 8525, 896)
