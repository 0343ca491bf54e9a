"""The ``Benchmark``: decoded splits (train, forget, retain, test, unseen, optional validation)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

from ..errors import DataError
from ..io import stable_hash


@dataclass
class Table:
    """Image rows of one benchmark role before decoding: where each image is and whose it is."""

    paths: list[str]
    persons: list[str]
    groups: list[str]  # the unit that splits never share: a family (MUFAC) or an identity (MUCAC)
    labels: np.ndarray  # int64 (N,) for a multi-class task, float32 (N, K) for a multi-label task
    lines: list[str] = field(default_factory=list)  # "file:line" of each row, for error messages

    def __len__(self):
        return len(self.paths)

    def take(self, idx) -> Table:
        idx = np.asarray(idx, dtype=np.int64)
        return Table([self.paths[i] for i in idx], [self.persons[i] for i in idx], [self.groups[i] for i in idx],
                      self.labels[idx], [self.lines[i] for i in idx] if self.lines else [])


@dataclass
class Split:
    """One decoded split: uint8 images (N, 3, R, R) with labels, person ids and source paths."""

    images: torch.Tensor
    labels: torch.Tensor
    persons: np.ndarray
    groups: np.ndarray
    paths: list[str]

    def __len__(self):
        return int(self.images.shape[0])

    def subset(self, idx) -> Split:
        idx = torch.as_tensor(np.asarray(idx, dtype=np.int64))
        return Split(self.images[idx], self.labels[idx], self.persons[idx.numpy()], self.groups[idx.numpy()],
                     [self.paths[i] for i in idx.tolist()])

    def to(self, device) -> Split:
        return Split(self.images.to(device), self.labels.to(device), self.persons, self.groups, self.paths)


@dataclass
class Benchmark:
    name: str
    task: str  # "multiclass" (MUFAC, binary young) or "multilabel" (MUCAC)
    label_names: list[str]
    resolution: int
    splits: dict[str, Split]
    source: str
    source_fingerprint: str
    options: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    data_config: dict = field(default_factory=dict)  # the DataConfig it was loaded with (registry.DataConfig.to_dict)

    @property
    def spec(self):
        """Its entry in the benchmark registry (task, recipe, the paper's table, binary or not)."""
        from .registry import get_benchmark
        return get_benchmark(self.name)

    @property
    def num_outputs(self) -> int:
        return len(self.label_names)

    # The splits as declared attributes (``splits`` holds them by name, with ``validation`` when one is held out).
    @property
    def train(self) -> Split:
        return self.splits["train"]

    @property
    def forget(self) -> Split:
        return self.splits["forget"]

    @property
    def retain(self) -> Split:
        return self.splits["retain"]

    @property
    def test(self) -> Split:
        return self.splits["test"]

    @property
    def unseen(self) -> Split:
        return self.splits["unseen"]

    @property
    def validation(self) -> Split | None:
        """The held-out validation split, or None when the benchmark was loaded without one."""
        return self.splits.get("validation")

    def fingerprint(self, split: str) -> str:
        """Identify exactly which images, labels and resolution a split holds (checkpoints record it)."""
        s = self.splits[split]
        return stable_hash("split-v1", self.source_fingerprint, self.resolution, self.task, s.paths,
                           s.labels.tolist())[:16]

    @cached_property
    def evaluation_fingerprint(self) -> str:
        """Identify every split ``metrics.evaluate`` reads: stored numbers describe these images only (computed
        once; the splits are fixed when the benchmark is built)."""
        return stable_hash("eval-v1", *(f"{s}:{self.fingerprint(s)}" for s in sorted(self.splits)))[:16]

    def summary(self) -> dict:
        out = {"benchmark": self.name, "task": self.task, "source": self.source, "resolution": self.resolution,
               "options": self.options, "splits": {}}
        for name, s in self.splits.items():
            if self.task == "multiclass":
                counts = Counter(s.labels.tolist())
                labels = {self.label_names[k]: counts.get(k, 0) for k in range(self.num_outputs)}
            else:
                pos = s.labels.sum(0).tolist() if len(s) else [0] * self.num_outputs
                labels = {n: int(v) for n, v in zip(self.label_names, pos, strict=False)}
            out["splits"][name] = {"images": len(s), "people": int(len(set(s.persons.tolist()))),
                                   "groups": int(len(set(s.groups.tolist()))), "labels": labels}
        if self.notes:
            out["notes"] = self.notes
        return out


def carve_validation(test: Table, share: float, seed: int) -> tuple[Table, Table]:
    """Hold out whole groups (families / identities) of the test role as a validation split."""
    if not 0 < share < 1:
        raise DataError(f"validation share must be between 0 and 1 (exclusive), got {share}.")
    groups = sorted(set(test.groups))
    rng = np.random.default_rng(seed)
    n_val = max(1, int(round(share * len(groups))))
    if n_val >= len(groups):
        raise DataError(f"validation share {share} would take every one of the {len(groups)} test groups; use a smaller share.")
    val_groups = set(rng.permutation(groups)[:n_val].tolist())
    is_val = np.array([g in val_groups for g in test.groups])
    return test.take(np.flatnonzero(~is_val)), test.take(np.flatnonzero(is_val))


def check_disjoint(tables: dict[str, Table], key: str = "groups") -> None:
    """Splits share no image file and no ``key`` (groups or persons); a clear error names the first overlap."""
    names = list(tables)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = set(tables[a].paths) & set(tables[b].paths)
            if both:
                raise DataError(f"splits {a!r} and {b!r} overlap: {len(both)} image(s) in both, e.g. {sorted(both)[0]}. "
                                "Check the split options (--forget-count, --forget-range, thresholds).")
            both = set(getattr(tables[a], key)) & set(getattr(tables[b], key))
            if both:
                raise DataError(f"splits {a!r} and {b!r} share {len(both)} {key}, e.g. {sorted(both)[0]}; "
                                "a person (and for test/unseen, a family) must be in one split only. "
                                "Check the split options.")
