"""The two maps: benchmarks (name -> reader, task, recipe, the paper's column) and methods (each module declares its
label and position; no row can drop out of a table or figure)."""

from __future__ import annotations

import pandas as pd
import pytest

from gli_helpers import plots
from gli_helpers.config import preset
from gli_helpers.data import REGISTRY, DataConfig, get_benchmark, load_benchmark
from gli_helpers.errors import ConfigError
from gli_helpers.paper import comparison_markdown, paper_task
from gli_helpers.tables import summary_table
from gli_helpers.unlearning import METHODS, REFERENCES, method_label, method_order


def test_benchmark_registry_drives_task_recipe_and_paper_column():
    young, ml, mufac = get_benchmark("synthetic-mucac-young"), get_benchmark("mucac"), get_benchmark("mufac")
    assert (young.task, young.recipe, young.binary, young.paper_task) == ("multiclass", "young", True, "MUCAC-young")
    assert (ml.task, ml.recipe, ml.binary, ml.paper_task) == ("multilabel", "multilabel", False, "MUCAC")
    assert (mufac.reader, dict(mufac.default_splits)) == ("mufac", {"forget_count": 1500})
    assert preset("paper", "mucac-young").gamma == 0.2 and preset("paper", "mufac").gamma == 0.1
    assert preset("cpu", "synthetic-mucac").epochs == 10 and preset("cpu", "synthetic-mufac").epochs == 15
    assert {paper_task(n) for n in REGISTRY} == {"MUFAC", "MUCAC", "MUCAC-young"}
    with pytest.raises(ConfigError, match="unknown benchmark 'cifar'; valid: mufac"):
        get_benchmark("cifar")


def test_data_config_is_recorded_with_the_benchmark(small_mufac, cache_dir):
    b = load_benchmark("synthetic-mufac", small_mufac, 16, DataConfig(validation_share=0.5, cache_dir=cache_dir))
    assert b.data_config["validation_share"] == 0.5 and "cache_dir" not in b.data_config
    assert b.spec is get_benchmark("synthetic-mufac") and "validation" in b.splits
    with pytest.raises(ConfigError, match="unknown data option.*dedupe"):
        load_benchmark("synthetic-mufac", small_mufac, 16, dedupe=True)


def test_every_method_declares_label_and_position_in_paper_order():
    assert method_order(["gli", "original", "eu_k", "finetune", "retrained", "gli_cosine", "gli_l1"]) == \
        ["original", "retrained", "finetune", "eu_k", "gli", "gli_l1", "gli_cosine"]
    positions = [m.position for m in METHODS.values()] + [p for _, p in REFERENCES.values()]
    assert len(set(positions)) == len(positions)  # no two rows share a place
    assert method_label("bad_teaching") == "Bad Teaching" and method_label("gli_l1") == "GLI (L1)"


def test_a_method_missing_from_the_map_never_drops_out(tmp_path):
    rows = [{"benchmark": "synthetic-mufac", "arch": "resnet18", "method": m, "seed": s, "test_acc": 0.3 + 0.01 * s,
             "top2_acc": 0.5, "forgetting_score": 0.1, "final_score": 0.55, "mia": 0.6}
            for m in ("original", "retrained", "gli", "my_new_method") for s in (0, 1)]
    results = pd.DataFrame(rows)
    assert method_order(results.method) == ["original", "retrained", "gli", "my_new_method"]
    assert "my_new_method" in summary_table(results).index
    assert "| my_new_method |" in comparison_markdown(results, "synthetic-mufac", "resnet18")
    fig = plots.score_plot(results)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["Original", "Retrained", "GLI", "my_new_method"]
