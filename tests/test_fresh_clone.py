"""A fresh clone without the real data: the real-data tests skip with a reason, and fail instead when
GLI_REQUIRE_REAL_DATA=1 (as in CI). Run in a subprocess with GLI_MUFAC_ZIP pointing at a missing file."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import REPO

REAL_DATA_TESTS = ["tests/test_real_mufac.py", "tests/test_real_mufac_end_to_end.py"]


def _pytest(tmp_path, require: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GLI_MUFAC_ZIP": str(tmp_path / "nowhere" / "mufac.zip"), "GLI_REQUIRE_REAL_DATA": require}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *REAL_DATA_TESTS],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("require", ["", "0"])
def test_real_data_tests_skip_with_a_reason_when_the_zip_is_missing(tmp_path, require):
    res = _pytest(tmp_path, require)
    assert res.returncode == 0, res.stdout[-3000:]
    assert "5 skipped" in res.stdout and "passed" not in res.stdout and "failed" not in res.stdout, res.stdout[-3000:]
    assert "download mufac" in res.stdout and "GLI_MUFAC_ZIP" in res.stdout  # says how to get the data


@pytest.mark.slow
def test_real_data_tests_fail_when_the_data_is_required(tmp_path):
    res = _pytest(tmp_path, "1")
    assert res.returncode == 1, res.stdout[-3000:]
    assert "5 error" in res.stdout and "skipped" not in res.stdout, res.stdout[-3000:]
    assert "GLI_REQUIRE_REAL_DATA is set" in res.stdout
