"""The command line answers ``--help`` and refuses a wrong name without loading torch, and its light name lists
agree with the modules that use them; a method added as one module plus one registry line runs through ``run``,
the results tables and ``compare``."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from .conftest import REPO


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_help_and_a_wrong_benchmark_or_method_do_not_import_torch():
    probe = textwrap.dedent("""
        import sys
        from gli_helpers.cli import main
        codes = []
        for argv in (["--help"], ["run", "--help"], ["run", "--benchmark", "nosuch", "--root", "x", "--out", "y"],
                     ["run", "--benchmark", "synthetic-mufac", "--root", "x", "--out", "y", "--methods", "gli,salum"],
                     ["audit", "--benchmark", "synthetic-mufac", "--root", "x", "--out", "y", "--models", "2",
                      "--methods", "nosuch"]):
            try:
                codes.append(main(argv))
            except SystemExit as exc:
                codes.append(exc.code)
        print(codes, "torch" in sys.modules, "pandas" in sys.modules)
    """)
    out = run_python(probe)
    assert out.stdout.split()[-2:] == ["False", "False"], out.stderr
    assert out.stdout.splitlines()[-1].startswith("[0, 0, 2, 2, 2]"), out.stdout[-500:]
    assert "invalid choice: 'nosuch'" in out.stderr and "unknown unlearning method 'salum'" in out.stderr
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gli_helpers", "--help"], cwd=REPO, capture_output=True, check=True)
    assert time.perf_counter() - start < 2.0


def test_light_name_lists_agree_with_their_modules():
    from gli_helpers import catalog, doc_tables, models
    from gli_helpers.errors import ConfigError
    assert catalog.TABLE_NAMES == tuple(doc_tables.TABLES)  # every table the command offers exists, and no other
    for arch in catalog.ARCHS:  # every architecture the command offers builds
        models.build_model(arch, 3)
    with pytest.raises(ConfigError, match="valid: resnet18"):
        models.build_model("vgg16", 3)


THROWAWAY = '''
"""A throw-away method for the test: fine-tuning that also ascends the forget loss, weighted by ``push``."""
from dataclasses import dataclass

from gli_helpers.unlearning.common import MethodConfig, Run, loss_of, retain_with_forget, sgd

LABEL = "Throw-away"
POSITION = 8.9
SEARCH_SPACE = {"push": ("float", 0.0, 1.0)}


@dataclass
class ThrowawayConfig(MethodConfig):
    push: float = 0.5

    NON_NEGATIVE = ("push",)


def unlearn(run: Run) -> None:
    run.report["push_used"] = run.cfg.push
    opt = sgd(run.model.parameters(), run.cfg)
    run.train_mode()
    for idx, (xf, yf), *_ in retain_with_forget(run):
        x, y = run.batch(run.data.retain, idx)
        push = run.cfg.push * loss_of(run.model, xf, yf, run.data.task)
        run.take_step(opt, loss_of(run.model, x, y, run.data.task) - push)
'''


def test_a_new_method_is_one_module_and_one_registry_line(tmp_path, small_mufac, cache_dir, monkeypatch, capsys):
    from gli_helpers.cli import main
    from gli_helpers.errors import ConfigError
    from gli_helpers.experiment import prepare
    from gli_helpers.runner import unlearn_data
    from gli_helpers.tables import procedure_markdown
    from gli_helpers.unlearning import METHODS, Method, distinct_methods, parse_methods, register, unregister

    (tmp_path / "throwaway.py").write_text(THROWAWAY)
    monkeypatch.syspath_prepend(str(tmp_path))
    import throwaway
    register(Method.of(throwaway))  # the one registry line
    try:
        assert "throwaway" in parse_methods("all") and "throwaway" in distinct_methods()
        with pytest.raises(ConfigError, match="push cannot be negative"):
            METHODS["throwaway"].config_class.for_task("multiclass", push=-1.0)
        with pytest.raises(ConfigError, match="already exists"):
            register(Method.of(throwaway))
        run = tmp_path / "run"
        common = ["--benchmark", "synthetic-mufac", "--root", str(small_mufac), "--cache-dir", str(cache_dir),
                  "--preset", "smoke", "--seeds", "0", "--trajectory-every", "0", "--quiet", "--out", str(run)]
        for procedure in ("honest", "authors"):  # the `run` command, as a user types it
            assert main(["run", *common, "--methods", "throwaway,finetune", "--procedure", procedure]) == 0
        printed = capsys.readouterr().out
        assert printed.count("throwaway") >= 2  # its row in each run's summary table
        results = pd.read_csv(run / "results.csv")
        mine = results[results.method == "throwaway"]
        assert len(mine) == 2 and mine.avg_gap.notna().all() and (mine.tow <= 1).all()
        assert main(["compare", str(run / "results.csv"), "--procedure", "honest"]) == 0  # the `compare` command
        assert "| Throw-away |" in capsys.readouterr().out
        by_procedure = procedure_markdown(results)
        assert "| Throw-away |" in by_procedure and "honest Avg Gap" in by_procedure
        record = (run / "configs" / "throwaway-seed0-honest.json").read_text()
        assert '"push_used": 0.5' in record  # what the method put in run.report is recorded beside its result
        monkeypatch.setattr(throwaway, "unlearn", lambda run: {"push_used": 1.0})
        exp = prepare("synthetic-mufac", small_mufac, run, "smoke", seed=0, cache_dir=cache_dir, progress=False)
        with pytest.raises(ConfigError, match=r"returned a value; a method records what it wants kept in run.report"):
            METHODS["throwaway"].unlearn(exp.reference("original")[0], unlearn_data(exp, 0),
                                         METHODS["throwaway"].config_class())
    finally:
        unregister("throwaway")
    assert "throwaway" not in METHODS


def test_every_subcommand_is_declared_once_and_documented_in_order():
    from gli_helpers.cli import COMMANDS
    names = [name for name, *_ in COMMANDS]
    assert len(names) == len(set(names))
    documented = re.findall(r"^## `([\w-]+)`$", (REPO / "docs" / "CLI.md").read_text(), flags=re.M)
    assert documented == names  # docs/CLI.md has a section per command, in the order --help lists them
