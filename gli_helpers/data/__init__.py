"""Dataset layer: readers for MUFAC and MUCAC as distributed, the synthetic benchmark, and ``load_benchmark``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, DataError
from .benchmark import Benchmark, Split, Table, carve_validation, check_disjoint
from .images import decode_images
from .mucac import ATTRIBUTE_FILE, IDENTITY_FILE, read_mucac
from .mucac import TASKS as MUCAC_TASKS
from .mufac import AGE_NAMES, read_mufac
from .mufac import FILES as MUFAC_FILES
from .synthetic import make_synthetic_mucac, make_synthetic_mufac, read_manifest

BENCHMARKS = ("mufac", "mucac", "mucac-young", "synthetic-mufac", "synthetic-mucac", "synthetic-mucac-young")
__all__ = ["BENCHMARKS", "Benchmark", "Split", "load_benchmark", "ensure_synthetic", "make_synthetic_mufac",
           "make_synthetic_mucac"]


def ensure_synthetic(benchmark: str, root, seed: int = 0) -> Path:
    """Generate the default synthetic benchmark at ``root`` if nothing is there yet."""
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        return root
    if benchmark == "synthetic-mufac":
        make_synthetic_mufac(root, seed=seed)
    else:
        make_synthetic_mucac(root, seed=seed)
    return root


def load_benchmark(benchmark: str, root, resolution: int = 128, *, forget_count: int | None = None,
                   test_below: int | None = None, unseen_from: int | None = None, forget_range=None,
                   validation_share: float = 0.0, validation_seed: int = 0, dedup: bool = False,
                   dedup_distance: int = 0, cache_dir=None, progress: bool = False) -> Benchmark:
    """Read, split and decode a benchmark.

    ``benchmark`` is one of BENCHMARKS; ``root`` the dataset's zip or folder (a synthetic one is
    generated there when missing). Images are decoded once at ``resolution`` and cached.
    ``validation_share`` holds out that share of the test families / identities as a validation
    split for choices (early stopping) that must not look at reported numbers.
    """
    if benchmark not in BENCHMARKS:
        raise ConfigError(f"unknown benchmark {benchmark!r}; valid: {', '.join(BENCHMARKS)}.")
    notes = []
    if benchmark.startswith("synthetic"):
        root = ensure_synthetic("synthetic-mufac" if benchmark == "synthetic-mufac" else "synthetic-mucac", root)
        manifest = read_manifest(root) or {}
        want = "mufac" if benchmark == "synthetic-mufac" else "mucac"
        if manifest.get("format", want) != want:
            raise DataError(f"{root} holds a synthetic {manifest['format']} benchmark, not {want}; "
                            f"use --benchmark synthetic-{manifest['format']} or another --root.")
        if want == "mufac" and forget_count is None:
            forget_count = manifest.get("forget_count")
    if benchmark.endswith("mufac"):
        source, tables, options = read_mufac(root, forget_count=forget_count)
        task, label_names = "multiclass", list(AGE_NAMES)
    else:
        mucac_task = "young" if benchmark.endswith("young") else "multilabel"
        source, tables, options = read_mucac(root, mucac_task, test_below, unseen_from, forget_range)
        task = "multiclass" if mucac_task == "young" else "multilabel"
        label_names = MUCAC_TASKS[mucac_task]
    check_disjoint({"forget": tables["forget"], "retain": tables["retain"]}, key="paths")
    cut = sorted(set(tables["forget"].persons) & set(tables["retain"].persons))
    if cut:  # real MUFAC: its first 1,500 rows end inside person F0046/D
        notes.append(f"the forget cut splits {len(cut)} person(s) between forget and retain: {', '.join(cut[:5])}")
    check_disjoint({"train": _concat(tables["forget"], tables["retain"]), "test": tables["test"],
                    "unseen": tables["unseen"]}, key="groups")
    label_files = sorted(f for f, _ in MUFAC_FILES.values()) if benchmark.endswith("mufac") else [IDENTITY_FILE, ATTRIBUTE_FILE]
    fingerprint = source.fingerprint(label_files)
    order = [r for r in ("forget", "retain", "test", "unseen")]
    all_paths = [p for r in order for p in tables[r].paths]
    images, info = decode_images(source, all_paths, resolution, fingerprint, cache_dir, progress)
    offsets = np.cumsum([0] + [len(tables[r]) for r in order])
    splits = {r: _split(tables[r], images[offsets[k]:offsets[k + 1]]) for k, r in enumerate(order)}
    if validation_share:
        keep, val = carve_validation(tables["test"], validation_share, validation_seed)
        test = splits["test"]
        pos = {p: i for i, p in enumerate(test.paths)}
        splits["test"] = test.subset([pos[p] for p in keep.paths])
        splits["validation"] = test.subset([pos[p] for p in val.paths])
        notes.append(f"validation: {len(val)} images of {len(set(val.groups))} test groups held out "
                     f"(share {validation_share}, seed {validation_seed}); the test split shrinks accordingly")
    if dedup:
        from .dedup import duplicate_report, phash
        report, drop = duplicate_report({n: phash(s.images) for n, s in splits.items()}, dedup_distance)
        for n, idx in drop.items():
            if idx:
                keep = np.setdiff1d(np.arange(len(splits[n])), idx)
                splits[n] = splits[n].subset(keep)
        notes.append(f"deduplicated (perceptual hash, max distance {dedup_distance}): duplicate pairs {report}; "
                     f"dropped {({n: len(v) for n, v in drop.items() if v})}")
        if len(splits["forget"]) == 0:
            raise DataError("deduplication left the forget set empty.")
    splits = {"train": _join(splits["forget"], splits["retain"]), **splits}
    options.update(validation_share=validation_share, validation_seed=validation_seed, dedup=dedup,
                   dedup_distance=dedup_distance)
    notes.append(f"images {'loaded from cache' if info['cached'] else 'decoded'} in {info['seconds']:.1f} s")
    return Benchmark(benchmark, task, label_names, resolution, splits, str(source.path), fingerprint, options, notes)


def _concat(a: Table, b: Table) -> Table:
    return Table(a.paths + b.paths, a.persons + b.persons, a.groups + b.groups,
                 np.concatenate([a.labels, b.labels]), a.lines + b.lines)


def _split(t: Table, images: torch.Tensor) -> Split:
    labels = torch.from_numpy(t.labels)
    return Split(images, labels, np.asarray(t.persons), np.asarray(t.groups), list(t.paths))


def _join(a: Split, b: Split) -> Split:
    return Split(torch.cat([a.images, b.images]), torch.cat([a.labels, b.labels]),
                 np.concatenate([a.persons, b.persons]), np.concatenate([a.groups, b.groups]), a.paths + b.paths)
