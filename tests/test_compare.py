"""`compare`: a results.csv beside the paper's numbers, as the README's Markdown tables."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from gli_helpers.errors import DataError
from gli_helpers.paper import comparison_markdown

from .conftest import REPO

MUFAC_RESULTS = REPO / "results" / "mufac" / "full" / "results.csv"


def _row(table: str, name: str) -> list[str]:
    line = next(line for line in table.splitlines() if line.startswith(f"| {name} |"))
    return [c.strip() for c in line.strip("|").split("|")]


@pytest.mark.slow
def test_compare_the_committed_mufac_results_with_the_paper(tmp_path):
    out = tmp_path / "comparison.md"
    run = subprocess.run([sys.executable, "-m", "gli_helpers", "compare", str(MUFAC_RESULTS), "--out", str(out)],
                         cwd=REPO, capture_output=True, text=True, check=True)
    table = run.stdout
    assert out.read_text() == table
    results = pd.read_csv(MUFAC_RESULTS)
    gli = results[results.method == "gli"]
    cells = _row(table, "GLI")
    paper, ours, diff = (c.strip() for c in cells[4].split("/"))
    assert paper == "0.7538"  # the published main-table final score
    assert ours.startswith(f"{gli.final_score.mean():.4f} ± {gli.final_score.std(ddof=1):.4f}")
    assert float(diff) == pytest.approx(gli.final_score.mean() - 0.7538, abs=6e-4)
    assert _row(table, "Bad Teaching")[4].startswith("0.6705*") and _row(table, "EU-k")[4].startswith("0.5855*")
    assert "*" not in _row(table, "SCRUB")[4] and _row(table, "GLI (L1)")[1].startswith("0.5620 /")
    best = results[~results.method.isin(["gli", "gli_l1", "gli_cosine", "original"])].groupby("method").final_score.mean()
    verdict = "holds" if gli.final_score.mean() > best.max() else "does not hold"
    assert f"(GLI above every baseline and Retrained) {verdict}" in table


@pytest.mark.slow
def test_compare_refuses_what_it_cannot_compare(tmp_path):
    results = pd.read_csv(MUFAC_RESULTS)
    with pytest.raises(DataError, match="no rows for benchmark 'mucac'"):
        comparison_markdown(results, "mucac", "resnet18")
    with pytest.raises(DataError, match="lack the columns"):
        comparison_markdown(results.drop(columns=["final_score"]), "mufac", "resnet18")
    mixed = pd.concat([results, results.assign(arch="efficientnet_b0")])
    mixed.to_csv(tmp_path / "mixed.csv", index=False)
    (tmp_path / "empty.csv").write_text("")
    for path, extra, why in ((tmp_path / "mixed.csv", [], "choose with --benchmark and --arch"),
                             (tmp_path / "empty.csv", [], "cannot read"), (tmp_path / "none.csv", [], "cannot read")):
        run = subprocess.run([sys.executable, "-m", "gli_helpers", "compare", str(path), *extra], cwd=REPO,
                             capture_output=True, text=True)
        assert run.returncode != 0 and why in run.stderr and "Traceback" not in run.stderr
    run = subprocess.run([sys.executable, "-m", "gli_helpers", "compare", str(tmp_path / "mixed.csv"), "--arch",
                          "efficientnet_b0"], cwd=REPO, capture_output=True, text=True, check=True)
    assert "mufac / efficientnet_b0" in run.stdout and "| EU-k | 0.5906 /" in run.stdout  # Table S3's numbers


def test_reproduce_run_folder_defaults_to_benchmark_and_preset():
    from argparse import Namespace

    from gli_helpers.cli import reproduce_run_dir
    assert reproduce_run_dir(Namespace(out=None, benchmark="synthetic-mufac", preset="smoke")) == "runs/synthetic-mufac-smoke"
    assert reproduce_run_dir(Namespace(out=None, benchmark="mufac", preset="paper")) == "runs/mufac-paper"
    assert reproduce_run_dir(Namespace(out="mine", benchmark="mufac", preset="paper")) == "mine"


@pytest.mark.slow
def test_procedure_table_gives_intervals_ranks_and_the_gap(tmp_path):
    from scipy import stats
    rows = [{"benchmark": "mufac", "arch": "resnet18", "procedure": proc, "method": m, "seed": s,
             "final_score": base + (0.05 if proc == "authors" else 0.0) + 0.01 * s}
            for proc in ("honest", "authors") for m, base in (("original", 0.5), ("gli", 0.6), ("finetune", 0.62))
            for s in (0, 1, 2)]
    path = tmp_path / "results.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    out = subprocess.run([sys.executable, "-m", "gli_helpers", "compare", str(path), "--by-procedure", "honest", "authors"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    half = stats.t.ppf(0.975, 2) * 0.01 / 3 ** 0.5  # sd of (0, 0.01, 0.02) is 0.01
    assert f"| GLI | 0.6100 ± 0.0100 [{0.61 - half:.4f}, {0.61 + half:.4f}] (#2) |" in out
    assert "| Fine-tuning | 0.6300 ± 0.0100" in out and "(#1) | +0.0500 |" in out
    assert "| Original | 0.5100" in out and "(#" not in out.split("| Original |")[1].split("\n")[0]  # references unranked
    mixed = subprocess.run([sys.executable, "-m", "gli_helpers", "compare", str(path)], cwd=REPO, capture_output=True, text=True)
    assert mixed.returncode == 2 and "several procedures" in mixed.stderr  # never averaged together silently
    pd.DataFrame(rows + [{**rows[0], "arch": "efficientnet_b0"}]).to_csv(path, index=False)
    two = subprocess.run([sys.executable, "-m", "gli_helpers", "compare", str(path), "--by-procedure", "honest", "authors"],
                         cwd=REPO, capture_output=True, text=True)
    assert two.returncode == 2 and "several benchmarks/architectures" in two.stderr  # nor across architectures
