"""Atomic file writing and stable hashing: nothing half-written ever looks complete."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to ``path``; on success rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file ordinary permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text_atomic(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path) -> dict:
    """A JSON file this package wrote; a damaged one is an error that names it."""
    from .errors import DataError
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}. Delete it and run the command that writes it again.") from None


def merge_rows(old, new, keys: list[str]):
    """The one merge of every results file (results, trajectories, audit, tune): ``old`` with each group of rows
    sharing ``keys`` that ``new`` holds replaced by ``new``'s rows, in place, and ``new``'s other groups appended;
    the other rows of ``old`` are kept as they are. A file from before a key column existed (``old`` lacks one of
    ``keys``) cannot be matched, so ``new`` alone is returned only when ``old`` is empty; otherwise it is an error."""
    import pandas as pd

    from .errors import DataError
    if old is None or len(old) == 0:
        return new.reset_index(drop=True)
    missing = [k for k in keys if k not in old.columns]
    if missing:
        raise DataError(f"the stored rows have no column(s) {missing} to match new rows by; move the file aside (it "
                        "was left as it is) or run into another folder.")
    old_keys, new_keys = old.set_index(keys).index, new.set_index(keys).index
    group, groups = pd.factorize(old_keys)  # each stored group's place: the order of its first row
    at = pd.Index(groups).get_indexer(new_keys)  # a new row's stored group, or -1
    fresh = at < 0
    at[fresh] = len(groups) + pd.factorize(new_keys[fresh])[0]  # new groups after every stored one
    kept = ~old_keys.isin(new_keys)
    out = pd.concat([old[kept], new], ignore_index=True)
    order = pd.Series(list(group[kept]) + list(at)).to_numpy()
    return out.iloc[order.argsort(kind="stable")].reset_index(drop=True)


def read_csv(path, **kwargs):
    """A CSV file this package wrote (``pandas.read_csv`` keywords pass through); a damaged one is an error that
    names it. Merging results into a file that cannot be read would lose its rows, so nothing is written over it."""
    import pandas as pd

    from .errors import DataError
    try:
        return pd.read_csv(path, **kwargs)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot read {path}: it is damaged or not a CSV table ({type(exc).__name__}: {exc}). "
                        "Restore it (e.g. from version control) or move it aside, then run the command again; "
                        "it was left as it is.") from None


def write_csv_atomic(path, frame, index: bool = False) -> None:
    """``frame`` as CSV (with its index only when asked: tables indexed by method), never half-written."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=index)


def stable_hash(*parts) -> str:
    """Hex sha256 of a JSON encoding of ``parts`` (order-sensitive, deterministic)."""
    payload = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()


def file_sha256(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
