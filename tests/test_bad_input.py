"""Damaged files and wrong input end with exit 2 and a message that names the file, says what is wrong and what to
do; nothing the user had is changed, and no message advises loading a file with ``weights_only=False``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import torch

from gli_helpers.errors import DataError

from .conftest import REPO


def cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "gli_helpers", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def refused(res, *words):
    """Exit 2, a one-line error (no traceback) holding ``words``, and never the unsafe advice."""
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert "Traceback" not in res.stderr, res.stderr[-2000:]
    assert "weights_only=False" not in res.stderr
    for w in words:
        assert w in res.stderr, (w, res.stderr[-2000:])
    return res.stderr


def zip_folder(folder: Path, dest: Path, method=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(dest, "w", method) as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(folder).as_posix())
    return dest


def damage_member(archive: Path, suffix: str = ".jpg") -> str:
    """Flip bytes inside the stored data of the first member ending in ``suffix``; its name."""
    with zipfile.ZipFile(archive) as z:
        info = next(i for i in z.infolist() if i.filename.endswith(suffix))
    raw = bytearray(archive.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)  # past the local header
    for k in range(start + 8, start + 8 + min(64, info.compress_size - 16)):
        raw[k] ^= 0x5A
    archive.write_bytes(bytes(raw))
    return info.filename


@pytest.mark.slow
@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
def test_a_zip_with_a_damaged_member_is_refused_by_name(tmp_path, small_mufac, method):
    archive = zip_folder(small_mufac, tmp_path / "mufac.zip", method)
    member = damage_member(archive)
    before = archive.read_bytes()
    err = refused(cli("data-summary", "--benchmark", "mufac", "--root", archive, "--resolution", 16, "--forget-count", 40,
                      "--cache-dir", tmp_path / "cache", "--quiet"), str(archive), member, "damaged", "Download it again")
    assert "\n" not in err.strip()
    assert archive.read_bytes() == before  # left as it was


@pytest.mark.slow
def test_a_folder_with_several_zips_lists_them(tmp_path, small_mufac):
    folder = tmp_path / "data"
    folder.mkdir()
    zip_folder(small_mufac, folder / "a.zip")
    zip_folder(small_mufac, folder / "b.zip")
    refused(cli("data-summary", "--benchmark", "mufac", "--root", folder, "--forget-count", 40, "--quiet"),
            "2 zip archives", "a.zip", "b.zip", "--root")


def _train(root, out, cache, *extra):
    return cli("train", "--benchmark", "synthetic-mufac", "--root", root, "--preset", "smoke", "--role", "original",
               "--cache-dir", cache, "--quiet", "--out", out, *extra)


@pytest.mark.slow
@pytest.mark.parametrize("content", ["garbage", "foreign"])
def test_a_damaged_resume_file_is_refused_and_kept(tmp_path, small_mufac, cache_dir, content):
    state = tmp_path / "run" / "original-resnet18-seed0" / "state.pt"
    state.parent.mkdir(parents=True)
    if content == "garbage":
        state.write_bytes(b"PK\x03\x04 not a torch file" * 10)
    else:  # a real torch file that is not a training state (a pickle-free dict)
        torch.save({"weights": torch.zeros(2)}, state)
    before = state.read_bytes()
    err = refused(_train(small_mufac, tmp_path / "run", cache_dir), str(state), f"Delete {state}")
    assert ("damaged" in err) if content == "garbage" else ("not a gli_helpers resume file" in err)
    assert state.read_bytes() == before and not (state.parent / "model.pt").exists()


@pytest.mark.slow
def test_resume_files_carry_a_format_tag(tmp_path, small_mufac, cache_dir):
    from gli_helpers.train import STATE_FORMAT, load_state
    state = tmp_path / "run" / "original-resnet18-seed0" / "state.pt"
    proc = subprocess.Popen([sys.executable, "-m", "gli_helpers", "train", "--benchmark", "synthetic-mufac", "--root",
                             str(small_mufac), "--preset", "smoke", "--epochs", "30", "--role", "original", "--cache-dir",
                             str(cache_dir), "--quiet", "--out", str(tmp_path / "run")], cwd=REPO)
    try:
        import time
        deadline = time.time() + 120
        while not state.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert state.exists(), "no epoch was saved"
        assert load_state(state)["format"] == STATE_FORMAT
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_a_damaged_model_file_never_suggests_unsafe_loading(tmp_path, small_mufac, cache_dir):
    model = tmp_path / "run" / "original-resnet18-seed0" / "model.pt"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"\x80\x04not a checkpoint")
    refused(_train(small_mufac, tmp_path / "run", cache_dir), str(model), "Delete it")
    assert model.read_bytes() == b"\x80\x04not a checkpoint"


@pytest.mark.slow
def test_a_damaged_results_file_is_not_merged_over(tmp_path, small_mufac, cache_dir):
    run = tmp_path / "run"
    base = ("run", "--benchmark", "synthetic-mufac", "--root", small_mufac, "--preset", "smoke", "--methods", "finetune",
            "--seeds", "0", "--trajectory-every", "0", "--cache-dir", cache_dir, "--quiet", "--out", run)
    run.mkdir()
    results = run / "results.csv"
    results.write_text('benchmark,arch,procedure,method,seed\n"unclosed,1,2\n')
    refused(cli(*base), str(results), "damaged", "it was left as it is")
    assert results.read_text() == 'benchmark,arch,procedure,method,seed\n"unclosed,1,2\n'
    # a healthy run, then a damaged method record: named, kept
    results.unlink()
    assert cli(*base).returncode == 0
    record = next((run / "configs").glob("finetune*.json"))
    record.write_text("{ not json")
    refused(cli(*base), str(record), "cannot read")
    assert record.read_text() == "{ not json"


def test_damaged_tables_met_while_merging_name_the_file(tmp_path):
    from gli_helpers.audit import _merged as merge_audit
    from gli_helpers.io import read_csv
    from gli_helpers.tuning import read_tune
    bad = tmp_path / "audit.csv"
    bad.write_bytes(b"\xff\xfe\x00garbage\x00\n\x01")
    for read in (read_csv, read_tune, lambda p: merge_audit(p, pd.DataFrame({"method": ["gli"], "n_models": [2]}))):
        with pytest.raises(DataError, match="audit.csv: it is damaged"):
            read(bad)


@pytest.mark.slow
def test_a_damaged_manifest_is_named(tmp_path, small_mufac):
    root = tmp_path / "syn"
    shutil.copytree(small_mufac, root)
    manifest = next(p for p in root.iterdir() if p.suffix == ".json")
    manifest.write_text("{")
    refused(cli("data-summary", "--benchmark", "synthetic-mufac", "--root", root, "--quiet"), str(manifest))


@pytest.mark.slow
def test_a_mistyped_synthetic_root_is_refused_not_generated(tmp_path, small_mufac):
    typo = tmp_path / "synthetic-mufca"
    refused(cli("data-summary", "--benchmark", "synthetic-mufac", "--root", typo, "--quiet"), str(typo),
            "make-synthetic --format mufac")
    assert not typo.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    refused(cli("data-summary", "--benchmark", "synthetic-mufac", "--root", empty, "--quiet"), "is empty")
    assert not any(empty.iterdir())


@pytest.mark.slow
def test_the_default_synthetic_root_is_generated_with_a_line_saying_so(tmp_path, monkeypatch):
    from gli_helpers.data import default_synthetic_root, ensure_synthetic
    monkeypatch.chdir(tmp_path)
    said = []
    root = ensure_synthetic("synthetic-mucac-young", default_synthetic_root("synthetic-mucac-young"), log=said.append)
    assert root == Path("data/synthetic-mucac") and (tmp_path / root).is_dir()
    assert len(said) == 1 and "generating the synthetic mucac benchmark" in said[0]
    assert ensure_synthetic("synthetic-mucac", root, log=said.append) == root and len(said) == 1  # reused, silent


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["local", "ray"])
def test_method_settings_are_checked_before_any_data_is_read(tmp_path, engine):
    missing = tmp_path / "no-such-data.zip"  # reading it would fail: each refusal below must come first
    base = ("run", "--benchmark", "mufac", "--root", missing, "--preset", "smoke", "--engine", engine, "--quiet",
            "--out", tmp_path / "run")
    refused(cli(*base, "--methods", "gli,finetun"), "unknown unlearning method 'finetun'")
    refused(cli(*base, "--methods", "gli", "--method-config", json.dumps({"gli": {"perturbation_steps": 0}})),
            "perturbation_steps")
    refused(cli(*base, "--methods", "gli", "--method-config", json.dumps({"gli": {"perturbation_stepz": 3}})),
            "perturbation_stepz")
    err = refused(cli(*base, "--methods", "finetune", "--method-config", json.dumps({"gli": {"perturbation_steps": 3}})),
                  "--method-config sets gli", "does not include")
    assert "does not exist" not in err and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_audit_and_ablation_settings_are_checked_before_any_data_is_read(tmp_path):
    missing = tmp_path / "no-such-data.zip"
    common = ("--benchmark", "mufac", "--root", missing, "--preset", "smoke", "--quiet", "--out", tmp_path / "run")
    refused(cli("audit", *common, "--models", 2, "--methods", "finetune",
                "--method-config", json.dumps({"gli": {"alpha": 0.1}})), "--method-config sets gli")
    refused(cli("audit", *common, "--models", 2, "--methods", "gli", "--method-config", json.dumps({"gli": {"alpha": -1}})),
            "alpha")
    refused(cli("gli-ablations", *common, "--results", tmp_path / "res", "--variants", "authorz"), "authorz")
    assert not (tmp_path / "run").exists()


def test_an_override_for_a_method_not_run_is_refused_in_python(mufac_bench, tmp_path):
    from gli_helpers.config import preset
    from gli_helpers.data import DataConfig
    from gli_helpers.errors import ConfigError
    from gli_helpers.experiment import Experiment
    from gli_helpers.runner import run_benchmark
    from gli_helpers.spec import RunSpec
    exp = Experiment(mufac_bench, preset("smoke", mufac_bench.name), torch.device("cpu"), tmp_path)
    spec = RunSpec(mufac_bench.name, tmp_path, tmp_path, "smoke", methods=["finetune"], trajectory_every=0,
                   method_config={"gli": {"perturbation_steps": 3}}, data=DataConfig(**mufac_bench.data_config))
    with pytest.raises(ConfigError, match="sets gli, which this run does not include"):
        run_benchmark(spec, experiment=exp)
