"""The README: its Python example runs as written (at the smoke preset, in a temporary folder), and it stays a front
page (at most 250 lines, the verdict in its first 60, at most six findings)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .conftest import REPO


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path, small_mufac, cache_dir):
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "the README should hold exactly one Python example"
    code = blocks[0]
    for old, new in (('"cpu"', '"smoke"'), ('"data/synthetic-mufac"', repr(str(small_mufac))),
                     ('"runs/demo', f'"{tmp_path}/demo')):
        assert old in code, old
        code = code.replace(old, new)
    code = code.replace('seed=0)\n', f'seed=0, cache_dir={str(cache_dir)!r}, progress=False)\n', 1)
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    first, second = run.stdout.strip().splitlines()[-2:]
    score, gaps = first.split(" ", 1)
    assert 0 <= float(score) <= 1 and "forget_acc_gap" in gaps and int(gaps.rsplit(" ", 1)[1]) > 0  # steps taken
    assert "'epochs': 1" in second and (tmp_path / "demo" / "retrained-resnet18-seed0" / "model.pt").is_file()


def test_readme_is_a_front_page_with_the_verdict_first():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move depth into results/mufac/ or docs/"
    verdict = next(i for i, line in enumerate(lines) if line.startswith("## The verdict"))
    table = next(i for i, line in enumerate(lines) if line.startswith("<!-- table: python -m gli_helpers tables verdict"))
    assert verdict < table < 60, "the verdict and its table belong in the README's first 60 lines"
    section_end = next(i for i, line in enumerate(lines) if i > verdict and line.startswith("## "))
    findings = [line for line in lines[verdict:section_end] if line.startswith("- ")]
    assert 1 <= len(findings) <= 6, f"the verdict has {len(findings)} findings; at most six"
