"""Download (against local files and file:// URLs), safe extraction, and perceptual-hash duplicates."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch

from gli_helpers.data.dedup import duplicate_report, find_duplicates, phash
from gli_helpers.data.download import MUFAC_ZIP, download_mucac, download_mufac, fetch, safe_extract
from gli_helpers.errors import DataError

from .test_readers import write_mucac, write_mufac


def test_mufac_zip_by_file_url_verified_by_checksum(tmp_path, mufac_zip):
    path = download_mufac(tmp_path, mufac_zip.as_uri(), progress=False)
    assert path == tmp_path / "mufac" / MUFAC_ZIP and path.stat().st_size == mufac_zip.stat().st_size
    assert not list((tmp_path / "mufac").glob("*.part"))


def test_mufac_wrong_checksum_is_removed(tmp_path):
    fake = tmp_path / "src" / MUFAC_ZIP
    fake.parent.mkdir()
    fake.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    with pytest.raises(DataError, match="sha256"):
        download_mufac(tmp_path / "dest", str(fake), progress=False)
    assert not (tmp_path / "dest" / "mufac" / MUFAC_ZIP).exists()


def test_mufac_other_archive_checked_by_row_counts(tmp_path):
    root = write_mufac(tmp_path / "m")
    archive = tmp_path / "repo.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in root.rglob("*"):
            z.write(p, "repo-main/" + p.relative_to(root).as_posix())
    with pytest.raises(DataError, match="rows"):
        download_mufac(tmp_path / "dest", str(archive), progress=False)


def test_zip_slip_refused(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("ok.txt", "fine")
        z.writestr("../escaped.txt", "bad")
    (tmp_path / "dest").mkdir()
    with pytest.raises(DataError, match="outside"):
        safe_extract(evil, tmp_path / "dest")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "dest" / "ok.txt").exists()


def test_interrupted_fetch_leaves_nothing(tmp_path):
    with pytest.raises(DataError, match="could not fetch|does not exist"):
        fetch((tmp_path / "missing.zip").as_uri(), tmp_path / "out.zip", progress=False)
    assert not (tmp_path / "out.zip").exists() and not (tmp_path / "out.zip.part").exists()


def test_mucac_from_local_archive(tmp_path):
    root = write_mucac(tmp_path / "c", [5, 200, 1300, 4900])
    archive = tmp_path / "mucac.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in root.rglob("*"):
            z.write(p, p.relative_to(root).as_posix())
    out = download_mucac(tmp_path / "dest", archive.as_uri(), progress=False)
    assert (out / "CelebA-HQ-identity.txt").is_file() and len(list((out / "CelebAMask-HQ/CelebA-HQ-img").iterdir())) == 4
    with pytest.raises(DataError, match="needs --source"):
        download_mucac(tmp_path / "d2", "")


def test_phash_finds_copies_not_different_images():
    g = torch.Generator().manual_seed(0)
    imgs = (torch.rand(6, 3, 32, 32, generator=g) * 255).to(torch.uint8)
    blurred = torch.nn.functional.avg_pool2d(imgs.float(), 3, 1, 1)
    batch = torch.cat([blurred, blurred[:2].clone()]).clamp(0, 255).to(torch.uint8)
    h = phash(batch)
    pairs = find_duplicates(h)
    assert sorted(pairs) == [(0, 6), (1, 7)]
    assert set(pairs) <= set(find_duplicates(h, max_distance=3))
    report, drop = duplicate_report({"retain": h[:4], "forget": h[4:6], "test": h[:1]})
    assert report["test/retain"] == 1 and drop["retain"] == [0] and drop["test"] == []
    assert np.asarray(h).dtype == np.uint64
