"""Demo people: one coherent portrait per identity, drawn around a face taken from one
of the two photographs that ship with our dependencies.

Each identity gets its own face shape (the 68 landmarks moved: jaw width, face length,
eye spacing, nose and mouth size, brow height; the photograph warped to them, never
cross-dissolved with the other one), skin tone and texture, age cues (wrinkles and grey
hair, or smoothed skin), hair (colour, hairline, short or long), glasses or none,
clothes and a background of its own. Everything is drawn in the canonical canvas of
:mod:`istvt.data.demo` (eyes at fixed positions), deterministic from a generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: skin tones (LAB, OpenCV's 8-bit scale) from light to dark
SKIN_TONES = np.array(
    [
        [200, 140, 150],
        [185, 142, 152],
        [170, 145, 156],
        [150, 147, 158],
        [130, 148, 157],
        [110, 147, 154],
        [90, 144, 150],
    ],
    dtype=np.float32,
)
#: hair colours (RGB): black, dark brown, brown, auburn, blond, red
HAIR = np.array(
    [[25, 22, 20], [55, 38, 28], [95, 65, 40], [120, 60, 35], [190, 160, 105], [150, 70, 35]],
    dtype=np.float32,
)
GREY_HAIR = np.array([175, 172, 168], dtype=np.float32)
_JAW = list(range(17))


@dataclass(frozen=True)
class Look:
    """What makes a demo person look like themselves (drawn by :func:`draw_portrait`)."""

    jaw_width: float  # x-scale of the jaw about the face's axis
    face_length: float  # y-scale of the chin below the eyes
    eye_spacing: float  # x-scale of the eyes about the axis
    nose: float  # scale of the nose
    mouth: float  # x-scale of the mouth
    brow_lift: float  # brows moved up (px, canvas)
    skin: np.ndarray  # LAB mean of the face
    age: float  # 0 young .. 1 old
    hair: np.ndarray  # RGB
    hairline: float  # hairline above the brows, in face heights
    long_hair: bool
    glasses: bool
    shirt: np.ndarray  # RGB
    background: tuple[np.ndarray, np.ndarray]  # RGB top and bottom of the backdrop
    seed: int  # texture noise


def draw_look(rng: np.random.Generator, has_glasses: bool = False) -> Look:
    """A random look; ``has_glasses``: the photograph's face already wears glasses."""
    age = float(rng.random())
    hair = HAIR[rng.integers(len(HAIR))]
    if age > 0.65:
        hair = hair + (GREY_HAIR - hair) * min(1.0, (age - 0.65) / 0.3)
    return Look(
        jaw_width=float(rng.uniform(0.86, 1.14)),
        face_length=float(rng.uniform(0.9, 1.1)),
        eye_spacing=float(rng.uniform(0.92, 1.08)),
        nose=float(rng.uniform(0.85, 1.2)),
        mouth=float(rng.uniform(0.85, 1.15)),
        brow_lift=float(rng.uniform(-3, 4)),
        skin=SKIN_TONES[rng.integers(len(SKIN_TONES))] + rng.normal(0, [6, 2, 3]),
        age=age,
        hair=hair,
        hairline=float(rng.uniform(0.18, 0.42)),
        long_hair=bool(rng.random() < 0.4),
        glasses=has_glasses or bool(rng.random() < 0.3),
        shirt=rng.uniform(20, 230, 3).astype(np.float32),
        background=(rng.uniform(40, 230, 3), rng.uniform(40, 230, 3)),
        seed=int(rng.integers(1 << 31)),
    )


def reshape_face(points: np.ndarray, look: Look) -> np.ndarray:
    """The landmarks of ``look``'s face shape, from a photograph's."""
    p = points.astype(np.float64).copy()
    cx = p[27:31, 0].mean()
    eye_y = p[36:48, 1].mean()
    p[_JAW, 0] = cx + (p[_JAW, 0] - cx) * look.jaw_width
    below = p[:, 1] > eye_y
    p[below, 1] = eye_y + (p[below, 1] - eye_y) * look.face_length
    for eye in (slice(36, 42), slice(42, 48)):
        centre = p[eye].mean(0)
        p[eye, 0] += (centre[0] - cx) * (look.eye_spacing - 1)
    nose_top = p[27]
    p[27:36] = nose_top + (p[27:36] - nose_top) * look.nose
    mouth_c = p[48:68].mean(0)
    p[48:68, 0] = mouth_c[0] + (p[48:68, 0] - mouth_c[0]) * look.mouth
    p[17:27, 1] -= look.brow_lift
    return p.astype(np.float32)


