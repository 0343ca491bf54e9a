"""Loading a benchmark: ``load_benchmark`` (reader dispatch, caching, splits) and the synthetic benchmark's default root."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .benchmark import Benchmark, Split, Table, carve_validation, check_disjoint
from .images import decode_images
from .mucac import ATTRIBUTE_FILE, IDENTITY_FILE, read_mucac
from .mucac import TASKS as MUCAC_TASKS
from .mufac import AGE_NAMES, read_mufac
from .mufac import FILES as MUFAC_FILES
from .registry import DataConfig, get_benchmark
from .synthetic import make_synthetic_mucac, make_synthetic_mufac, read_manifest

__all__ = ["load_benchmark", "ensure_synthetic", "default_synthetic_root"]


def default_synthetic_root(benchmark: str) -> Path:
    """Where a synthetic benchmark lives by default: data/synthetic-mufac, or data/synthetic-mucac for both MUCAC
    twins. Only there is it generated on first use; anywhere else ``make-synthetic`` creates it."""
    return Path("data") / f"synthetic-{get_benchmark(benchmark).reader}"


def ensure_synthetic(benchmark: str, root, seed: int = 0, log=None) -> Path:
    """``root`` of a synthetic benchmark, generated (with a line saying so) when it is the default root and does not
    exist yet; a missing or empty root elsewhere is an error (a mistyped path must not become a new dataset)."""
    import sys
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        return root
    default = default_synthetic_root(benchmark)
    fmt = get_benchmark(benchmark).reader
    if tuple(root.parts[-2:]) != default.parts or root.is_file():
        state = "is empty" if root.exists() else "does not exist"
        raise DataError(f"{root} {state}: no synthetic benchmark there. Create one with python -m gli_helpers "
                        f"make-synthetic --format {fmt} --out {root}, or use the default --root {default}, where it "
                        "is generated on first use.")
    (log or (lambda m: print(m, file=sys.stderr)))(f"{root} does not exist yet: generating the synthetic {fmt} "
                                                     f"benchmark there (seed {seed}).")
    if fmt == "mufac":
        make_synthetic_mufac(root, seed=seed)
    else:
        make_synthetic_mucac(root, seed=seed)
    return root


def _read_mufac(root, spec, data: DataConfig, forget_count):
    source, tables, options = read_mufac(root, forget_count=forget_count)
    return source, tables, options, list(AGE_NAMES), sorted(f for f, _ in MUFAC_FILES.values())


def _read_mucac(root, spec, data: DataConfig, forget_count):
    source, tables, options = read_mucac(root, spec.labels, data.test_below, data.unseen_from, data.forget_range)
    return source, tables, options, MUCAC_TASKS[spec.labels], [IDENTITY_FILE, ATTRIBUTE_FILE]


# A registry entry's ``reader`` names one of these: (root, spec, data config, forget count) -> (source, the split
# tables, the options it read with, label names, the label files its fingerprint covers).
READERS = {"mufac": _read_mufac, "mucac": _read_mucac}


def load_benchmark(benchmark: str, root, resolution: int = 128, data: DataConfig | None = None, *,
                   progress: bool = False, **options) -> Benchmark:
    """Read, split and decode a benchmark.

    ``benchmark`` is a name of the registry (BENCHMARKS); ``root`` the dataset's zip or folder (a synthetic
    one is generated only at its default root, ``default_synthetic_root``, when missing). ``data`` (a DataConfig,
    or its fields as keywords in ``options``) chooses the splits, the validation share, deduplication and the
    image cache. Images are decoded once at ``resolution`` and cached. A validation split holds out whole test
    families / identities for choices (early stopping) that must not look at reported numbers.
    """
    spec = get_benchmark(benchmark)
    data = (data or DataConfig()).with_options(**options)
    notes = []
    forget_count = data.forget_count
    if spec.synthetic:
        root = ensure_synthetic(benchmark, root)
        manifest = read_manifest(root) or {}
        if manifest.get("format", spec.reader) != spec.reader:
            raise DataError(f"{root} holds a synthetic {manifest['format']} benchmark, not {spec.reader}; "
                            f"use --benchmark synthetic-{manifest['format']} or another --root.")
        if spec.reader == "mufac" and forget_count is None:
            forget_count = manifest.get("forget_count")
    source, tables, read_options, label_names, label_files = READERS[spec.reader](root, spec, data, forget_count)
    task = spec.task
    check_disjoint({"forget": tables["forget"], "retain": tables["retain"]}, key="paths")
    cut = sorted(set(tables["forget"].persons) & set(tables["retain"].persons))
    if cut:  # real MUFAC: its first 1,500 rows end inside person F0046/D
        notes.append(f"the forget cut splits {len(cut)} person(s) between forget and retain: {', '.join(cut[:5])}")
    check_disjoint({"train": _concat(tables["forget"], tables["retain"]), "test": tables["test"],
                    "unseen": tables["unseen"]}, key="groups")
    fingerprint = source.fingerprint(label_files)
    order = [r for r in ("forget", "retain", "test", "unseen")]
    all_paths = [p for r in order for p in tables[r].paths]
    images, info = decode_images(source, all_paths, resolution, fingerprint, data.cache_dir, progress)
    offsets = np.cumsum([0] + [len(tables[r]) for r in order])
    splits = {r: _split(tables[r], images[offsets[k]:offsets[k + 1]]) for k, r in enumerate(order)}
    validation_share, validation_seed = data.validation_share, data.validation_seed
    if validation_share:
        keep, val = carve_validation(tables["test"], validation_share, validation_seed)
        test = splits["test"]
        pos = {p: i for i, p in enumerate(test.paths)}
        splits["test"] = test.subset([pos[p] for p in keep.paths])
        splits["validation"] = test.subset([pos[p] for p in val.paths])
        notes.append(f"validation: {len(val)} images of {len(set(val.groups))} test groups held out "
                     f"(share {validation_share}, seed {validation_seed}); the test split shrinks accordingly")
    if data.dedup:
        from .dedup import duplicate_report, phash
        report, drop = duplicate_report({n: phash(s.images) for n, s in splits.items()}, data.dedup_distance)
        for n, idx in drop.items():
            if idx:
                keep = np.setdiff1d(np.arange(len(splits[n])), idx)
                splits[n] = splits[n].subset(keep)
        notes.append(f"deduplicated (perceptual hash, max distance {data.dedup_distance}): duplicate pairs {report}; "
                     f"dropped {({n: len(v) for n, v in drop.items() if v})}")
        if len(splits["forget"]) == 0:
            raise DataError("deduplication left the forget set empty.")
    splits = {"train": _join(splits["forget"], splits["retain"]), **splits}
    read_options.update(validation_share=validation_share, validation_seed=validation_seed, dedup=data.dedup,
                        dedup_distance=data.dedup_distance)
    notes.append(f"images {'loaded from cache' if info['cached'] else 'decoded'} in {info['seconds']:.1f} s")
    return Benchmark(benchmark, task, label_names, resolution, splits, str(source.path), fingerprint, read_options,
                     notes, data_config=data.to_dict())


def _concat(a: Table, b: Table) -> Table:
    return Table(a.paths + b.paths, a.persons + b.persons, a.groups + b.groups,
                 np.concatenate([a.labels, b.labels]), a.lines + b.lines)


def _split(t: Table, images: torch.Tensor) -> Split:
    labels = torch.from_numpy(t.labels)
    return Split(images, labels, np.asarray(t.persons), np.asarray(t.groups), list(t.paths))


def _join(a: Split, b: Split) -> Split:
    return Split(torch.cat([a.images, b.images]), torch.cat([a.labels, b.labels]),
                 np.concatenate([a.persons, b.persons]), np.concatenate([a.groups, b.groups]), a.paths + b.paths)
