"""Fetch the real datasets from what their authors publish, verify them, and unpack them safely.

Sources are URLs (http, https, file) or local paths. A download goes to ``<name>.part`` and is
renamed only after it is complete and verified; archives are extracted into a temporary
folder, with every entry checked to stay inside the destination, then moved into place.
"""

from __future__ import annotations

import shutil
import tarfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from ..errors import DataError
from ..io import file_sha256

MUFAC_ZIP = "custom_korean_family_dataset_resolution_128.zip"
MUFAC_SHA256 = "c83b700c0f6a201de5b44de82b38da7aed046901e21cbe65433a09fa1548fb89"
MUFAC_ROWS = {"custom_train_dataset.csv": 10025, "custom_val_dataset.csv": 1539, "custom_test_dataset.csv": 1504}
# The authors' public git repository (MUFAC); CelebA-HQ images and the MUCAC label files must be given
# with --source (see data/README.md): their hosts need a browser or an account.
DEFAULT_SOURCES = {"mufac": "https://github.com/ndb796/korean_face_age_dataset/archive/refs/heads/main.zip"}
MUCAC_FILES = ("CelebA-HQ-identity.txt", "CelebA-HQ-attribute.txt")


def fetch(source: str, dest: Path, progress: bool = True) -> Path:
    """Copy or download ``source`` to ``dest`` through ``dest.part``; a failure leaves no ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    parsed = urllib.parse.urlparse(source)
    try:
        if parsed.scheme in ("http", "https", "file"):
            with urllib.request.urlopen(source, timeout=60) as resp, open(part, "wb") as out:
                total = int(resp.headers.get("Content-Length") or 0)
                bar = None
                if progress:
                    from tqdm.auto import tqdm
                    bar = tqdm(total=total or None, unit="B", unit_scale=True, desc=f"downloading {dest.name}")
                while block := resp.read(1 << 20):
                    out.write(block)
                    if bar:
                        bar.update(len(block))
                if bar:
                    bar.close()
            if total and part.stat().st_size != total:
                raise DataError(f"download of {source} stopped at {part.stat().st_size} of {total} bytes; run it again.")
        else:
            src = Path(source)
            if not src.exists():
                raise DataError(f"source {source} does not exist (neither a URL nor a local path).")
            shutil.copyfile(src, part)
        part.replace(dest)
    except (OSError, ValueError) as exc:
        raise DataError(f"could not fetch {source}: {exc}. Check the address or download it by hand "
                        "(see data/README.md) and pass the local file with --source.") from exc
    finally:
        part.unlink(missing_ok=True)
    return dest


def safe_extract(archive: Path, dest: Path) -> None:
    """Extract a zip or tar archive into ``dest``; refuse entries that would land outside it."""
    dest = dest.resolve()
    tmp = dest / f".extract-{archive.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                names = z.namelist()
                _check_members(archive, names, tmp)
                z.extractall(tmp)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as t:
                members = t.getmembers()
                bad = [m.name for m in members if m.issym() or m.islnk() or m.isdev()]
                if bad:
                    raise DataError(f"{archive} holds links or devices ({bad[:3]}); refusing to extract it.")
                _check_members(archive, [m.name for m in members], tmp)
                t.extractall(tmp, filter="data")
        else:
            raise DataError(f"{archive} is neither a zip nor a tar archive.")
        for item in tmp.iterdir():
            target = dest / item.name
            if target.exists():
                raise DataError(f"{target} already exists; move it away first (nothing was overwritten).")
            item.replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check_members(archive: Path, names: list[str], root: Path) -> None:
    for name in names:
        target = (root / name).resolve()
        if name.startswith(("/", "\\")) or (root != target and root not in target.parents):
            raise DataError(f"{archive} entry {name!r} would be written outside {root.parent}; refusing to extract.")


def _count_rows(folder: Path) -> dict[str, int]:
    out = {}
    for name in MUFAC_ROWS:
        found = sorted(folder.rglob(name))
        out[name] = sum(1 for line in found[0].read_text().splitlines()[1:] if line.strip()) if found else -1
    return out


def download_mufac(dest, source: str | None = None, extract: bool = False, progress: bool = True) -> Path:
    """Fetch MUFAC into ``dest``; a distributed zip is checked against its sha256, anything else against
    the expected file and row counts. Returns the path the package reads (the zip or the folder)."""
    dest = Path(dest) / "mufac"
    dest.mkdir(parents=True, exist_ok=True)
    source = source or DEFAULT_SOURCES["mufac"]
    name = MUFAC_ZIP if source.endswith(MUFAC_ZIP) else Path(urllib.parse.urlparse(source).path).name or "mufac.zip"
    archive = dest / name
    if archive.exists():
        raise DataError(f"{archive} already exists; remove it first to download again.")
    fetch(source, archive, progress)
    if name == MUFAC_ZIP and not extract:
        digest = file_sha256(archive)
        if digest != MUFAC_SHA256:
            archive.unlink()
            raise DataError(f"{MUFAC_ZIP} has sha256 {digest}, expected {MUFAC_SHA256}; the download is corrupt "
                            "or a different release. It was removed; try again.")
        return archive
    safe_extract(archive, dest)
    archive.unlink()
    rows = _count_rows(dest)
    if rows != MUFAC_ROWS:
        raise DataError(f"the MUFAC files in {dest} have rows {rows}, expected {MUFAC_ROWS}; "
                        "this is not the benchmark's release.")
    return dest


def download_mucac(dest, source: str, progress: bool = True) -> Path:
    """Fetch CelebA-HQ and the MUCAC label files from ``source`` (an archive or folder holding
    CelebA-HQ-identity.txt, CelebA-HQ-attribute.txt and CelebAMask-HQ/CelebA-HQ-img/)."""
    if not source:
        raise DataError("MUCAC needs --source: the CelebAMask-HQ archive together with the two label files "
                        "(see data/README.md for where the authors publish them).")
    dest = Path(dest) / "mucac"
    dest.mkdir(parents=True, exist_ok=True)
    if Path(source).is_dir():
        for item in Path(source).iterdir():
            if (dest / item.name).exists():
                raise DataError(f"{dest / item.name} already exists; move it away first.")
            (shutil.copytree if item.is_dir() else shutil.copyfile)(item, dest / item.name)
    else:
        archive = fetch(source, dest / Path(urllib.parse.urlparse(source).path).name, progress)
        safe_extract(archive, dest)
        archive.unlink()
    missing = [f for f in MUCAC_FILES if not (dest / f).is_file()]
    if missing or not (dest / "CelebAMask-HQ" / "CelebA-HQ-img").is_dir():
        raise DataError(f"{dest} lacks {missing or 'CelebAMask-HQ/CelebA-HQ-img/'} after unpacking {source}.")
    listed = sum(1 for line in (dest / MUCAC_FILES[0]).read_text().splitlines() if line.strip())
    found = sum(1 for _ in (dest / "CelebAMask-HQ" / "CelebA-HQ-img").glob("*.jpg"))
    if listed != found:
        raise DataError(f"{MUCAC_FILES[0]} lists {listed} images but {found} are in CelebA-HQ-img/; incomplete download.")
    return dest