def _soft(mask: np.ndarray, k: int) -> np.ndarray:
    return cv2.GaussianBlur(mask.astype(np.float32), (k, k), 0)[..., None]


def _fill(size: int, pts: np.ndarray) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(pts).astype(np.int32)), 1)
    return mask


def face_outline(pts: np.ndarray) -> np.ndarray:
    """Jaw and a forehead arc above the brows: the skin the photograph gives."""
    face_h = pts[8, 1] - pts[27, 1]
    forehead = pts[17:27].copy()
    forehead[:, 1] -= 0.06 * face_h  # the brows: the photographs' caps and fringes are above
    return np.concatenate([pts[_JAW], forehead])


def _strands(size: int, rng: np.random.Generator) -> np.ndarray:
    """Hair texture: noise smeared along the strands (vertically), in [-1, 1]."""
    noise = rng.normal(0, 1, (size, size)).astype(np.float32)
    noise = cv2.filter2D(noise, -1, np.ones((15, 1), np.float32) / 15)
    return np.clip(noise / (noise.std() + 1e-6), -2, 2) / 2


def draw_portrait(face_img: np.ndarray, pts: np.ndarray, look: Look, size: int) -> np.ndarray:
    """A portrait of ``look`` around ``face_img`` (a photograph already warped to the
    face shape ``pts``): backdrop, long hair behind, neck, shirt, the face recoloured to
    the look's skin with its age cues, hair on top, glasses."""
    rng = np.random.default_rng(look.seed)
    face_h = float(pts[8, 1] - pts[27, 1])
    face_w = float(pts[16, 0] - pts[0, 0])
    cx = float(pts[27:31, 0].mean())
    brow_y = float(pts[17:27, 1].min())
    chin_y = float(pts[8, 1])
    ys = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
    top, bottom = (np.asarray(c, np.float32) for c in look.background)
    img = np.broadcast_to(top * (1 - ys) + bottom * ys, (size, size, 3)).copy()
    for _ in range(3):  # out-of-focus shapes of the room behind
        blob = np.zeros((size, size), np.uint8)
        centre = (int(rng.uniform(0, size)), int(rng.uniform(0, size * 0.7)))
        axes = (int(rng.uniform(20, 70)), int(rng.uniform(20, 70)))
        cv2.ellipse(blob, centre, axes, 0, 0, 360, 1, -1)
        img += _soft(blob, 41) * (rng.uniform(-50, 50, 3).astype(np.float32))
    skin_rgb = cv2.cvtColor(look.skin.clip(0, 255).astype(np.uint8)[None, None], cv2.COLOR_LAB2RGB)
    skin_rgb = skin_rgb.reshape(3).astype(np.float32)
    strands = _strands(size, rng)
    hair_colour = look.hair[None, None] * (1 + 0.35 * strands[..., None])
    head_top = brow_y - (look.hairline + 0.35) * face_h
    if look.long_hair:  # behind the head and shoulders
        back = np.zeros((size, size), np.uint8)
        cv2.ellipse(
            back,
            (int(cx), int(brow_y)),
            (int(0.8 * face_w), int(brow_y - head_top + 0.2 * face_h)),
            0,
            180,
            360,
            1,
            -1,
        )
        x0, x1 = int(cx - 0.8 * face_w), int(cx + 0.8 * face_w)
        cv2.rectangle(back, (x0, int(brow_y)), (x1, int(chin_y + 0.55 * face_h)), 1, -1)
        a = _soft(back, 9)
        img = img * (1 - a) + hair_colour * a
    neck = np.zeros((size, size), np.uint8)
    nx = 0.3 * face_w
    cv2.rectangle(neck, (int(cx - nx), int(chin_y - 0.3 * face_h)), (int(cx + nx), size), 1, -1)
    shade = np.clip((ys[..., 0] * size - chin_y) / (0.3 * face_h), 0, 1)[..., None]
    img = img * (1 - _soft(neck, 5)) + _soft(neck, 5) * skin_rgb * (0.8 + 0.2 * shade)
    shirt_top = chin_y + 0.38 * face_h
    body = np.array(
        [
            [cx - 0.45 * face_w, shirt_top],
            [cx + 0.45 * face_w, shirt_top],
            [cx + 1.5 * face_w, size + 40],
            [cx - 1.5 * face_w, size + 40],
        ],
        np.float32,
    )
    shirt = _fill(size, body)
    collar = _fill(
        size,
        np.array(
            [
                [cx - 0.3 * face_w, shirt_top - 2],
                [cx + 0.3 * face_w, shirt_top - 2],
                [cx, shirt_top + 0.35 * face_h],
            ],
            np.float32,
        ),
    )
    shirt = shirt * (1 - collar)
    fold = 1 + 0.08 * cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 6)
    img = img * (1 - _soft(shirt, 5)) + _soft(shirt, 5) * look.shirt * fold[..., None]
    # the face: the photograph's texture in the look's skin tone
    outline = face_outline(pts)
    face_mask = _soft(_fill(size, outline), 21)
    lab = cv2.cvtColor(face_img.clip(0, 255).astype(np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)
    sel = _fill(size, pts[_JAW + list(range(26, 16, -1))]).astype(bool)
    mean, std = lab[sel].mean(0), lab[sel].std(0) + 1e-6
    texture = 1.0 - 0.5 * (1 - look.age)  # young: less of the photograph's lines
    spread = np.array([std[0] * texture, std[1], std[2]], np.float32)
    lab = (lab - mean) / std * spread + look.skin
    face = cv2.cvtColor(lab.clip(0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB).astype(np.float32)
    if look.age < 0.35:
        face = cv2.bilateralFilter(face, 7, 30, 5)
    if look.age > 0.55:  # forehead lines and nasolabial folds
        lines = np.zeros((size, size), np.float32)
        for k in range(3):
            y = int(brow_y - (0.08 + 0.06 * k) * face_h)
            cv2.ellipse(lines, (int(cx), y + 25), (int(0.3 * face_w), 25), 0, 220, 320, 1.0, 1)
        for wing, corner in ((31, 48), (35, 54)):
            a, b = pts[wing], pts[corner]
            cv2.line(lines, tuple(map(int, a + [0, 2])), tuple(map(int, b + [0, 0])), 1.0, 1)
        lines = cv2.GaussianBlur(lines, (3, 3), 0)[..., None]
        face = face * (1 - 0.25 * (look.age - 0.4) * lines)
    # a forehead of the look's skin up to the hairline, shaded towards its edges
    xs = np.linspace(0, 1, size, dtype=np.float32)[None, :, None] * size
    skull = np.zeros((size, size), np.uint8)
    cv2.ellipse(
        skull,
        (int(cx), int(brow_y)),
        (int(0.5 * face_w), int(brow_y - head_top)),
        0,
        180,
        360,
        1,
        -1,
    )
    edge = 1 - 0.12 * ((xs - cx) / (0.5 * face_w)) ** 2
    eye_top = int(pts[36:48, 1].min())
    band = face[
        int(brow_y) + 2 : max(eye_top - 2, int(brow_y) + 4),
        int(cx - 0.12 * face_w) : int(cx + 0.12 * face_w),
    ]
    tone = band.reshape(-1, 3).mean(0) if band.size else skin_rgb
    forehead = tone * edge * (1 + 0.03 * strands[..., None])
    a = _soft(skull, 21) * (1 - face_mask)
    img = img * (1 - a) + forehead * a
    img = img * (1 - face_mask) + face * face_mask
    # hair on top: the head above a hairline that curves down to the temples
    hair = np.zeros((size, size), np.uint8)
    cv2.ellipse(
        hair,
        (int(cx), int(brow_y)),
        (int(0.6 * face_w), int(brow_y - head_top)),
        0,
        180,
        360,
        1,
        -1,
    )
    for x0, x1 in (
        (cx - 0.6 * face_w, cx - 0.47 * face_w),
        (cx + 0.47 * face_w, cx + 0.6 * face_w),
    ):
        cv2.rectangle(
            hair, (int(x0), int(brow_y - 2)), (int(x1), int(brow_y + 0.12 * face_h)), 1, -1
        )
    hairline = brow_y - look.hairline * face_h
    row, col = ys[..., 0] * size, xs[..., 0]
    below = (row > hairline + 0.55 * face_h * ((col - cx) / face_w) ** 2) & (
        np.abs(col - cx) < 0.47 * face_w
    )
    hair[below] = 0
    a = _soft(hair, 7)
    img = img * (1 - a) + hair_colour * a
    if look.glasses:
        frame = tuple(float(c) for c in rng.uniform(0, 90, 3))
        for eye in (slice(36, 42), slice(42, 48)):
            c = pts[eye].mean(0)
            w = pts[eye, 0].max() - pts[eye, 0].min()
            cv2.ellipse(
                img,
                (int(c[0]), int(c[1])),
                (int(0.95 * w), int(0.6 * w)),
                0,
                0,
                360,
                frame,
                2,
                cv2.LINE_AA,
            )
        left, right = pts[39], pts[42]
        cv2.line(img, tuple(map(int, left)), tuple(map(int, right)), frame, 2, cv2.LINE_AA)
    noise = rng.normal(0, 2.0, img.shape).astype(np.float32)
    return (img + noise).clip(0, 255).astype(np.uint8)
