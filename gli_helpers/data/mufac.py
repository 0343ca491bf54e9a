"""MUFAC (Korean family age dataset): 8 age groups, read exactly as the distributed files come.

Roles (docs/METHODS.md, "The data"): the train CSV is forget + retain (forget = its first rows),
the "val" CSV is the benchmark's test set and the "test" CSV its unseen set.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from ..errors import DataError
from .benchmark import Table
from .source import Source, locate

AGE_CLASSES = "abcdefgh"
AGE_NAMES = ["0-6", "7-12", "13-19", "20-30", "31-45", "46-55", "56-66", "67-80"]
FILES = {  # role -> (csv, image folder)
    "train": ("custom_train_dataset.csv", "train_images"),
    "test": ("custom_val_dataset.csv", "val_images"),
    "unseen": ("custom_test_dataset.csv", "test_images"),
}
COLUMNS = ("family_id", "person_id", "age_class", "image_path")
DEFAULT_FORGET_COUNT = 1500


def read_csv_table(source: Source, csv_name: str, image_dir: str) -> Table:
    where = source.describe(csv_name)
    text = source.read(csv_name).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise DataError(f"{where} is empty; expected a header {','.join(COLUMNS)} and one row per image.")
    header = [h.strip() for h in rows[0]]
    # Some copies carry a leading unnamed index column (a pandas to_csv artefact).
    offset = 1 if header and header[0] in ("", "Unnamed: 0") else 0
    missing = [c for c in COLUMNS if c not in header[offset:]]
    if missing:
        raise DataError(f"{where}: missing column(s) {missing}; the header is {header}. "
                        f"A MUFAC label file has the columns {','.join(COLUMNS)} (optionally after an index column).")
    col = {c: header.index(c) for c in COLUMNS}
    paths, persons, groups, labels, lines = [], [], [], [], []
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise DataError(f"{where} line {lineno}: {len(row)} field(s), expected {len(header)}: {row}")
        fam, pid, age, img = (row[col[c]].strip() for c in COLUMNS)
        if age not in AGE_CLASSES or not age:
            raise DataError(f"{where} line {lineno}: unknown age class {age!r}; expected one of a..h.")
        if not img:
            raise DataError(f"{where} line {lineno}: empty image_path.")
        paths.append(f"{image_dir}/{img}")
        persons.append(f"{fam}/{pid}")
        groups.append(fam)
        labels.append(AGE_CLASSES.index(age))
        lines.append(f"{where} line {lineno}")
    if not paths:
        raise DataError(f"{where} has a header but no rows.")
    for path, line in zip(paths, lines, strict=False):
        if not source.exists(path):
            raise DataError(f"{line}: image {source.describe(path)} is missing. Re-extract the dataset, "
                            "or remove the row if the image is gone for good.")
    return Table(paths, persons, groups, np.asarray(labels, dtype=np.int64), lines)


def read_mufac(root, forget_count: int | None = None) -> tuple[Source, dict[str, Table], dict]:
    """Read MUFAC from its zip or unzipped folder; return (source, role tables, options used)."""
    source = locate(root, FILES["train"][0])
    tables = {role: read_csv_table(source, *FILES[role]) for role in FILES}
    train = tables.pop("train")
    n = DEFAULT_FORGET_COUNT if forget_count is None else int(forget_count)
    if n <= 0:
        raise DataError(f"the forget set is empty (forget count {n}); give --forget-count of at least 1.")
    if n >= len(train):
        raise DataError(f"forget count {n} takes all {len(train)} train images and leaves no retain set; "
                        "use a smaller --forget-count.")
    tables["forget"] = train.take(range(n))
    tables["retain"] = train.take(range(n, len(train)))
    return source, tables, {"forget_count": n}
