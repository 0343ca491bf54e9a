"""MUCAC (CelebA-HQ): multi-label male / smiling / young, or the binary task young.

Splits by identity number (docs/METHODS.md, "The data"): test < 190, unseen >= 4855, and inside
train the forget range [190, 1250) (the benchmark's) or [1970, 4855) (the GLI runs').
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from .benchmark import Table
from .source import locate

IDENTITY_FILE = "CelebA-HQ-identity.txt"
ATTRIBUTE_FILE = "CelebA-HQ-attribute.txt"
IMAGE_DIR = "CelebAMask-HQ/CelebA-HQ-img"
ATTRIBUTES = ("Male", "Smiling", "Young")
TASKS = {"multilabel": list(ATTRIBUTES), "young": ["old", "young"]}
FORGET_RANGES = {"benchmark": (190, 1250), "gli": (1970, 4855)}
DEFAULT_TEST_BELOW, DEFAULT_UNSEEN_FROM = 190, 4855


def read_identities(source) -> dict[str, int]:
    where = source.describe(IDENTITY_FILE)
    out = {}
    for lineno, line in enumerate(source.read(IDENTITY_FILE).decode().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise DataError(f"{where} line {lineno}: expected '<image>.jpg <identity number>', got {line!r}.")
        out[parts[0]] = int(parts[1])
    if not out:
        raise DataError(f"{where} is empty.")
    return out


def read_attributes(source) -> dict[str, np.ndarray]:
    where = source.describe(ATTRIBUTE_FILE)
    lines = [ln for ln in source.read(ATTRIBUTE_FILE).decode().splitlines() if ln.strip()]
    if len(lines) < 2 or not lines[0].strip().isdigit():
        raise DataError(f"{where}: line 1 must be the image count and line 2 the attribute names.")
    names = lines[1].split()
    missing = [a for a in ATTRIBUTES if a not in names]
    if missing:
        raise DataError(f"{where} line 2: attribute(s) {missing} not found among {len(names)} names.")
    cols = [names.index(a) for a in ATTRIBUTES]
    out = {}
    for lineno, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if len(parts) != len(names) + 1:
            raise DataError(f"{where} line {lineno}: {len(parts) - 1} values for {len(names)} attributes.")
        vals = [parts[1 + c] for c in cols]
        if any(v not in ("1", "-1") for v in vals):
            raise DataError(f"{where} line {lineno}: attribute values must be 1 or -1, got {vals}.")
        out[parts[0]] = np.array([v == "1" for v in vals], dtype=np.float32)
    if int(lines[0]) != len(out):
        raise DataError(f"{where}: line 1 says {int(lines[0])} images but {len(out)} rows follow.")
    return out


def parse_range(text: str) -> tuple[int, int]:
    try:
        a, b = (int(x) for x in str(text).split(":"))
    except ValueError:
        raise DataError(f"identity range {text!r} must look like A:B (for example 190:1250).") from None
    if a >= b:
        raise DataError(f"identity range {text!r} is empty; A must be below B.")
    return a, b


def read_mucac(root, task: str = "multilabel", test_below: int | None = None, unseen_from: int | None = None,
               forget_range=None):
    """Read MUCAC from its folder; ``forget_range`` is (A, B), "A:B", or a name in FORGET_RANGES."""
    if task not in TASKS:
        raise DataError(f"unknown MUCAC task {task!r}; valid: {sorted(TASKS)}.")
    source = locate(root, IDENTITY_FILE)
    ids, attrs = read_identities(source), read_attributes(source)
    only_ids, only_attrs = sorted(set(ids) - set(attrs)), sorted(set(attrs) - set(ids))
    if only_ids or only_attrs:
        raise DataError(f"{IDENTITY_FILE} and {ATTRIBUTE_FILE} disagree: {len(only_ids)} image(s) only in the identity "
                        f"file (e.g. {only_ids[:3]}), {len(only_attrs)} only in the attribute file (e.g. {only_attrs[:3]}). "
                        "Use the two files from the same CelebA-HQ release.")
    test_below = DEFAULT_TEST_BELOW if test_below is None else int(test_below)
    unseen_from = DEFAULT_UNSEEN_FROM if unseen_from is None else int(unseen_from)
    if forget_range is None:
        forget_range = "benchmark"
    if isinstance(forget_range, str):
        forget_range = FORGET_RANGES[forget_range] if forget_range in FORGET_RANGES else parse_range(forget_range)
    fa, fb = forget_range
    if not test_below <= fa < fb <= unseen_from:
        raise DataError(f"forget range [{fa}, {fb}) must lie inside train [{test_below}, {unseen_from}).")

    def role(identity):
        if identity < test_below:
            return "test"
        if identity >= unseen_from:
            return "unseen"
        return "forget" if fa <= identity < fb else "retain"

    rows = {r: [] for r in ("forget", "retain", "test", "unseen")}
    for name in sorted(ids, key=lambda n: (int(n.split(".")[0]) if n.split(".")[0].isdigit() else n)):
        rows[role(ids[name])].append(name)
    tables = {}
    for r, names in rows.items():
        if not names:
            what = "forget set is empty" if r == "forget" else f"{r} split is empty"
            raise DataError(f"the {what} with thresholds test<{test_below}, forget [{fa},{fb}), unseen>={unseen_from}; "
                            "adjust --test-below / --forget-range / --unseen-from.")
        lab = np.stack([attrs[n] for n in names])
        if task == "young":
            lab = lab[:, 2].astype(np.int64)
        paths = [f"{IMAGE_DIR}/{n}" for n in names]
        for p in paths:
            if not source.exists(p):
                raise DataError(f"image {source.describe(p)} is listed in {IDENTITY_FILE} but missing. "
                                "Re-extract CelebAMask-HQ, or remove its lines from both label files.")
        people = [f"id{ids[n]}" for n in names]
        tables[r] = Table(paths, people, people, lab, [f"{IDENTITY_FILE} {n}" for n in names])
    return source, tables, {"task": task, "test_below": test_below, "unseen_from": unseen_from,
                            "forget_range": [fa, fb]}
