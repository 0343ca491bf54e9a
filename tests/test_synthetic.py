"""The synthetic benchmark: deterministic, seed-dependent, loadable by the real readers, face-like."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from gli_helpers.data import load_benchmark, make_synthetic_mucac, make_synthetic_mufac
from gli_helpers.errors import DataError


def digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_different_seed_differs(tmp_path):
    kw = dict(families=(4, 2, 2), forget_families=1, image_size=24)
    make_synthetic_mufac(tmp_path / "a", seed=3, **kw)
    make_synthetic_mufac(tmp_path / "b", seed=3, **kw)
    make_synthetic_mufac(tmp_path / "c", seed=4, **kw)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")
    kw = dict(people=(3, 3, 3, 3), image_size=24)
    make_synthetic_mucac(tmp_path / "d", seed=3, **kw)
    make_synthetic_mucac(tmp_path / "e", seed=3, **kw)
    assert digest(tmp_path / "d") == digest(tmp_path / "e")


def test_refuses_to_overwrite(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "mine.txt").write_text("keep me")
    with pytest.raises(DataError, match="not empty"):
        make_synthetic_mufac(tmp_path / "x", families=(4, 2, 2), forget_families=1)
    with pytest.raises(DataError, match="not a synthetic benchmark"):
        make_synthetic_mufac(tmp_path / "x", families=(4, 2, 2), forget_families=1, overwrite=True)
    assert (tmp_path / "x" / "mine.txt").read_text() == "keep me"


def test_mufac_form_structure(mufac_bench):
    b = mufac_bench
    s = b.summary()["splits"]
    assert s["train"]["images"] == s["forget"]["images"] + s["retain"]["images"]
    # forget = whole families, the first train rows
    assert not set(b.splits["forget"].groups) & set(b.splits["retain"].groups)
    assert len(set(b.splits["forget"].groups)) == 3
    # several age groups and several images per person
    assert len(set(b.train.labels.tolist())) >= 5
    _, counts = np.unique(b.train.persons, return_counts=True)
    assert counts.mean() >= 3


def test_mucac_form_uses_benchmark_identity_ranges(mucac_bench):
    b = mucac_bench
    ids = {s: {int(p[2:]) for p in b.splits[s].persons} for s in ("test", "forget", "retain", "unseen")}
    assert max(ids["test"]) < 190 and min(ids["unseen"]) >= 4855
    assert all(190 <= i < 1250 for i in ids["forget"]) and all(1250 <= i < 4855 for i in ids["retain"])
    pos = b.train.labels.mean(0)
    assert ((pos > 0.2) & (pos < 0.8)).all()  # each attribute is present in both states


def test_faces_have_structure(mufac_bench):
    """Faces, not noise: images vary, and the same person's images resemble each other."""
    x = mufac_bench.train.images.float()
    assert x.std() > 20
    # the same person's images resemble each other more than different people's
    persons = mufac_bench.train.persons
    first = x[persons == persons[0]].mean(0)
    other = x[persons != persons[0]].mean(0)
    own = (x[persons == persons[0]] - first).abs().mean()
    assert own < (x[persons == persons[0]] - other).abs().mean()


def test_the_age_cue_moves_with_age():
    """The same people in the same views, drawn older: the face darkens step by step (skin tone, wrinkles, shadows)
    and, past middle age, the picture loses colour (greying hair)."""
    import numpy as np

    from gli_helpers.data.faces import family_traits, person_traits, random_view, render_face
    rng = np.random.default_rng(0)
    ages = [5, 15, 25, 35, 45, 55, 65, 75]
    centre, colour = np.zeros(len(ages)), np.zeros(len(ages))
    for i in range(24):
        traits, view = person_traits(rng, family_traits(rng), bool(i % 2)), random_view(rng)
        view["noise"] = 0.0
        for j, age in enumerate(ages):
            img = render_face(traits, age, 0.0, view, 64).astype(float)
            centre[j] += img[24:40, 24:40].mean()
            colour[j] += (img.max(-1) - img.min(-1)).mean()
    assert (np.diff(centre) < 0).all(), centre / 24
    assert (np.diff(colour[ages.index(35):]) < 0).all(), colour / 24


def test_readers_load_both_forms(small_mufac, small_mucac, cache_dir):
    y = load_benchmark("synthetic-mucac-young", small_mucac, 16, cache_dir=cache_dir)
    assert y.num_outputs == 2
    with pytest.raises(DataError, match="synthetic mucac benchmark"):
        load_benchmark("synthetic-mufac", small_mucac, 16, cache_dir=cache_dir)
