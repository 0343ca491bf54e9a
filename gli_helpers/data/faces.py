"""Procedural face renderer for the synthetic benchmark: traits in, an RGB face image out.

Vectorised numpy drawing of soft-edged shapes on a coordinate grid (x right, y down,
both in [-1, 1]). Identity lives in ``traits`` (geometry, colours, marks); age, sex
and expression change proportions, hair, wrinkles, stubble and the mouth.
"""

from __future__ import annotations

import numpy as np

SKIN = np.array([[0.98, 0.85, 0.74], [0.93, 0.76, 0.62], [0.80, 0.62, 0.47], [0.62, 0.45, 0.33], [0.45, 0.31, 0.22]])
HAIR = np.array([[0.08, 0.06, 0.05], [0.25, 0.16, 0.09], [0.45, 0.30, 0.16], [0.75, 0.60, 0.35], [0.55, 0.22, 0.10]])
EYES = np.array([[0.25, 0.15, 0.08], [0.12, 0.08, 0.05], [0.25, 0.40, 0.60], [0.30, 0.45, 0.30]])
GREY = np.array([0.78, 0.78, 0.76])


def family_traits(rng: np.random.Generator) -> dict:
    """Traits shared (partly) by the members of a family."""
    return {"skin": SKIN[rng.integers(len(SKIN))] + rng.normal(0, 0.03, 3),
            "hair": HAIR[rng.integers(len(HAIR))] + rng.normal(0, 0.03, 3),
            "eyes": EYES[rng.integers(len(EYES))],
            "face_w": rng.uniform(0.85, 1.1), "nose_w": rng.uniform(0.05, 0.09), "eye_dx": rng.uniform(0.17, 0.23)}


def person_traits(rng: np.random.Generator, family: dict, male: bool) -> dict:
    """A person: family traits with individual noise plus memorisable marks of their own."""
    n_moles = rng.integers(0, 4)
    return {
        "male": bool(male),
        "skin": np.clip(family["skin"] + rng.normal(0, 0.04, 3), 0, 1),
        "hair": np.clip(family["hair"] + rng.normal(0, 0.05, 3), 0, 1),
        "eyes": np.clip(family["eyes"] + rng.normal(0, 0.04, 3), 0, 1),
        "face_w": family["face_w"] + rng.normal(0, 0.04) + (0.05 if male else -0.02),
        "face_h": rng.uniform(0.95, 1.08),
        "taper": rng.uniform(0.15, 0.35) - (0.1 if male else 0.0),
        "eye_dx": family["eye_dx"] + rng.normal(0, 0.01),
        "eye_size": rng.uniform(0.85, 1.15),
        "eye_y": rng.uniform(-0.12, -0.04),
        "brow": rng.uniform(0.018, 0.035) + (0.01 if male else 0.0),
        "brow_tilt": rng.uniform(-0.25, 0.25),
        "nose_w": family["nose_w"] + rng.normal(0, 0.01),
        "nose_len": rng.uniform(0.12, 0.2),
        "mouth_w": rng.uniform(0.14, 0.22),
        "lips": np.clip(np.array([0.75, 0.35, 0.35]) + rng.normal(0, 0.06, 3), 0, 1),
        "hair_len": rng.uniform(0.0, 0.4) if male else rng.uniform(0.3, 1.0),
        "hair_vol": rng.uniform(0.02, 0.12),
        "grey_rate": rng.uniform(0.6, 1.4),
        "bald": rng.uniform(0.3, 1.0) if male and rng.random() < 0.5 else 0.0,
        "beard": rng.uniform(0.3, 1.0) if male and rng.random() < 0.5 else 0.0,
        "glasses": bool(rng.random() < 0.12),
        "moles": [(rng.uniform(-0.3, 0.3), rng.uniform(-0.1, 0.45), rng.uniform(0.012, 0.025)) for _ in range(n_moles)],
        "freckles": rng.uniform(0, 1) if rng.random() < 0.25 else 0.0,
        "freckle_seed": int(rng.integers(1 << 30)),
        "shirt": rng.uniform(0.1, 0.9, 3),
        "looks_older": rng.normal(0, 3.0),  # years: a memorisable, non-generalising offset
    }


class _Canvas:
    def __init__(self, size: int, rot: float, scale: float, dx: float, dy: float):
        t = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
        u, v = np.meshgrid(t, t)
        c, s = np.cos(rot), np.sin(rot)
        u, v = (u - dx) / scale, (v - dy) / scale
        self.x, self.y = c * u + s * v, -s * u + c * v
        self.px = size * scale / 2  # pixels per coordinate unit, for anti-aliasing
        self.img = np.zeros((size, size, 3), dtype=np.float32)

    def ellipse(self, cx, cy, rx, ry, p=2.0, tilt=0.0):
        x, y = self.x - cx, self.y - cy
        if tilt:
            c, s = np.cos(tilt), np.sin(tilt)
            x, y = c * x + s * y, -s * x + c * y
        d = (np.abs(x) / rx) ** p + (np.abs(y) / ry) ** p
        return np.clip(0.5 + (1 - d) * min(rx, ry) * self.px / p, 0, 1)

    def paint(self, mask, color, alpha=1.0):
        m = (mask * alpha)[..., None]
        self.img = self.img * (1 - m) + np.asarray(color, dtype=np.float32) * m


