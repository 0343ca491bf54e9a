"""A dataset root that is either a folder or a zip archive, read through one interface."""

from __future__ import annotations

import hashlib
import os
import zipfile
import zlib
from pathlib import Path

from ..errors import DataError
from ..io import file_sha256


class Source:
    """Files of a dataset, addressed by POSIX paths relative to the dataset root.

    ``prefix`` is the folder inside the archive (or below ``path``) that holds the
    dataset files, so ``Source.read("custom_train_dataset.csv")`` works whether the
    zip has a top-level folder or not.
    """

    def __init__(self, path: str | os.PathLike, prefix: str = ""):
        self.path = Path(path)
        self.prefix = prefix.strip("/")
        if not self.path.exists():
            raise DataError(f"{self.path} does not exist. Check the path, or see data/README.md to obtain the dataset.")
        self.is_zip = self.path.is_file()
        if self.is_zip:
            if not zipfile.is_zipfile(self.path):
                raise DataError(f"{self.path} is a file but not a zip archive; give the dataset zip or its unzipped folder.")
            self._zip = zipfile.ZipFile(self.path)
            self._names = {n.rstrip("/") for n in self._zip.namelist()}
        else:
            self._zip = None
            self._names = None

    def _full(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def describe(self, rel: str) -> str:
        """A human-readable location for error messages."""
        return f"{self.path}:{self._full(rel)}" if self.is_zip else str(self.path / self._full(rel))

    def exists(self, rel: str) -> bool:
        if self.is_zip:
            return self._full(rel) in self._names
        return (self.path / self._full(rel)).exists()

    def read(self, rel: str) -> bytes:
        if not self.exists(rel):
            raise DataError(f"missing file {self.describe(rel)}; the dataset is incomplete. Re-download or re-extract it.")
        if self.is_zip:
            try:
                return self._zip.read(self._full(rel))
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:  # a damaged member (bad CRC, bad data)
                raise DataError(f"the archive {self.path} is damaged: its member {self._full(rel)} cannot be read "
                                f"({type(exc).__name__}: {exc}). Download it again (python -m gli_helpers download, "
                                "see data/README.md); the file was left as it is.") from None
        return (self.path / self._full(rel)).read_bytes()

    def fingerprint(self, text_files: list[str]) -> str:
        """Identify the source content cheaply: a zip by its bytes; a folder by its text files' bytes
        plus the names and sizes of everything under it."""
        if self.is_zip:
            return file_sha256(self.path)
        h = hashlib.sha256()
        root = self.path / self.prefix if self.prefix else self.path
        for rel in text_files:
            h.update(rel.encode())
            h.update(hashlib.sha256(self.read(rel)).digest())
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                p = Path(dirpath) / name
                h.update(f"{p.relative_to(root).as_posix()}:{p.stat().st_size}\n".encode())
        return h.hexdigest()


def locate(path: str | os.PathLike, marker: str, zip_glob: str = "*.zip") -> Source:
    """Find the dataset root holding ``marker`` at ``path``: a zip, a folder, a folder with the
    zip inside, or a folder with one sub-folder holding the files."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist. Give the dataset folder or zip (see data/README.md for how to obtain it).")
    if path.is_file():
        src = Source(path)
        names = sorted(n for n in src._names if n == marker or n.endswith("/" + marker))
        if not names:
            raise DataError(f"{path} holds no {marker}; is this the right archive?")
        return Source(path, prefix=names[0][: -len(marker)])
    if (path / marker).exists():
        return Source(path)
    for sub in sorted(path.iterdir()):
        if sub.is_dir() and (sub / marker).exists():
            return Source(sub)
    zips = sorted(path.glob(zip_glob))
    if len(zips) > 1:
        raise DataError(f"{path} holds {len(zips)} zip archives ({', '.join(z.name for z in zips)}) and no unzipped "
                        f"dataset; point --root at the one to use, e.g. --root {zips[0]}.")
    if zips:
        return locate(zips[0], marker)
    raise DataError(f"no {marker} found in {path} (looked in the folder, its sub-folders and zip files there). "
                    "Point --root at the unzipped dataset or its zip.")
