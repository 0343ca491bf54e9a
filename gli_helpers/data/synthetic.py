"""The embedded synthetic face benchmark, written in MUFAC's or MUCAC's on-disk format.

Deterministic from a seed. Families of people with memorisable traits; each image's
visual age is drawn around its age group's centre plus a personal offset, so
neighbouring groups overlap and a trained model memorises its training people: the
membership-inference gap that makes unlearning a real problem.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError
from ..io import write_json_atomic
from .faces import family_traits, person_traits, random_view, render_face
from .mucac import ATTRIBUTE_FILE, IDENTITY_FILE, IMAGE_DIR
from .mufac import AGE_CLASSES, FILES

AGE_RANGES = [(0, 6), (7, 12), (13, 19), (20, 30), (31, 45), (46, 55), (56, 66), (67, 80)]
ROLE_AGES = {"GF": (62, 80), "GM": (60, 80), "F": (36, 58), "M": (34, 56), "S": (8, 30), "D": (6, 28),
             "S2": (3, 22), "D2": (3, 22)}
MANIFEST = "synthetic.json"
GENERATOR_VERSION = 1
CELEBA_ATTRIBUTES = ("5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose "
                     "Black_Hair Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee "
                     "Gray_Hair Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard "
                     "Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair "
                     "Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()


def _jpeg(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def _smile(rng) -> tuple[float, bool]:
    """Expression strength and its label; the label is mostly, not always, the visible smile."""
    s = float(rng.uniform(-0.3, 1.0))
    label = (s + rng.normal(0, 0.12)) > 0.4
    return s, bool(label)


def _prepare(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise DataError(f"{out} exists and is not empty; choose another --out, or pass overwrite=True "
                            "(--overwrite) to replace it.")
        if not (out / MANIFEST).exists():
            raise DataError(f"refusing to overwrite {out}: it is not a synthetic benchmark folder (no {MANIFEST}).")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def make_synthetic_mufac(out, seed: int = 0, families: tuple[int, int, int] = (64, 16, 16), forget_families: int = 12,
                         image_size: int = 64, overwrite: bool = False) -> dict:
    """Write a MUFAC-format benchmark: ``families`` = (train, test, unseen) family counts; the forget
    set is the first ``forget_families`` train families (their rows come first in the train CSV)."""
    out = Path(out)
    if forget_families < 1 or forget_families >= families[0]:
        raise DataError(f"forget_families must be between 1 and {families[0] - 1}, got {forget_families}.")
    _prepare(out, overwrite)
    rng = np.random.default_rng(seed)
    bases = {"train": 1, "test": 801, "unseen": 851}
    counts, forget_rows = {}, 0
    for role, n_fam in zip(("train", "test", "unseen"), families, strict=False):
        csv_name, img_dir = FILES[role]
        (out / img_dir).mkdir()
        lines = ["family_id,person_id,age_class,image_path"]
        for f in range(n_fam):
            fam_id = f"F{bases[role] + f:04d}"
            fam = family_traits(rng)
            members = ["F", "M"] + list(rng.choice(["S", "D", "S2", "D2", "GF", "GM"], size=rng.integers(1, 4),
                                                   replace=False))
            for pid in members:
                male = pid in ("F", "S", "S2", "GF")
                person = person_traits(rng, fam, male)
                lo, hi = ROLE_AGES[pid]
                now = int(rng.integers(lo, hi + 1))
                top = next(i for i, (a, b) in enumerate(AGE_RANGES) if a <= now <= b)
                groups = sorted(rng.choice(top + 1, size=min(top + 1, int(rng.integers(1, 4))), replace=False))
                for g in groups:
                    a, b = AGE_RANGES[g]
                    for k in range(1, int(rng.integers(2, 5)) + 1):
                        visual = rng.uniform(a, b + 1) + rng.normal(0, 0.35 * (b + 1 - a)) + person["looks_older"]
                        name = f"{fam_id}_AGE_{pid}_{now}_{AGE_CLASSES[g]}{k}.jpg"
                        img = render_face(person, max(visual, 0.5), _smile(rng)[0], random_view(rng), image_size)
                        (out / img_dir / name).write_bytes(_jpeg(img))
                        lines.append(f"{fam_id},{pid},{AGE_CLASSES[g]},{name}")
            if role == "train" and f == forget_families - 1:
                forget_rows = len(lines) - 1
        (out / csv_name).write_text("\n".join(lines) + "\n")
        counts[role] = len(lines) - 1
    manifest = {"format": "mufac", "generator_version": GENERATOR_VERSION, "seed": seed, "families": list(families),
                "forget_families": forget_families, "forget_count": forget_rows, "image_size": image_size,
                "images": counts}
    write_json_atomic(out / MANIFEST, manifest)
    return manifest


def make_synthetic_mucac(out, seed: int = 0, people: tuple[int, int, int, int] = (40, 80, 160, 40),
                         image_size: int = 64, overwrite: bool = False) -> dict:
    """Write a MUCAC-format benchmark: ``people`` = (test, forget, retain, unseen) identity counts, numbered
    inside the benchmark's identity ranges so the default thresholds split it as they split CelebA-HQ."""
    out = Path(out)
    _prepare(out, overwrite)
    rng = np.random.default_rng(seed)
    ranges = [(0, 190), (190, 1250), (1250, 4855), (4855, 6217)]
    ids = []
    for n, (a, b) in zip(people, ranges, strict=False):
        if not 1 <= n <= b - a:
            raise DataError(f"people per range must be between 1 and {b - a} for identities [{a}, {b}), got {n}.")
        ids += sorted(rng.choice(np.arange(a, b), size=n, replace=False).tolist())
    rows = []  # (identity, image array, attribute vector)
    col = {name: i for i, name in enumerate(CELEBA_ATTRIBUTES)}
    for identity in ids:
        male = bool(rng.random() < 0.45)
        person = person_traits(rng, family_traits(rng), male)
        age = float(np.clip(rng.normal(34, 13), 17, 80))
        for _ in range(int(rng.integers(3, 7))):
            visual = age + rng.normal(0, 4) + person["looks_older"]
            smile, smiling = _smile(rng)
            img = render_face(person, visual, smile, random_view(rng), image_size)
            attr = np.where(rng.random(len(CELEBA_ATTRIBUTES)) < 0.15, 1, -1)
            for name, on in (("Male", male), ("Smiling", smiling), ("Young", age + rng.normal(0, 2) < 36),
                             ("Eyeglasses", person["glasses"]), ("No_Beard", person["beard"] == 0 or not male),
                             ("Mouth_Slightly_Open", smile > 0.5), ("Gray_Hair", visual > 55)):
                attr[col[name]] = 1 if on else -1
            rows.append((identity, img, attr))
    order = rng.permutation(len(rows))  # CelebA-HQ numbers images independently of identity
    (out / IMAGE_DIR).mkdir(parents=True)
    id_lines, attr_lines = [], [str(len(rows)), " ".join(CELEBA_ATTRIBUTES)]
    for i, r in enumerate(order):
        identity, img, attr = rows[r]
        (out / IMAGE_DIR / f"{i}.jpg").write_bytes(_jpeg(img))
        id_lines.append(f"{i}.jpg {identity}")
        attr_lines.append(f"{i}.jpg " + " ".join(str(int(v)) for v in attr))
    (out / IDENTITY_FILE).write_text("\n".join(id_lines) + "\n")
    (out / ATTRIBUTE_FILE).write_text("\n".join(attr_lines) + "\n")
    manifest = {"format": "mucac", "generator_version": GENERATOR_VERSION, "seed": seed, "people": list(people),
                "image_size": image_size, "images": len(rows)}
    write_json_atomic(out / MANIFEST, manifest)
    return manifest


def read_manifest(root) -> dict | None:
    from ..io import read_json
    p = Path(root) / MANIFEST
    return read_json(p) if p.is_file() else None
