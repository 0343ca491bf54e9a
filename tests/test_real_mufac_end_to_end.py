"""The real-data path end to end: a small slice of the real MUFAC zip (its files, its format), every method at
the smoke preset, through the command line, so the real-data path cannot silently break."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile

import pandas as pd
import pytest

from .conftest import REPO

ROWS = {"custom_train_dataset.csv": 150, "custom_val_dataset.csv": 60, "custom_test_dataset.csv": 60}
FOLDERS = {"custom_train_dataset.csv": "train_images", "custom_val_dataset.csv": "val_images",
           "custom_test_dataset.csv": "test_images"}


def slice_zip(zip_path, dest):
    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(dest, "w") as out:
        for name, n in ROWS.items():
            rows = list(csv.reader(io.StringIO(src.read(name).decode())))
            keep = rows[: n + 1]
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(keep)
            out.writestr(name, buf.getvalue())
            for r in keep[1:]:
                path = f"{FOLDERS[name]}/{r[-1]}"
                out.writestr(path, src.read(path))
    return dest


@pytest.mark.slow
def test_real_mufac_slice_runs_every_method(tmp_path, cache_dir, mufac_zip):
    z = slice_zip(mufac_zip, tmp_path / "mufac-slice.zip")
    out = tmp_path / "run"
    res = subprocess.run([sys.executable, "-m", "gli_helpers", "run", "--benchmark", "mufac", "--root", str(z),
                          "--forget-count", "40", "--preset", "smoke", "--methods", "all,ablation",
                          "--trajectory-every", "1", "--out", str(out), "--cache-dir", str(cache_dir), "--quiet"],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    r = pd.read_csv(out / "results.csv")
    from gli_helpers.unlearning import parse_methods
    assert len(r) == 2 + len(parse_methods("all,ablation")) and set(r.benchmark) == {"mufac"}  # + the references
    assert r[["test_acc", "top2_acc", "mia", "final_score"]].apply(lambda c: c.between(0, 1)).all().all()
    t = pd.read_csv(out / "trajectories.csv")
    assert {"gli", "gli_l1", "gli_cosine", "neggrad"} <= set(t.method)
    exported = subprocess.run([sys.executable, "-m", "gli_helpers", "export-results", str(out), str(tmp_path / "numbers")],
                              cwd=REPO, capture_output=True, text=True, check=True)
    files = [p for p in (tmp_path / "numbers").rglob("*") if p.is_file()]
    assert files and all(p.suffix in (".csv", ".json") for p in files), exported.stdout