def render_face(t: dict, age: float, smile: float, view: dict, size: int = 64) -> np.ndarray:
    """Draw person ``t`` at visual ``age`` (years) with ``smile`` in [-0.3, 1]; ``view`` holds the per-image
    variation (rot, scale, dx, dy, light, bright, bg0, bg1, noise, seed). Returns uint8 (size, size, 3)."""
    grow = float(np.clip(age / 18, 0, 1))  # children's heads are smaller in the frame
    cv = _Canvas(size, view["rot"], view["scale"] * (0.78 + 0.22 * grow), view["dx"], view["dy"])
    x, y = cv.x, cv.y
    child = float(np.clip((14 - age) / 12, 0, 1))
    grey = float(np.clip((age - 38) / 35 * t["grey_rate"], 0, 1))
    wrinkle = float(np.clip((age - 33) / 40, 0, 1))
    bald = t["bald"] * float(np.clip((age - 35) / 30, 0, 1))
    adult_m = t["male"] * float(np.clip((age - 15) / 5, 0, 1))
    mature = float(np.clip((age - 18) / 60, 0, 1))  # a slow, steady cue over the whole adult range
    skin = np.clip(t["skin"] * (1 - 0.1 * wrinkle) + 0.06 * (1 - grow), 0, 1)
    hair = t["hair"] * (1 - grey) + GREY * grey

    # background: a vertical gradient between two colours
    g = ((cv.y + 1) / 2)[..., None]
    cv.img[:] = view["bg0"] * (1 - g) + view["bg1"] * g
    fw, fh = t["face_w"] * (1 + 0.06 * child), t["face_h"] * (0.86 + 0.14 * grow + 0.05 * mature)
    rx, ry = 0.47 * fw, 0.6 * fh
    if t["hair_len"] > 0.25 and bald < 0.5:  # hair behind the head and shoulders
        cv.paint(cv.ellipse(0, 0.1 + 0.25 * t["hair_len"], rx + 0.08 + t["hair_vol"], 0.55 + 0.35 * t["hair_len"]), hair * 0.85)
    cv.paint(cv.ellipse(0, 1.25, 0.95, 0.5), t["shirt"])
    cv.paint(np.clip(0.5 + (0.16 - np.abs(x)) * cv.px, 0, 1) * (y > 0.3), skin * 0.88)
    for side in (-1, 1):
        cv.paint(cv.ellipse(side * rx * 1.02, 0.02, 0.08, 0.14), skin * 0.93)
    # head: an ellipse whose lower half tapers towards the chin (less for a male jaw)
    taper = 1 - t["taper"] * np.clip(y / ry, 0, 1) ** 2
    head = np.clip(0.5 + (1 - (x / (rx * taper)) ** 2 - (y / ry) ** 2) * rx * cv.px / 2, 0, 1)
    cv.paint(head, skin)
    # hair on top: inside a cap ellipse, above a hairline that recedes with baldness
    cap = cv.ellipse(0, -0.2, rx + t["hair_vol"], 0.52 + t["hair_vol"])
    hairline = -0.3 - 0.35 * bald + 0.25 * np.abs(x) * (1 + bald)
    above = np.clip(0.5 + (hairline - y) * cv.px, 0, 1)
    sides = np.clip(0.5 + (np.abs(x) - rx * 0.8) * cv.px, 0, 1) * (y < 0.05 + 0.3 * t["hair_len"])
    cv.paint(cap * np.maximum(above * (1 - bald * (np.abs(x) < 0.3)), sides * (1 - 0.5 * bald)), hair)
    # eyes (children's are larger and lower), brows, glasses
    ey = t["eye_y"] + 0.08 * child
    es = t["eye_size"] * (1 + 0.25 * child)
    squint = 1 - 0.3 * max(smile, 0)
    for side in (-1, 1):
        ex = side * t["eye_dx"]
        cv.paint(cv.ellipse(ex, ey, 0.075 * es, 0.04 * es * squint), [0.96, 0.96, 0.94])
        cv.paint(cv.ellipse(ex, ey, 0.032 * es, 0.032 * es) * cv.ellipse(ex, ey, 0.075 * es, 0.04 * es * squint), t["eyes"])
        cv.paint(cv.ellipse(ex, ey, 0.014 * es, 0.014 * es), [0.03, 0.03, 0.03])
        cv.paint(cv.ellipse(ex, ey - 0.095, 0.085, t["brow"], tilt=side * t["brow_tilt"] * 0.5), hair * 0.7)
        if t["glasses"]:
            ring = cv.ellipse(ex, ey, 0.11, 0.08) * (1 - cv.ellipse(ex, ey, 0.095, 0.065))
            cv.paint(ring, [0.1, 0.1, 0.1])
        # under-eye shadows deepen steadily with adult age
        cv.paint(cv.ellipse(ex, ey + 0.065 * es, 0.07, 0.025), skin * 0.55, alpha=0.9 * mature)
    # nose: a shaded ridge and two nostrils
    ny = ey + 0.12 + t["nose_len"] * (1 - 0.3 * child) / 2
    cv.paint(cv.ellipse(0.015, ny - 0.02, t["nose_w"] * 0.6, t["nose_len"] * 0.6), skin * 0.86)
    for side in (-1, 1):
        cv.paint(cv.ellipse(side * t["nose_w"] * 0.55, ny + t["nose_len"] * 0.35, 0.022, 0.014), skin * 0.55)
    # mouth: a curved band; corners rise with the smile, which opens to show teeth
    my = ny + t["nose_len"] * 0.4 + 0.1 * (1 - 0.3 * child)
    mw = t["mouth_w"] * (1 + 0.25 * max(smile, 0)) * (1 - 0.2 * child)
    inside = np.clip(0.5 + (mw - np.abs(x)) * cv.px, 0, 1)
    curve = my - 0.09 * smile * ((x / mw) ** 2 - 0.3)
    opening = max(smile - 0.5, 0) * 0.09
    upper = np.clip(0.5 + (0.022 - np.abs(y - (curve - 0.012))) * cv.px, 0, 1)
    lower = np.clip(0.5 + (0.026 - np.abs(y - (curve + 0.014 + opening))) * cv.px, 0, 1)
    if opening > 0:
        teeth = np.clip(0.5 + np.minimum(y - (curve - 0.0), (curve + opening) - y) * cv.px, 0, 1)
        cv.paint(teeth * inside, [0.95, 0.95, 0.9])
    cv.paint(np.maximum(upper, lower) * inside, t["lips"] * (1 - 0.35 * mature) + skin * 0.35 * mature)
    # age: forehead lines and nasolabial folds
    if wrinkle > 0:
        for k in range(3):
            line = np.clip(0.5 + (0.008 - np.abs(y - (ey - 0.2 - 0.07 * k + 0.03 * np.cos(x * 6)))) * cv.px, 0, 1)
            cv.paint(line * (np.abs(x) < 0.25 - 0.03 * k), skin * 0.6, alpha=wrinkle)
        for side in (-1, 1):
            fold = np.abs((x - side * (t["nose_w"] + 0.02)) - side * 0.5 * (y - ny))
            band = np.clip(0.5 + (0.009 - fold) * cv.px, 0, 1) * (y > ny) * (y < my + 0.02)
            cv.paint(band, skin * 0.65, alpha=wrinkle)
    rng = np.random.default_rng(view["seed"])
    if t["beard"] * adult_m > 0:  # stubble: dark speckle on the lower face
        lower_face = head * np.clip(0.5 + (y - (ny + 0.02)) * cv.px, 0, 1) * (1 - cv.ellipse(0, my, mw * 1.1, 0.05))
        speck = (rng.random(x.shape) < 0.6).astype(np.float32)
        cv.paint(lower_face * speck, hair * 0.5, alpha=0.55 * t["beard"] * adult_m)
    if t["freckles"] > 0:
        frng = np.random.default_rng(t["freckle_seed"])
        for _ in range(int(6 + 14 * t["freckles"])):
            fx, fy = frng.uniform(-0.3, 0.3), frng.uniform(ny - 0.1, ny + 0.08)
            cv.paint(cv.ellipse(fx, fy, 0.012, 0.012), skin * 0.7, alpha=0.8)
    for mx, myy, r in t["moles"]:
        cv.paint(cv.ellipse(mx, myy, r, r) * head, [0.22, 0.13, 0.08])
    # lighting, exposure and sensor noise
    light = 1 + view["light"] * (x * 0.6 + y * 0.3)
    img = cv.img * light[..., None] * view["bright"]
    img = img + rng.normal(0, view["noise"], img.shape).astype(np.float32)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def random_view(rng: np.random.Generator) -> dict:
    """Per-image variation: pose, framing, lighting, background and noise."""
    return {"rot": rng.uniform(-0.14, 0.14), "scale": rng.uniform(0.9, 1.08), "dx": rng.uniform(-0.07, 0.07),
            "dy": rng.uniform(-0.05, 0.08), "light": rng.uniform(-0.25, 0.25), "bright": rng.uniform(0.85, 1.12),
            "bg0": rng.uniform(0.2, 0.95, 3), "bg1": rng.uniform(0.2, 0.95, 3), "noise": rng.uniform(0.008, 0.03),
            "seed": int(rng.integers(1 << 31))}
