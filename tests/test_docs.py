"""The documents hold what the package prints now.

- Every table under a ``<!-- table: python -m gli_helpers ... -->`` comment is what that command prints from the
  committed results, and every other Markdown table that shows results (a number with two or more decimals) fails.
- The committed comparison files under results/ are what their commands print.
- docs/CLI.md names every subcommand and every option that ``--help`` lists.
- docs/EXTENDING.md's new method and new benchmark run as written.
- No file of the repository refers to a file outside it.
- ``make mufac-results`` passes the settings that protocol 1's committed rows were made with.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from gli_helpers import doc_tables

from .conftest import REPO

DOCS = sorted({REPO / "README.md", *REPO.glob("docs/*.md"), *REPO.glob("results/**/*.md")})
# Logs of timings measured once (machine, date and command stated beside each), not tables of committed results.
MEASUREMENT_LOGS = {"docs/PERFORMANCE.md", "docs/CLUSTER.md"}
# Files written whole by a command (`compare --out`): they must equal what the command prints now.
COMMAND_FILES = doc_tables.COMMAND_FILES
TABLE_COMMENT = re.compile(r"<!-- table: (python -m gli_helpers [^>]*?) -->")
SETTINGS_COMMENT = "<!-- settings table -->"  # a table of settings or facts, not of results
RESULT_NUMBER = re.compile(r"\d\.\d{2,}")


def run_cli(args: list[str], monkeypatch) -> str:
    """``python -m gli_helpers ARGS`` in this process, from the repository root; its standard output."""
    from gli_helpers.cli import main
    monkeypatch.chdir(REPO)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            code = main(args)
        except SystemExit as exc:  # --help
            code = exc.code
    assert code == 0, f"python -m gli_helpers {' '.join(args)} exited with {code}"
    return out.getvalue()


def tables(lines: list[str]) -> list[tuple[int, list[str]]]:
    """(first line number, lines) of every Markdown table: contiguous lines starting with '|'."""
    found, start = [], None
    for i, line in enumerate([*lines, ""]):
        if line.startswith("|") and start is None:
            start = i
        elif not line.startswith("|") and start is not None:
            found.append((start, lines[start:i]))
            start = None
    return found


def comment_before(lines: list[str], start: int) -> str:
    """The nearest non-blank line above a table."""
    i = start - 1
    while i >= 0 and not lines[i].strip():
        i -= 1
    return lines[i].strip() if i >= 0 else ""


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def documented_tables():
    for doc in DOCS:
        if rel(doc) in COMMAND_FILES:
            continue
        lines = doc.read_text().splitlines()
        for start, block in tables(lines):
            yield doc, start, block, comment_before(lines, start)


def test_documents_exist_and_hold_generated_tables():
    assert (REPO / "results" / "mufac" / "README.md") in DOCS and len(DOCS) > 5
    commented = [1 for _, _, _, c in documented_tables() if TABLE_COMMENT.fullmatch(c)]
    assert len(commented) >= 10


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_every_table_is_what_its_command_prints(doc, monkeypatch):
    if rel(doc) in COMMAND_FILES:
        return
    lines = doc.read_text().splitlines()
    for start, block in tables(lines):
        comment = comment_before(lines, start)
        m = TABLE_COMMENT.fullmatch(comment)
        where = f"{rel(doc)} line {start + 1}"
        if m is None:
            if rel(doc) in MEASUREMENT_LOGS:
                continue
            assert comment == SETTINGS_COMMENT or not any(RESULT_NUMBER.search(line) for line in block), (
                f"{where}: a results table with no <!-- table: python -m gli_helpers ... --> comment naming the "
                "command that prints it")
            continue
        args = shlex.split(m.group(1))[3:]
        assert "--out" not in args, f"{where}: the command of a document's table must not write files"
        printed = tables(run_cli(args, monkeypatch).splitlines())
        assert printed, f"{where}: {m.group(1)} printed no table"
        assert block == printed[0][1], (f"{where}: the table differs from what `{m.group(1)}` prints now; "
                                        "paste its output again")


@pytest.mark.parametrize("path", sorted(COMMAND_FILES))
def test_committed_comparison_files_are_what_their_commands_print(path, monkeypatch):
    printed = run_cli(shlex.split(COMMAND_FILES[path]), monkeypatch)
    assert (REPO / path).read_text() == printed, f"rerun: python -m gli_helpers {COMMAND_FILES[path]} --out {path}"


def help_options(args: list[str], monkeypatch) -> set[str]:
    text = run_cli([*args, "--help"], monkeypatch)
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text)) - {"--help"}


def test_the_verdicts_per_seed_ranks_are_glis_places_on_each_seed():
    import pandas as pd
    rows = pd.read_csv(REPO / "results" / "mufac" / "regime" / "results.csv").query("procedure == 'authors'")
    rows = rows[rows.method.isin(["gli", "finetune", "cf_k", "eu_k", "neggrad", "unsir", "scrub", "bad_teaching"])]
    for column, best_first in (("final_score", True), ("avg_gap", False)):
        places = []
        for _, of_seed in rows.groupby("seed"):  # counted here by sorting, independently of ranks()
            ordered = of_seed.sort_values(column, ascending=not best_first)
            gli = of_seed.loc[of_seed.method == "gli", column].item()
            beaten = (ordered[column] > gli) if best_first else (ordered[column] < gli)
            places.append(int(beaten.sum()) + 1)
        assert doc_tables.seed_ranks(rows, column) == places
        assert len(places) == 3 and min(places) >= 1 and max(places) <= 8
    assert doc_tables.seed_ranks(rows, "final_score") == [7, 6, 7]  # as results/mufac/regime/README.md states
    table = doc_tables.verdict(REPO)
    assert "(7 of 8; per seed 6-7)" in table  # the authors' procedure row of protocol 2


def test_field_gains_are_taken_over_the_original_each_method_started_from():
    import pandas as pd
    rows = pd.read_csv(REPO / "results" / "mufac" / "regime" / "results.csv").query("procedure == 'honest'")
    rows = rows[rows.seed.isin([s for s, g in rows.groupby("seed") if "ssd" in set(g.method)])]
    start = doc_tables.own_original(REPO, rows)
    # SSD at its default dampens almost nothing: its final score is that of the Original it started from, on every
    # seed, also where that Original was retrained and differs from the committed one
    ssd = rows.method == "ssd"
    assert (rows[ssd].final_score - start[ssd]).abs().max() < 2e-3
    committed = rows[rows.method == "original"].set_index("seed").final_score
    retrained_on = [s for s in rows.seed.unique()
                    if (REPO / "results" / "mufac" / "regime" / f"original-resnet18-seed{s}" / "metrics-rerun.json").is_file()]
    assert retrained_on, "protocol 2b's later seeds ran from retrained references"
    for s in retrained_on:
        assert abs(committed[s] - start[ssd & (rows.seed == s)].iloc[0]) > 0.005  # a different model
        gli = (rows.method == "gli") & (rows.seed == s)
        assert start[gli].iloc[0] == committed[s]  # protocol 2's methods started from the committed one
    assert "| SSD | " in doc_tables.field(REPO) and "+0.000 ± 0.000" in doc_tables.field(REPO)


def test_cli_doc_names_every_subcommand_and_option(monkeypatch):
    top = run_cli(["--help"], monkeypatch)
    subcommands = re.search(r"\{([a-z,-]+)\}", top).group(1).split(",")
    assert {"run", "compare", "tables", "audit"} <= set(subcommands)
    doc = (REPO / "docs" / "CLI.md").read_text()
    sections = dict(re.findall(r"^## (.+?)\n(.*?)(?=^## |\Z)", doc, re.S | re.M))
    groups = {title.lower().replace(" ", "-"): text for title, text in sections.items() if title.endswith("options")}
    missing = [s for s in subcommands if f"`{s}`" not in sections]
    assert not missing, f"docs/CLI.md has no '## `NAME`' section for {missing}"
    for sub in subcommands:
        text = sections[f"`{sub}`"]
        text += "".join(groups[g] for g in re.findall(r"\]\(#([a-z-]+-options)\)", text) if g in groups)
        absent = sorted(o for o in help_options([sub], monkeypatch) if o not in text)
        assert not absent, f"docs/CLI.md, section {sub}: options missing: {absent}"


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


@pytest.mark.slow
def test_extending_examples_run(tmp_path, small_mufac, cache_dir):
    """The new method and the new benchmark of docs/EXTENDING.md, at the smoke preset on a small synthetic MUFAC."""
    import pandas as pd
    blocks = code_blocks((REPO / "docs" / "EXTENDING.md").read_text())
    modules = [b for b in blocks if b.startswith("# file: ")]
    scripts = [b for b in blocks if not b.startswith("# file: ")]
    assert len(modules) == 2 and len(scripts) == 2
    for block in modules:
        name = block.split("\n", 1)[0].removeprefix("# file: ").strip()
        (tmp_path / name).write_text(block)
    # the image folder the benchmark example reads: the synthetic faces as <split>/<family>/<person>/<age>/<image>
    folder = tmp_path / "data" / "my-face-folder"
    for split, label_file, image_dir in (("train", "custom_train_dataset.csv", "train_images"),
                                         ("test", "custom_val_dataset.csv", "val_images"),
                                         ("unseen", "custom_test_dataset.csv", "test_images")):
        for r in pd.read_csv(small_mufac / label_file).itertuples():
            dest = folder / split / r.family_id / r.person_id / r.age_class / r.image_path
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes((small_mufac / image_dir / r.image_path).read_bytes())
    first_families = sorted(pd.read_csv(small_mufac / "custom_train_dataset.csv").family_id.unique())[:2]
    code = "\n".join(scripts)
    for old, new in (('"cpu"', '"smoke"'), ('"data/synthetic-mufac"', repr(str(small_mufac))),
                     ('{"F0001", "F0002"}', repr(set(first_families)))):
        assert old in code, old
        code = code.replace(old, new)
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=900,
                         env={**os.environ, "PYTHONPATH": f"{tmp_path}:{REPO}", "GLI_CACHE_DIR": str(cache_dir)})
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "forget_entropy" in out and "finetune " in out and "final_score" in out
    assert "'forget':" in out and "'retain':" in out and "gli" in out and "finetune" in out
    assert (tmp_path / "runs" / "my-faces" / "results.csv").is_file()


# --- the repository stands on its own -------------------------------------------------------------------------

OUTSIDE = re.compile("|".join([r"\bSP" + r"EC\b", r"\.\./sha" + "red", "/wo" + "rk/", r"\bsha" + r"red/(data|paper)"]))
TEXT_SUFFIXES = {".py", ".md", ".ipynb", ".sh", ".toml", ".txt", ".cfg", ".ini", ".json", ".yml", ".yaml", ".csv", ""}
# The CI entry point says where the CI machine keeps the real data (beside the checkout): the machine's setting, which
# no user reads and no package file depends on.
CI_ENTRY_POINTS = {".ci/run"}


def repository_files() -> list[Path]:
    try:
        names = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.split()
        paths = [REPO / n for n in names]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout
        skip = {".git", ".venv", "runs", "data", "__pycache__", ".pytest_cache"}
        paths = [p for p in REPO.rglob("*") if not skip & set(p.relative_to(REPO).parts)]
    return sorted(p for p in paths if p.is_file() and p.suffix in TEXT_SUFFIXES and p != Path(__file__).resolve())


def test_no_file_refers_outside_the_repository():
    found = []
    for path in repository_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if rel(path) in CI_ENTRY_POINTS:
                continue
            if OUTSIDE.search(line):  # records name their data file only (export-results), not where it lay
                found.append(f"{rel(path)}:{n}: {line.strip()[:120]}")
    assert not found, "references to files outside the repository:\n" + "\n".join(found)


# --- protocol 1 reruns as committed ------------------------------------------------------------------------------

RENAMED = {"steps": "perturbation_steps"}  # GLI's K, as protocol 1's records call it


def make_recipe(target: str) -> list[str]:
    text = (REPO / "Makefile").read_text().replace("\\\n", " ")
    m = re.search(rf"^{re.escape(target)}:.*?\n((?:\t.*\n)+)", text, re.M)
    assert m, f"no target {target} in the Makefile"
    return [shlex.split(line.strip()) for line in m.group(1).splitlines()]


def option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def test_protocol_1_target_passes_the_settings_of_its_committed_rows():
    from gli_helpers.config import preset
    from gli_helpers.unlearning import default_config, parse_method_overrides
    runs = [argv for argv in make_recipe("mufac-results") if argv[1:4] == ["-m", "gli_helpers", "run"]]
    assert len(runs) == 2 and "--dedup" in runs[1]
    for argv, folder, seeds in ((runs[0], "full", "0,1,2"), (runs[1], "dedup", "0")):
        assert option(argv, "--seeds") == seeds and option(argv, "--preset") == "cpu"
        assert option(argv, "--trajectory-every") == "20"
        overrides = parse_method_overrides(option(argv, "--method-config"))
        records = sorted((REPO / "results" / "mufac" / folder / "configs").glob("*.json"))
        assert records
        for path in records:
            rec = json.loads(path.read_text())
            cfg = default_config(rec["method"], "multiclass", **overrides.get(rec["method"], {})).to_dict()
            stored = {RENAMED.get(k, k): v for k, v in rec["method_config"].items()}
            differ = {k: (v, cfg.get(k)) for k, v in stored.items() if cfg.get(k) != v}
            assert not differ, f"{rel(path)}: the target's settings differ (stored, target): {differ}"
            assert cfg["augment"] is False, f"{rel(path)}: protocol 1 unlearned on clean batches"
            if rec["method"] == "unsir":  # protocol 1 ran UNSIR's earlier reading
                assert (cfg["noise"], cfg["pairing"]) == ("uniform", "cycle")
            recipe = preset("cpu", "mufac", seed=rec["seed"]).to_dict()
            assert recipe == rec["train_config"], f"{rel(path)}: the cpu preset is no longer protocol 1's recipe"


# --- links between the documents ---------------------------------------------------------------------------------

LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# Drawn by notebook 08 from the committed results; a fresh clone may not hold them yet.
DRAWN_LATER = re.compile(r"^results/mufac/figures/[a-z_]+\.png$")


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_relative_links_point_into_the_repository(doc):
    for target in LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+://", target):
            continue
        path = (doc.parent / target).resolve()
        assert REPO in path.parents or path == REPO, f"{rel(doc)}: link {target} leaves the repository"
        assert path.exists() or DRAWN_LATER.match(rel(path)), f"{rel(doc)}: link {target} points at nothing"
