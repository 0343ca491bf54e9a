"""Smoke tests of the performance benchmarks, so they keep working (the numbers are in docs/PERFORMANCE.md)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gli_helpers.bench import bench_gli, bench_train, unlearn_fractions

from .conftest import REPO


@pytest.mark.slow
def test_bench_train_measures_three_loops(mufac_bench):
    out = bench_train(mufac_bench, steps=2, device="cpu", profile=3)
    for key in ("pure_model_img_s", "ours_img_s", "reference_img_s", "plain_torchvision_img_s"):
        assert out[key] > 0
    assert out["speedup_vs_reference"] > 0 and 0 < out["fraction_of_pure_model"] < 2
    assert out["cropped_convolutions"] == 8  # 16 px: ResNet18's layer3 and layer4 see 1x1 maps
    ops = out["top_operations"]
    assert len(ops) == 3 and ops[0]["ms_per_step"] >= ops[1]["ms_per_step"] >= ops[2]["ms_per_step"] > 0
    assert 0 < sum(o["share"] for o in ops) <= 1


def test_bench_names_the_cpu_it_ran_on():
    from gli_helpers.bench import machine
    m = machine()
    assert m["cpu"] and m["cpu"] != "unknown" and m["cpu_capability"] in ("AVX512", "AVX2", "DEFAULT", "ZVECTOR", "VSX",
                                                                          "SVE256", "NEON")


def test_bench_load_times_decoding_against_the_cache(small_mufac):
    from gli_helpers.bench import bench_load
    out = bench_load("synthetic-mufac", small_mufac, 16)
    assert out["first_decoded"] and out["second_from_cache"] and out["first_seconds"] > 0 and out["cached_seconds"] > 0


def test_bench_gli_outputs_identical(mufac_bench):
    out = bench_gli(mufac_bench, steps_k=2, batch_size=16, repeats=2, device="cpu")
    assert out["identical_outputs"] and out["once_ms"] > 0 and out["recompute_ms"] > 0


def test_bench_unlearn_fractions(tmp_path):
    p = tmp_path / "results.csv"
    p.write_text("method,seed,unlearn_seconds,retrain_seconds\noriginal,0,0,10\nretrained,0,10,10\n"
                 "gli,0,1,10\ngli,1,2,10\nfinetune,0,3,10\n")
    t = unlearn_fractions(p)
    assert list(t.index) == ["gli", "finetune"] and abs(t.loc["gli", "fraction_of_retraining"] - 0.15) < 1e-9


@pytest.mark.slow
def test_bench_cli(small_mufac, cache_dir):
    res = subprocess.run([sys.executable, "-m", "gli_helpers", "bench", "gli", "--root", str(small_mufac),
                          "--resolution", "16", "--steps", "1", "--batch-size", "8", "--cache-dir", str(cache_dir),
                          "--device", "cpu"], cwd=REPO, capture_output=True, text=True, check=True)
    out = json.loads(res.stdout)
    assert out["identical_outputs"] and "machine" in out


@pytest.mark.slow
def test_bench_unlearn_without_results_is_a_clear_error():
    res = subprocess.run([sys.executable, "-m", "gli_helpers", "bench", "unlearn"], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 2 and "needs --results" in res.stderr and "Traceback" not in res.stderr, res.stderr


@pytest.mark.slow
def test_bench_engine_times_both_engines_on_the_same_grid(tmp_path, small_mufac, cache_dir):
    res = subprocess.run([sys.executable, "-m", "gli_helpers", "bench", "engine", "--root", str(small_mufac),
                          "--preset", "smoke", "--methods", "finetune", "--configurations", "local:1,ray:1",
                          "--out", str(tmp_path), "--cache-dir", str(cache_dir)],
                         cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    local, ray = out["runs"]
    assert (local["engine"], ray["engine"]) == ("local", "ray") and local["seconds"] > 0 and ray["seconds"] > 0
    assert local["rows"] == ray["rows"] == 3  # original, retrained, finetune
    assert ray["max_metric_difference"] == 0  # same threads per unit: the same numbers
    assert [s["ratio_to_first"] for s in out["summary"]][0] == 1
    assert (tmp_path / "ray-threads1-rep0" / "results.csv").is_file()


@pytest.mark.slow
def test_bench_engine_rejects_a_bad_configuration(small_mufac):
    res = subprocess.run([sys.executable, "-m", "gli_helpers", "bench", "engine", "--root", str(small_mufac),
                          "--configurations", "local:2,ray:0"], cwd=REPO, capture_output=True, text=True)
    assert res.returncode != 0 and "ENGINE:THREADS" in res.stderr and "Traceback" not in res.stderr


def test_bench_evaluation_times_an_evaluation_point_against_a_gli_batch(mufac_bench):
    from gli_helpers.bench import bench_evaluation
    out = bench_evaluation(mufac_bench, steps=2, repeats=1, device="cpu")
    assert out["evaluation_seconds"] > 0 and out["gli_batch_seconds"] > 0
    assert out["evaluated_images"] == len(mufac_bench.test) + len(mufac_bench.forget) + len(mufac_bench.unseen) + min(
        512, len(mufac_bench.retain))
    assert out["suggested_eval_every"] >= 1 and out["suggested_eval_every"] >= out["ratio"]
