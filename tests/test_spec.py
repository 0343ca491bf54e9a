"""The run specification: one frozen object from the command line (or a notebook, or Python) to every engine."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest
import torch

from gli_helpers.errors import ConfigError
from gli_helpers.spec import RunSpec


def parsed(command: str, *argv: str) -> argparse.Namespace:
    """The namespace the command line builds for ``command`` (the parser of cli.COMMANDS, nothing run)."""
    from gli_helpers.cli import COMMANDS
    for name, _, options, _ in COMMANDS:
        if name == command:
            p = argparse.ArgumentParser()
            options(p)
            return p.parse_args(list(argv))
    raise KeyError(command)


def test_the_command_line_builds_one_spec_with_every_setting(tmp_path):
    from gli_helpers.cli import spec_from_args
    args = parsed("run", "--benchmark", "synthetic-mufac", "--root", "data/x", "--out", "runs/y", "--preset", "smoke",
                  "--methods", "gli,finetune", "--seeds", "0,2", "--procedure", "authors", "--trajectory-every", "0",
                  "--method-config", '{"gli": {"perturbation_steps": 3}}', "--epochs", "2", "--set", "momentum=0.5",
                  "--validation-share", "0.2", "--engine", "ray", "--threads", "2")
    spec = spec_from_args(args)
    assert (spec.methods, spec.seeds, spec.procedure, spec.trajectory_every) == (("gli", "finetune"), (0, 2), "authors", 0)
    assert spec.method_config == {"gli": {"perturbation_steps": 3}}
    assert spec.overrides == {"epochs": 2, "momentum": 0.5}  # options not given are not overrides
    assert (spec.engine, spec.threads, spec.data.validation_share) == ("ray", 2, 0.2)
    assert Path(spec.root).is_absolute() and spec.run_dir == str(Path("runs/y").resolve())
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.seeds = (1,)
    assert spec.replace(seeds=[1]).seeds == (1,) and spec.seeds == (0, 2)
    assert spec.train_config(2).seed == 2 and spec.train_config(2).epochs == 2


@pytest.mark.parametrize("fields, why", [
    ({"address": "10.0.0.5:6379"}, "address .* is for the Ray engine"),
    ({"engine": "ray", "relearn": object()}, "relearning test .* runs with the local engine"),
    ({"engine": "spark"}, "engine must be one of local, ray"),
    ({"procedure": "honset"}, "unknown procedure 'honset'"),
    ({"seeds": []}, "no seeds"),
    ({"trajectory_every": -1}, "trajectory_every is a number of steps"),
    ({"threads": 0}, "threads must be at least 1"),
    ({"overrides": {"seed": 3}}, "'seed' belongs in the spec's own field"),
])
def test_a_spec_that_cannot_run_is_refused_when_built(fields, why):
    with pytest.raises(ConfigError, match="this run cannot start: .*" + why):
        RunSpec("synthetic-mufac", "x", "y", "smoke", **fields)


def test_an_experiment_handed_beside_a_spec_must_be_the_one_it_describes(mufac_bench, tmp_path):
    from gli_helpers.config import preset
    from gli_helpers.data import DataConfig
    from gli_helpers.experiment import Experiment
    from gli_helpers.runner import run_benchmark
    exp = Experiment(mufac_bench, preset("smoke", mufac_bench.name), torch.device("cpu"), tmp_path)
    data = DataConfig(**mufac_bench.data_config)
    RunSpec(mufac_bench.name, tmp_path, tmp_path, "smoke", data=data).check_experiment(exp)  # the same: accepted
    for fields, what in (({"overrides": {"epochs": 9}}, "training recipe"), ({"run_dir": tmp_path / "other"}, "run folder"),
                         ({"data": DataConfig(validation_share=0.5)}, "data options")):
        spec = RunSpec(mufac_bench.name, tmp_path, **{"run_dir": tmp_path, "data": data, **fields},
                       preset="smoke", methods=["finetune"])
        with pytest.raises(ConfigError, match=f"differs from the run specification in its {what}"):
            run_benchmark(spec, experiment=exp)
    assert not (tmp_path / "results.csv").exists() and not (tmp_path / "other").exists()


def test_tune_and_the_audit_read_their_spec_as_they_can(tmp_path):
    from gli_helpers.audit import audit_procedure
    from gli_helpers.tuning import run_tune
    base = RunSpec("synthetic-mufac", "x", tmp_path, "smoke", methods=["gli"])
    assert audit_procedure(base) == "honest"  # a spec left at "default": the audit keeps the final model
    assert audit_procedure(base.replace(procedure="authors")) == "authors"
    with pytest.raises(ConfigError, match="tune runs its trials on Ray"):
        run_tune(RunSpec("synthetic-mufac", "x", tmp_path, "smoke", methods=["finetune"]), 2)
    with pytest.raises(ConfigError, match="a run's own procedure \\('authors'\\)"):
        run_tune(RunSpec("synthetic-mufac", "x", tmp_path, "smoke", methods=["finetune"], procedure="authors",
                         engine="ray"), 2)
    assert not any(tmp_path.iterdir())


def test_methods_are_a_list_and_an_empty_list_on_the_command_line_is_refused():
    from gli_helpers.cli import spec_from_args
    with pytest.raises(ConfigError, match="methods is a list of names, got the string 'gli'"):
        RunSpec("synthetic-mufac", "x", "y", "smoke", methods="gli")
    args = parsed("run", "--benchmark", "synthetic-mufac", "--root", "x", "--out", "y", "--methods", "")
    with pytest.raises(ConfigError, match="no methods"):
        spec_from_args(args)


def test_local_paths_stay_as_given_and_ray_paths_are_made_absolute():
    local = RunSpec("synthetic-mufac", "data/x", "runs/y", "smoke")
    assert (local.root, local.run_dir) == ("data/x", "runs/y")  # a run's records name its data as the user did
    ray = local.replace(engine="ray")
    assert ray.root == str(Path("data/x").resolve()) and ray.run_dir == str(Path("runs/y").resolve())
