"""MUFAC and MUCAC readers on small fixtures written here, including every malformed variant."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from gli_helpers.data import load_benchmark
from gli_helpers.errors import ConfigError, DataError

HEADER = "family_id,person_id,age_class,image_path"


def jpeg(color=(120, 80, 60), size=16) -> bytes:
    buf = io.BytesIO()
    arr = np.zeros((size, size, 3), np.uint8) + np.array(color, np.uint8)
    arr[size // 4: size // 2, size // 4: size // 2] = 255 - arr[0, 0]
    Image.fromarray(arr).save(buf, format="JPEG")
    return buf.getvalue()


def write_mufac(root, index_column=False, rows=None):
    """A tiny MUFAC folder: 2 train families (the first is the forget set), 1 test, 1 unseen."""
    rows = rows or {
        "train": [("F0001", "D", "a"), ("F0001", "D", "b"), ("F0001", "M", "d"), ("F0002", "S", "c"), ("F0002", "F", "e"),
                  ("F0002", "F", "f")],
        "test": [("F0801", "D", "a"), ("F0801", "GM", "h")],
        "unseen": [("F0851", "S", "b"), ("F0851", "F", "g")],
    }
    files = {"train": ("custom_train_dataset.csv", "train_images"), "test": ("custom_val_dataset.csv", "val_images"),
             "unseen": ("custom_test_dataset.csv", "test_images")}
    root.mkdir(parents=True, exist_ok=True)
    for role, (csv_name, folder) in files.items():
        (root / folder).mkdir(exist_ok=True)
        lines = [("," if index_column else "") + HEADER]
        for k, (fam, pid, age) in enumerate(rows[role]):
            name = f"{fam}_AGE_{pid}_30_{age}{k}.jpg"
            (root / folder / name).write_bytes(jpeg((k * 30 % 255, 100, 50)))
            lines.append((f"{k}," if index_column else "") + f"{fam},{pid},{age},{name}")
        (root / csv_name).write_text("\n".join(lines) + "\n")
    return root


def load(root, **kw):
    return load_benchmark("mufac", root, 16, **kw)


@pytest.mark.parametrize("index_column", [False, True])
def test_mufac_folder_roles_and_counts(tmp_path, cache_dir, index_column):
    bench = load(write_mufac(tmp_path / "m", index_column), forget_count=3, cache_dir=cache_dir)
    assert [len(bench.splits[s]) for s in ("train", "forget", "retain", "test", "unseen")] == [6, 3, 3, 2, 2]
    assert bench.splits["forget"].persons.tolist() == ["F0001/D", "F0001/D", "F0001/M"]
    assert bench.splits["test"].labels.tolist() == [0, 7]  # the "val" file is the test split
    assert bench.splits["unseen"].paths[0].startswith("test_images/")  # the "test" file is the unseen split
    assert bench.train.images.dtype.is_floating_point is False and bench.train.images.shape[1:] == (3, 16, 16)


def test_mufac_zip_with_top_folder_matches_folder(tmp_path, cache_dir):
    root = write_mufac(tmp_path / "m")
    zpath = tmp_path / "m.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                z.write(p, "top/" + p.relative_to(root).as_posix())
    a, b = load(root, forget_count=3, cache_dir=cache_dir), load(zpath, forget_count=3, cache_dir=cache_dir)
    assert a.train.paths == b.train.paths
    assert (a.train.images == b.train.images).all()


def test_data_mufac_root_finds_either_download_form(tmp_path, cache_dir):
    """`--root data/mufac` after `download mufac`: the unpacked repository archive (a sub-folder) or the zip."""
    unpacked = tmp_path / "a" / "mufac"
    write_mufac(unpacked / "korean_face_age_dataset-main")
    zipped = tmp_path / "b" / "mufac"
    zipped.mkdir(parents=True)
    src = write_mufac(tmp_path / "src")
    with zipfile.ZipFile(zipped / "custom_korean_family_dataset_resolution_128.zip", "w") as z:
        for f in sorted(src.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(src).as_posix())
    a, b = load(unpacked, forget_count=3, cache_dir=cache_dir), load(zipped, forget_count=3, cache_dir=cache_dir)
    assert a.train.paths == b.train.paths and len(a.train) > 3


@pytest.mark.parametrize("edit, message", [
    (lambda r: (r / "custom_train_dataset.csv").write_text("family,person,age,path\nF1,D,a,x.jpg\n"), "missing column"),
    (lambda r: (r / "custom_val_dataset.csv").write_text(HEADER + "\nF0801,D,z,F0801_AGE_D_30_a0.jpg\n"),
     "line 2: unknown age class 'z'"),
    (lambda r: (r / "val_images" / "F0801_AGE_D_30_a0.jpg").unlink(), "F0801_AGE_D_30_a0.jpg is missing"),
    (lambda r: (r / "val_images" / "F0801_AGE_D_30_a0.jpg").write_bytes(b"not a jpeg"), "cannot decode image"),
    (lambda r: (r / "custom_test_dataset.csv").unlink(), "missing file"),
    (lambda r: (r / "custom_test_dataset.csv").write_text(HEADER + "\n"), "no rows"),
    (lambda r: (r / "custom_test_dataset.csv").write_text(HEADER + "\nF0801,D,a,F0801_AGE_D_30_a0.jpg\n"),
     "share 1 groups"),
])
def test_mufac_bad_input_messages(tmp_path, cache_dir, edit, message):
    root = write_mufac(tmp_path / "m")
    if "F0801,D,a" in message or message == "share 1 groups":
        (root / "test_images" / "F0801_AGE_D_30_a0.jpg").write_bytes(jpeg())
    edit(root)
    with pytest.raises(DataError, match=message.replace("(", r"\(")):
        load(root, forget_count=3, cache_dir=cache_dir)


@pytest.mark.parametrize("count, message", [(0, "forget set is empty"), (6, "leaves no retain set")])
def test_mufac_forget_count_limits(tmp_path, cache_dir, count, message):
    with pytest.raises(DataError, match=message):
        load(write_mufac(tmp_path / "m"), forget_count=count, cache_dir=cache_dir)


def test_missing_root_and_unknown_benchmark(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="valid: mufac, mucac"):
        load_benchmark("cifar", tmp_path)


def write_mucac(root, identities, attrs=None):
    from gli_helpers.data.synthetic import CELEBA_ATTRIBUTES
    img_dir = root / "CelebAMask-HQ" / "CelebA-HQ-img"
    img_dir.mkdir(parents=True)
    id_lines, attr_lines = [], [str(len(identities)), " ".join(CELEBA_ATTRIBUTES)]
    for i, ident in enumerate(identities):
        (img_dir / f"{i}.jpg").write_bytes(jpeg((i * 40 % 255, 90, 30)))
        id_lines.append(f"{i}.jpg {ident}")
        vals = ["-1"] * 40
        for name in (attrs or {}).get(i, ()):
            vals[CELEBA_ATTRIBUTES.index(name)] = "1"
        attr_lines.append(f"{i}.jpg " + " ".join(vals))
    (root / "CelebA-HQ-identity.txt").write_text("\n".join(id_lines) + "\n")
    (root / "CelebA-HQ-attribute.txt").write_text("\n".join(attr_lines) + "\n")
    return root


def test_mucac_thresholds_tasks_and_attribute_names(tmp_path, cache_dir):
    ids = [5, 100, 200, 1300, 2000, 4000, 4900, 6000]
    root = write_mucac(tmp_path / "c", ids, {0: ("Male",), 2: ("Smiling", "Young"), 4: ("Young",)})
    b = load_benchmark("mucac", root, 16, cache_dir=cache_dir)
    assert [len(b.splits[s]) for s in ("test", "forget", "retain", "unseen")] == [2, 1, 3, 2]
    assert b.task == "multilabel" and b.label_names == ["Male", "Smiling", "Young"]
    assert b.splits["test"].labels[0].tolist() == [1, 0, 0]
    assert b.splits["forget"].labels[0].tolist() == [0, 1, 1]
    g = load_benchmark("mucac", root, 16, forget_range="gli", cache_dir=cache_dir)
    assert [len(g.splits[s]) for s in ("forget", "retain")] == [2, 2]  # [1970, 4855): 2000, 4000
    y = load_benchmark("mucac-young", root, 16, forget_range="1000:2500", cache_dir=cache_dir)
    assert y.task == "multiclass" and y.num_outputs == 2 and y.splits["forget"].labels.tolist() == [0, 1]


@pytest.mark.parametrize("edit, message", [
    (lambda r: (r / "CelebA-HQ-identity.txt").write_text("0.jpg 5\n1.jpg 100\n"), "disagree"),
    (lambda r: (r / "CelebA-HQ-attribute.txt").write_text("8\nMale Smiling\n"), "'Young'"),
    (lambda r: (r / "CelebA-HQ-identity.txt").write_text("0.jpg five\n"), "line 1: expected"),
    (lambda r: (r / "CelebAMask-HQ" / "CelebA-HQ-img" / "3.jpg").unlink(), "3.jpg is listed"),
])
def test_mucac_bad_input_messages(tmp_path, cache_dir, edit, message):
    root = write_mucac(tmp_path / "c", [5, 100, 200, 1300, 2000, 4000, 4900, 6000])
    edit(root)
    with pytest.raises(DataError, match=message):
        load_benchmark("mucac", root, 16, cache_dir=cache_dir)


def test_mucac_empty_forget_set(tmp_path, cache_dir):
    root = write_mucac(tmp_path / "c", [5, 100, 1300, 2000, 4900])
    with pytest.raises(DataError, match="forget set is empty"):
        load_benchmark("mucac", root, 16, cache_dir=cache_dir)


def test_validation_split_holds_out_test_families(tmp_path, cache_dir, small_mufac):
    full = load_benchmark("synthetic-mufac", small_mufac, 16, cache_dir=cache_dir)
    b = load_benchmark("synthetic-mufac", small_mufac, 16, cache_dir=cache_dir, validation_share=0.5)
    assert len(b.splits["test"]) + len(b.splits["validation"]) == len(full.splits["test"])
    assert not set(b.splits["test"].groups) & set(b.splits["validation"].groups)
    assert any("validation" in n for n in b.summary()["notes"])


@pytest.mark.slow
def test_data_summary_cli_error_is_clear(tmp_path):
    res = subprocess.run([sys.executable, "-m", "gli_helpers", "data-summary", "--benchmark", "mufac", "--root",
                          str(tmp_path / "missing")], capture_output=True, text=True)
    assert res.returncode == 2 and "does not exist" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.slow
def test_data_summary_cli_json(small_mucac, cache_dir):
    res = subprocess.run([sys.executable, "-m", "gli_helpers", "data-summary", "--benchmark", "synthetic-mucac",
                          "--root", str(small_mucac), "--cache-dir", str(cache_dir), "--quiet",
                          "--validation-share", "0.3"], capture_output=True, text=True, check=True)
    out = json.loads(res.stdout)
    assert set(out["splits"]) == {"train", "forget", "retain", "test", "unseen", "validation"}
    s = out["splits"]
    assert s["train"]["images"] == s["forget"]["images"] + s["retain"]["images"]
    assert set(s["train"]["labels"]) == {"Male", "Smiling", "Young"}
