"""The embedded demo data set: videos and fakes generated from faces shipped in packages.

Nothing is downloaded. Two photographs ship with our dependencies (matplotlib's
``grace_hopper.jpg`` and scikit-image's astronaut); each demo person is a portrait of
their own around a face taken from one of them (:mod:`istvt.data.portraits`: face
shape, skin tone, age cues, hair, glasses, clothes, background). Each identity becomes
short videos with head motion in roll and yaw, talking, blinks, camera and lighting
drift and sensor noise, H.264-encoded with PyAV. Fakes:

* ``swap``: landmark face swap (Delaunay warp + colour transfer + seamless clone),
  re-fitted every frame with landmark jitter so the blend boundary flickers -- the
  FaceForensics++ FaceSwap recipe; for Celeb-DF and DFDC the new face is rendered at a
  generator's resolution and scaled up (:data:`RENDER`);
* ``blend``: self-blending (SBI-style): the frame's own face, colour- and
  geometry-jittered, blended back through a soft mask from that frame's landmarks as a
  per-frame detector finds them;
* ``jitter``: a swap whose colour, offset and mask are re-drawn every frame, a
  temporal inconsistency a single frame barely shows.

Three data sets are written in the FaceForensics++, Celeb-DF v2 and DFDC layouts, with
different methods and compression in each, so cross-dataset results mean something.
Celeb-DF and DFDC make ``fakes_per_real`` fakes of each real video, as the real data
sets do (many more fakes than reals); ``test_share`` of the identities are test
identities, enough for 30 test videos per data set.
The ground-truth manipulation mask of every fake frame is saved losslessly as
``<root>/masks/<video path>.npz`` (member ``masks``: (frames, H, W) bool).
Deterministic from ``seed``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from istvt.data.encode import EncoderProcess, encode_h264
from istvt.data.faces import FaceOptions, FaceTracker, landmarks
from istvt.data.portraits import draw_look, draw_portrait, reshape_face

log = logging.getLogger(__name__)

CANVAS = 320  # side of the canonical portrait identities are drawn on
# canonical eye centres (left, right) in the canvas; the face spans ~130 px
_EYES = np.array([[128.0, 140.0], [192.0, 140.0]])
_HULL = list(range(17)) + list(range(26, 16, -1))  # jaw, then brows right-to-left
#: the frame side the generator's pixel constants (head shift, landmark jitter, mask
#: blur and dilation, self-blend shift) are given for; other sizes scale them, so a
#: smaller demo is the same scene filmed at a lower resolution
REFERENCE_SIZE = 256


def _px(size: int) -> float:
    """Pixels of a ``size`` frame per pixel of a :data:`REFERENCE_SIZE` frame."""
    return size / REFERENCE_SIZE


def _kernel(side: int, size: int) -> int:
    """An odd kernel side of ``side`` reference pixels, in a ``size`` frame (>= 1)."""
    return max(1, 2 * int(round((side - 1) / 2 * _px(size))) + 1)


@dataclass(frozen=True)
class DemoOptions:
    """Size and content of the demo data (the config's ``demo`` section)."""

    seed: int = 0
    #: distinct people (>= 6); 12 were too few to generalise from, and 16 training people
    #: against 32 lowered every demo model's validation AUC (docs/demo.md)
    identities: int = 64
    # Celeb-DF and DFDC swap several source faces onto each real video (Celeb-DF v2:
    # 5639 fakes of 590 reals; DFDC: ~5 per real); FF++ has one fake per method and target
    fakes_per_real: int = 2
    test_share: float = 0.3  # of the identities (FF++: of the pairs): >= 30 test videos
    frames: int = 30  # per video
    size: int = 256  # frame side in pixels
    #: one data set's own frame side (None: ``size``); the default config films FF++
    #: (mostly 480p videos, faces about the size of the paper's 300-px crop) at 128 px,
    #: so its 64-px crops keep the face's pixels as the paper's crops do
    ffpp_size: int | None = None
    celebdf_size: int | None = None
    dfdc_size: int | None = None
    fps: int = 25
    ffpp_crf: int = 23  # FF++ "c23"
    celebdf_crf: int = 28
    dfdc_crf: int = 32

    def __post_init__(self) -> None:
        if self.identities < 6:
            raise ValueError(f"demo.identities must be at least 6, got {self.identities}")
        if self.fakes_per_real < 1:
            raise ValueError(f"demo.fakes_per_real must be >= 1, got {self.fakes_per_real}")
        if not 0 < self.test_share < 0.6:
            raise ValueError(f"demo.test_share must be in (0, 0.6), got {self.test_share}")
        if self.frames < 2:
            raise ValueError(f"demo.frames must be >= 2, got {self.frames}")
        for key in ("size", "ffpp_size", "celebdf_size", "dfdc_size"):
            value = getattr(self, key)
            if value is not None and value < 96:  # faces span ~0.42 x size
                raise ValueError(f"demo.{key} must be >= 96, got {value}")

    def size_of(self, layout: str) -> int:
        """Frame side of the demo data set of ``layout``."""
        own = getattr(self, f"{layout}_size", None)
        return own or self.size

    def min_detect_upsample(self, layout: str) -> int:
        """The least ``preprocess.detect_upsample`` that finds the faces of ``layout``'s
        demo: they span ~0.42 x its frame side; dlib's detector finds 80 px and up."""
        up = 0
        while 0.42 * self.size_of(layout) * 2**up < 80:
            up += 1
        return up

    @classmethod
    def from_dict(cls, data: dict | None) -> DemoOptions:
        from istvt.config import dataclass_from_dict

        return dataclass_from_dict(cls, data, "demo")


# ----------------------------------------------------------------------------- faces
def _source_images() -> list[np.ndarray]:
    import matplotlib
    import skimage.data

    hopper_path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    hopper = cv2.cvtColor(cv2.imread(str(hopper_path)), cv2.COLOR_BGR2RGB)
    return [hopper, np.ascontiguousarray(skimage.data.astronaut())]


def _detect_landmarks(rgb: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    tracker = FaceTracker(FaceOptions(detect_max_side=max(rgb.shape[:2])))
    box = tracker.pick(tracker.detect(gray))
    if box is None:
        raise RuntimeError("no face found in a demo source image")
    return landmarks(gray, box)


def _eye_centres(pts: np.ndarray) -> np.ndarray:
    return np.stack([pts[36:42].mean(0), pts[42:48].mean(0)])


def _to_canvas(rgb: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Similarity-warp a portrait so its eyes land on the canonical eye positions."""
    m, _ = cv2.estimateAffinePartial2D(_eye_centres(pts), _EYES)
    img = cv2.warpAffine(
        rgb, m, (CANVAS, CANVAS), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    return img, (pts @ m[:, :2].T + m[:, 2]).astype(np.float32)


def _triangles(pts: np.ndarray, size: int) -> list[tuple[int, int, int]]:
    subdiv = cv2.Subdiv2D((0, 0, size, size))
    for p in pts:
        subdiv.insert((float(np.clip(p[0], 0, size - 1)), float(np.clip(p[1], 0, size - 1))))
    corners = subdiv.getTriangleList().reshape(-1, 3, 2)
    # the nearest landmark of every triangle corner, all at once
    nearest = ((corners[:, :, None, :] - pts[None, None]) ** 2).sum(-1).argmin(-1)
    return [tuple(map(int, idx)) for idx in nearest if len(set(idx.tolist())) == 3]


def _frame_points(pts: np.ndarray, size: int) -> np.ndarray:
    """Landmarks plus the image corners and edge midpoints (so warps cover the frame)."""
    s = size - 1
    border = np.array(
        [[0, 0], [s / 2, 0], [s, 0], [s, s / 2], [s, s], [s / 2, s], [0, s], [0, s / 2]],
        dtype=np.float32,
    )
    return np.concatenate([pts, border])


def warp_triangles(
    src: np.ndarray,
    src_pts: np.ndarray,
    dst_pts: np.ndarray,
    tris: list[tuple[int, int, int]],
    size: int,
) -> np.ndarray:
    """Piecewise-affine warp of ``src`` taking ``src_pts`` onto ``dst_pts``."""
    out = np.zeros((size, size, 3), dtype=np.float32)
    src = src.astype(np.float32)
    for tri in tris:
        s, d = src_pts[list(tri)].astype(np.float32), dst_pts[list(tri)].astype(np.float32)
        x, y, w, h = cv2.boundingRect(d)
        if w <= 0 or h <= 0:
            continue
        local = (d - np.array([x, y], dtype=np.float32)).astype(np.float32)
        m = cv2.getAffineTransform(s, local)
        patch = cv2.warpAffine(
            src, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        mask = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(mask, np.round(local).astype(np.int32), 1)
        x2, y2 = min(x + w, size), min(y + h, size)
        x1, y1 = max(x, 0), max(y, 0)
        if x2 <= x1 or y2 <= y1:
            continue
        inside = mask[y1 - y : y2 - y, x1 - x : x2 - x, None].astype(bool)
        # the triangle's pixels take the patch's (later triangles win on shared edges)
        np.copyto(out[y1:y2, x1:x2], patch[y1 - y : y2 - y, x1 - x : x2 - x], where=inside)
    return out


@dataclass
class Identity:
    name: str
    image: np.ndarray  # (CANVAS, CANVAS, 3) uint8 canonical portrait
    points: np.ndarray  # (68, 2) landmarks in the canvas


def make_identities(count: int, seed: int) -> list[Identity]:
    """``count`` demo people, each a coherent portrait of its own
    (:mod:`istvt.data.portraits`): a face taken from one of the two photographs
    (alternating, mirrored every other pair), reshaped to the person's face shape,
    recoloured to their skin tone, with their age cues, hair, glasses, clothes and
    background."""
    if count < 6:
        raise ValueError(f"demo.identities must be at least 6, got {count}")
    bases = []
    for img in _source_images():
        canvas, pts = _to_canvas(img, _detect_landmarks(img))
        bases.append((canvas, pts))
    rng = np.random.default_rng([seed, 7])
    people = []
    for k in range(count):
        image, pts = bases[k % 2]
        if (k // 2) % 2 == 1:  # mirrored: asymmetries change sides
            image = image[:, ::-1].copy()
            pts = pts.copy()
            pts[:, 0] = CANVAS - 1 - pts[:, 0]
            pts = pts[_MIRROR]
        wears_glasses = k % 2 == 0  # the first photograph's face wears glasses
        look = draw_look(rng, has_glasses=wears_glasses)
        shaped = reshape_face(pts, look)
        face = FaceWarp(image, pts)(shaped)
        drawn = dataclasses.replace(look, glasses=look.glasses and not wears_glasses)
        portrait = draw_portrait(face, shaped, drawn, CANVAS)
        people.append(Identity(f"person{k:02d}", portrait, shaped))
    return people


# dlib 68-point indices after a horizontal flip
_MIRROR = np.array(
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30]
    + [35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46]
    + [39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48]
    + [59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60]
    + [67, 66, 65]
)


# ---------------------------------------------------------------------------- videos
#: depth of each landmark in front of the face plane (canvas px), for the yaw turn: the
#: nose tip stands out, the jaw's sides recede
_DEPTH = np.concatenate(
    [
        -30 + 25 * np.sin(np.linspace(0, np.pi, 17)),  # jaw: sides far back, chin forward
        np.full(10, 12.0),  # brows
        [14.0, 20.0, 28.0, 34.0],  # nose bridge to tip
        [22.0, 26.0, 28.0, 26.0, 22.0],  # nostrils
        np.full(12, 8.0),  # eyes
        np.full(20, 16.0),  # mouth
    ]
)
_UPPER_LIDS, _LOWER_LIDS = [37, 38, 43, 44], [41, 40, 47, 46]
_LOWER_LIP = [55, 56, 57, 58, 59, 65, 66, 67]
_CHIN = [6, 7, 8, 9, 10]


@dataclass
class Motion:
    """What varies over a recording, one value per frame: head pose (roll ``angle`` in
    degrees, ``yaw`` in radians, ``scale``, shift ``dx``/``dy``), expression (``blink``:
    eyelid closure 0-1, ``mouth``: opening 0-1) and lighting (``gain``, a horizontal
    ``gradient`` of up to +-``slope`` grey levels growing over the clip)."""

    angle: np.ndarray
    yaw: np.ndarray
    scale: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    gain: np.ndarray
    blink: np.ndarray
    mouth: np.ndarray
    slope: float

    def with_expression(self, other: Motion, eyes: bool = True) -> Motion:
        """This pose and lighting with ``other``'s mouth (and, with ``eyes``, blinks)."""
        n = len(self.angle)
        blink = other.blink[:n] if eyes else self.blink
        return dataclasses.replace(self, mouth=other.mouth[:n].copy(), blink=blink.copy())


@dataclass
class Footage:
    frames: np.ndarray  # (F, S, S, 3) uint8
    points: np.ndarray  # (F, 68, 2) landmarks of the shown face
    transforms: np.ndarray  # (F, 2, 3) canvas -> frame affine of each frame
    motion: Motion | None = None


def draw_motion(num_frames: int, fps: int, rng: np.random.Generator) -> Motion:
    """A recording's head motion (slow roll, yaw and drift), talking (mouth) and blinks."""
    n = num_frames
    t = np.arange(n) / fps
    phase = rng.uniform(0, 2 * np.pi, 7)
    freq = rng.uniform(0.2, 0.6, 7)

    def wave(k: int) -> np.ndarray:
        return np.sin(2 * np.pi * freq[k] * t + phase[k])

    blink = np.zeros(n)
    for start in np.flatnonzero(rng.random(n) < 0.6 / fps):  # ~one blink in 1.7 s
        for j, c in enumerate((0.5, 1.0, 1.0, 0.5)):  # ~160 ms at 25 fps
            if start + j < n:
                blink[start + j] = max(blink[start + j], c)
    syllables = 4.0 + 2.0 * rng.random()  # talking: 4-6 openings a second
    talk = np.clip(np.sin(2 * np.pi * syllables * t + phase[6]), 0, None)
    mouth = talk * rng.uniform(0.3, 1.0) * (rng.random() < 0.8)
    return Motion(
        angle=4.0 * wave(0),
        yaw=np.deg2rad(rng.uniform(8, 22)) * wave(5) + np.deg2rad(rng.uniform(-10, 10)),
        scale=1.05 + 0.06 * wave(1),
        dx=10.0 * wave(2) + rng.uniform(-8, 8),
        dy=8.0 * wave(3) + rng.uniform(-6, 6),
        gain=1.0 + 0.12 * wave(4),
        blink=blink,
        mouth=mouth,
        slope=float(rng.uniform(-12, 12)),
    )


def animate_points(points: np.ndarray, yaw: float, blink: float, mouth: float) -> np.ndarray:
    """Canvas landmarks of the face turned by ``yaw`` with the eyes ``blink`` closed and
    the mouth ``mouth`` open (a 2.5-D turn about the vertical axis through the nose)."""
    p = points.astype(np.float64).copy()
    lids = p[_LOWER_LIDS] - p[_UPPER_LIDS]
    p[_UPPER_LIDS] += 0.85 * blink * lids
    face_height = p[8, 1] - p[27, 1]
    p[_LOWER_LIP] += [0.0, 0.16 * mouth * face_height]
    p[_CHIN] += [0.0, 0.10 * mouth * face_height]
    cx = p[27:31, 0].mean()
    p[:, 0] = cx + (p[:, 0] - cx) * np.cos(yaw) + _DEPTH * np.sin(yaw)
    return p


class FaceWarp:
    """Piecewise-affine warps of a canvas portrait that move its face only: triangles
    span the landmarks and a fixed frame around them (a third of the face's size
    away); the rest of the portrait stays."""

    def __init__(self, image: np.ndarray, points: np.ndarray) -> None:
        lo, hi = points.min(0), points.max(0)
        pad = 0.35 * (hi - lo)
        x0, y0 = np.maximum(lo - pad, 0)
        x1, y1 = np.minimum(hi + pad, CANVAS - 1)
        self.frame = np.array(
            [
                [x0, y0],
                [(x0 + x1) / 2, y0],
                [x1, y0],
                [x1, (y0 + y1) / 2],
                [x1, y1],
                [(x0 + x1) / 2, y1],
                [x0, y1],
                [x0, (y0 + y1) / 2],
            ],
            dtype=np.float32,
        )
        self.inside = np.zeros((CANVAS, CANVAS, 1), np.float32)
        self.inside[int(np.ceil(y0)) : int(y1), int(np.ceil(x0)) : int(x1)] = 1.0
        self.image = image
        self.src = np.concatenate([points, self.frame])
        self.tris = _triangles(self.src, CANVAS)

    def __call__(self, moved: np.ndarray) -> np.ndarray:
        """The portrait with its landmarks moved to ``moved`` (float32)."""
        dst = np.concatenate([moved, self.frame])
        warped = warp_triangles(self.image, self.src, dst, self.tris, CANVAS)
        return warped * self.inside + self.image * (1 - self.inside)


def render_frames(
    person: Identity, motion: Motion, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames, landmarks and canvas -> frame transforms of ``person`` moving as
    ``motion`` says (expression and yaw by a piecewise-affine warp of the portrait,
    roll, scale and shift by a similarity, then lighting and sensor noise)."""
    n = len(motion.angle)
    frames, points, transforms = [], [], []
    centre = person.points[27:36].mean(0)
    gradient = np.linspace(-1, 1, size)[None, :, None] * motion.slope
    warp = FaceWarp(person.image, person.points)
    for i in range(n):
        moved = animate_points(person.points, motion.yaw[i], motion.blink[i], motion.mouth[i])
        face = warp(moved)
        scale = (size / CANVAS) * motion.scale[i]
        m = cv2.getRotationMatrix2D(tuple(map(float, centre)), float(motion.angle[i]), scale)
        shift = _px(size) * np.array([motion.dx[i], motion.dy[i]])
        m[:, 2] += [size / 2 - centre[0] + shift[0], size / 2 - centre[1] + shift[1]]
        img = cv2.warpAffine(
            face, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        img = img * motion.gain[i] + gradient * (i / max(n - 1, 1)) + rng.normal(0, 3.0, img.shape)
        frames.append(img.clip(0, 255).astype(np.uint8))
        points.append(moved @ m[:, :2].T + m[:, 2])
        transforms.append(m)
    return np.stack(frames), np.stack(points).astype(np.float32), np.stack(transforms)


def film(
    person: Identity, num_frames: int, size: int, fps: int, rng: np.random.Generator
) -> Footage:
    """A short 'recording' of an identity: head motion in roll and yaw, talking, blinks,
    camera drift, lighting drift, noise."""
    motion = draw_motion(num_frames, fps, rng)
    frames, points, transforms = render_frames(person, motion, size, rng)
    return Footage(frames, points, transforms, motion)


def _hull_mask(pts: np.ndarray, size: int) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(pts[_HULL]).astype(np.int32)), 1)
    return mask


def _colour_transfer(src: np.ndarray, dst: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Match the LAB mean and spread of ``src`` to ``dst`` inside ``mask``."""
    sel = mask.astype(bool)
    s = cv2.cvtColor(src.clip(0, 255).astype(np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)
    d = cv2.cvtColor(dst, cv2.COLOR_RGB2LAB).astype(np.float32)
    for c in range(3):
        sm, ss = s[..., c][sel].mean(), s[..., c][sel].std() + 1e-6
        dm, ds = d[..., c][sel].mean(), d[..., c][sel].std() + 1e-6
        s[..., c] = (s[..., c] - sm) * (ds / ss) + dm
    return cv2.cvtColor(s.clip(0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def swap(
    target: Footage,
    source: Identity,
    rng: np.random.Generator,
    temporal_jitter: bool = False,
    render: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Landmark face swap of ``source`` onto every frame of ``target``.

    Returns (frames, masks). Landmarks are re-fitted (jittered) every frame, as a
    per-frame detector would; with ``temporal_jitter`` the colour, offset and mask
    extent are also re-drawn every frame. ``render`` < 1 renders the new face at that
    fraction of its size in the frame and scales it up, as autoencoder generators do
    (a 64-256 px output pasted onto larger faces).
    """
    size = target.frames.shape[1]
    px = _px(size)
    src_full = _frame_points(source.points, CANVAS)
    out, masks = [], []
    for frame, pts in zip(target.frames, target.points, strict=True):
        fitted = pts + rng.normal(0, 0.8 * px, pts.shape)
        if temporal_jitter:
            fitted = fitted + rng.normal(0, 2.5 * px, (1, 2))
        dst_full = _frame_points(fitted, size)
        tris = _triangles(dst_full, size)
        warped = warp_triangles(source.image, src_full, dst_full, tris, size)
        if render < 1.0:
            warped = at_resolution(warped, render)
        mask = _hull_mask(fitted, size)
        if temporal_jitter:
            k = _kernel(int(rng.integers(0, 3)) * 2 + 1, size)
            mask = cv2.dilate(mask, np.ones((k, k), np.uint8))
        face = _colour_transfer(warped, frame, mask)
        if temporal_jitter:
            face = (face.astype(np.float32) * rng.uniform(0.9, 1.1, 3)).clip(0, 255)
            face = face.astype(np.uint8)
        x, y, w, h = cv2.boundingRect(mask)
        centre = (x + w // 2, y + h // 2)
        try:
            blended = cv2.seamlessClone(face, frame, mask * 255, centre, cv2.NORMAL_CLONE)
        except cv2.error:  # mask touching the border: plain alpha blend
            k = _kernel(7, size)
            m = cv2.GaussianBlur(mask.astype(np.float32), (k, k), 0)[..., None]
            blended = (face * m + frame * (1 - m)).astype(np.uint8)
        out.append(blended)
        masks.append(mask.astype(bool))
    return np.stack(out), np.stack(masks)


def self_blend(
    target: Footage, rng: np.random.Generator, landmark_noise: float = 0.8
) -> tuple[np.ndarray, np.ndarray, dict]:
    """SBI-style fake: each frame's own face, altered, blended back through a soft mask
    drawn from that frame's landmarks as a per-frame detector finds them (Gaussian
    noise of ``landmark_noise`` px of a :data:`REFERENCE_SIZE` frame, as in :func:`swap`).
    Returns (frames, masks, the alteration drawn: hue shift, saturation and value
    gains, scale, blur or sharpen)."""
    size = target.frames.shape[1]
    px = _px(size)
    hue, sat, gain = rng.integers(-8, 9), rng.uniform(0.75, 1.25), rng.uniform(0.85, 1.15)
    scale, shift = rng.uniform(0.96, 1.04), rng.uniform(-3, 3, 2) * px
    blur = bool(rng.integers(0, 2))
    erode = _kernel(int(rng.integers(0, 3)) * 2 + 1, size)
    detail, feather = _kernel(5, size), _kernel(15, size)
    out, masks = [], []
    for frame, true_pts in zip(target.frames, target.points, strict=True):
        pts = (
            true_pts + rng.normal(0, landmark_noise * px, true_pts.shape)
            if landmark_noise
            else true_pts
        )
        src = frame
        hsv = cv2.cvtColor(src, cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + hue) % 180
        hsv[..., 1] = (hsv[..., 1] * sat).clip(0, 255)
        hsv[..., 2] = (hsv[..., 2] * gain).clip(0, 255)
        src = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
        src = (
            cv2.GaussianBlur(src, (detail, detail), 0)
            if blur
            else cv2.addWeighted(src, 1.5, cv2.GaussianBlur(src, (detail, detail), 0), -0.5, 0)
        )
        centre = pts[27:36].mean(0)
        m = cv2.getRotationMatrix2D(tuple(map(float, centre)), 0.0, float(scale))
        m[:, 2] += shift
        src = cv2.warpAffine(src, m, (size, size), borderMode=cv2.BORDER_REFLECT)
        hard = cv2.erode(_hull_mask(pts, size), np.ones((erode, erode), np.uint8))
        soft = cv2.GaussianBlur(hard.astype(np.float32), (feather, feather), 0)[..., None]
        out.append((src * soft + frame * (1 - soft)).clip(0, 255).astype(np.uint8))
        masks.append(soft[..., 0] > 0.05)
    drawn = {
        "hue": int(hue),
        "saturation": round(float(sat), 3),
        "gain": round(float(gain), 3),
        "scale": round(float(scale), 3),
        "filter": "blur" if blur else "sharpen",
    }
    return np.stack(out), np.stack(masks), drawn


#: the mouth, and the chin below it: the region NeuralTextures re-renders
_MOUTH_REGION = list(range(48, 68)) + [5, 6, 7, 8, 9, 10, 11]


def at_resolution(image: np.ndarray, render: float) -> np.ndarray:
    """A renderer's output: ``image`` drawn at ``render`` of its resolution, scaled up."""
    size = image.shape[0]
    small = max(8, round(size * render))
    return cv2.resize(
        cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA),
        (size, size),
        interpolation=cv2.INTER_LINEAR,
    )


def reenact(
    target: Footage,
    person: Identity,
    driver: Motion,
    rng: np.random.Generator,
    mouth_only: bool = False,
    render: float = 0.6,
) -> tuple[np.ndarray, np.ndarray]:
    """Facial reenactment: ``person`` re-rendered in ``target``'s pose and lighting with
    the expression of another recording (``driver``), at a renderer's resolution, and
    blended into the target frames through a soft mask.

    ``mouth_only=False``: Face2Face (the whole face re-rendered with the driver's mouth
    and blinks, colour-matched, blended over the face); ``True``: NeuralTextures (only
    the mouth and chin re-rendered with the driver's mouth, over a mouth-region mask).
    """
    size = target.frames.shape[1]
    motion = target.motion.with_expression(driver, eyes=not mouth_only)
    drawn, points, _ = render_frames(person, motion, size, rng)
    drawn = np.stack([at_resolution(f, render) for f in drawn])
    grow, feather = _kernel(5, size), _kernel(11, size)
    out, masks = [], []
    for frame, face, old, new in zip(target.frames, drawn, target.points, points, strict=True):
        if mouth_only:
            region = np.zeros((size, size), np.uint8)
            hull = np.concatenate([old[_MOUTH_REGION], new[_MOUTH_REGION]])
            cv2.fillConvexPoly(region, cv2.convexHull(np.round(hull).astype(np.int32)), 1)
            region = cv2.dilate(region, np.ones((grow, grow), np.uint8))
        else:
            region = np.maximum(_hull_mask(old, size), _hull_mask(new, size))
            face = _colour_transfer(face, frame, region)
        soft = cv2.GaussianBlur(region.astype(np.float32), (feather, feather), 0)[..., None]
        out.append((face * soft + frame * (1 - soft)).clip(0, 255).astype(np.uint8))
        masks.append(soft[..., 0] > 0.05)
    return np.stack(out), np.stack(masks)


#: the encoder process of the running :func:`generate_demo` (None: encode in this process)
_ENCODER: EncoderProcess | None = None


def write_video(path: Path, frames: np.ndarray, fps: int, crf: int) -> None:
    """H.264 (libx264, yuv420p) at the given CRF, written atomically; inside
    :func:`generate_demo`, in its encoder process (reproducible bytes:
    :mod:`istvt.data.encode`)."""
    if _ENCODER is not None:
        _ENCODER.write(path, frames, fps, crf)
    else:
        encode_h264(path, frames, fps, crf)


def _save_mask(root: Path, video: Path, masks: np.ndarray) -> None:
    out = root / "masks" / video.relative_to(root).with_suffix(".npz")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, masks=masks)


def load_mask(root: str | Path, video: str | Path) -> np.ndarray:
    """Ground-truth masks (frames, H, W) bool of a demo fake video under ``root``."""
    root, video = Path(root), Path(video)
    with np.load(root / "masks" / video.relative_to(root).with_suffix(".npz")) as f:
        return f["masks"]


# --------------------------------------------------------------------------- layouts
def _split_ids(n: int, test_share: float) -> dict[str, list[int]]:
    """Identity indices per split, in pairs: 20 % val, ``test_share`` test, the rest
    train (at least one pair each)."""
    n -= n % 2
    pairs = n // 2
    val = max(1, round(0.2 * pairs))
    test = max(1, round(test_share * pairs))
    train = pairs - val - test
    ids = list(range(n))
    return {
        "train": ids[: 2 * train],
        "val": ids[2 * train : 2 * (train + val)],
        "test": ids[2 * (train + val) : 2 * pairs],
    }


def _test_ids(n: int, test_share: float) -> set[int]:
    """The last ``test_share`` of the identities (at least two): the test split."""
    return set(range(n - max(2, round(test_share * n)), n))


#: the new face's render resolution as a fraction of its size in the frame: Celeb-DF's
#: improved synthesis renders 256 px faces, DFDC's autoencoders mostly 128 px, each
#: pasted onto larger faces (scaled to the demo's 256-px frames); FF++ FaceSwap is
#: graphics-based and projects the source texture at the frame's resolution
RENDER = {"celebdf": 0.75, "dfdc": 0.5}


#: FF++ demo methods, each modelled on its real counterpart's artifact
FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")


def ffpp_fake(
    method: str,
    target: Footage,
    target_person: Identity,
    source_person: Identity,
    source: Footage,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """One FF++ demo fake of ``target`` (the real video) made with ``source`` (the
    other video of its FF++ pair), by the method's published recipe in miniature:

    * Deepfakes: the source identity's face from an autoencoder-sized render (half the
      frame's resolution: the face at ~64 px, as DeepFaceLab's 64-128 px outputs on
      FF++'s faces), scaled up, colour-matched and blended in;
    * FaceSwap: a graphics swap of the source identity (landmark-fitted warp), colour
      transfer, Poisson blend with its boundary;
    * Face2Face: the target's own face re-rendered with the source clip's expression;
    * NeuralTextures: the target's mouth region re-rendered with the source clip's
      mouth motion.
    """
    if method == "Deepfakes":
        return swap(target, source_person, rng, render=0.5)
    if method == "FaceSwap":
        return swap(target, source_person, rng)
    if method == "Face2Face":
        return reenact(target, target_person, source.motion, rng, render=0.75)
    if method == "NeuralTextures":
        return reenact(target, target_person, source.motion, rng, mouth_only=True, render=0.6)
    raise ValueError(f"unknown FF++ demo method {method!r}; choose from {FFPP_METHODS}")


def write_ffpp(root: Path, people: list[Identity], opts: DemoOptions) -> int:
    """FF++ layout: originals, the four methods' fakes of each pair (both ways), splits."""
    rng = np.random.default_rng([opts.seed, 1])
    splits = _split_ids(len(people), opts.test_share)
    (root / "splits").mkdir(parents=True, exist_ok=True)
    for name, ids in splits.items():
        pairs = [[f"{ids[i]:03d}", f"{ids[i + 1]:03d}"] for i in range(0, len(ids), 2)]
        (root / "splits" / f"{name}.json").write_text(json.dumps(pairs))
    videos = 0
    footage = {}
    for i, person in enumerate(people[: 2 * (len(people) // 2)]):
        footage[i] = film(person, opts.frames, opts.size_of("ffpp"), opts.fps, rng)
        write_video(
            root / f"original_sequences/youtube/c23/videos/{i:03d}.mp4",
            footage[i].frames,
            opts.fps,
            opts.ffpp_crf,
        )
        videos += 1
    for ids in splits.values():
        for k in range(0, len(ids), 2):
            for t, s in ((ids[k], ids[k + 1]), (ids[k + 1], ids[k])):
                name = f"{t:03d}_{s:03d}.mp4"
                for method in FFPP_METHODS:
                    frames, masks = ffpp_fake(
                        method, footage[t], people[t], people[s], footage[s], rng
                    )
                    path = root / f"manipulated_sequences/{method}/c23/videos" / name
                    write_video(path, frames, opts.fps, opts.ffpp_crf)
                    _save_mask(root, path, masks)
                    videos += 1
    return videos


def write_celebdf(root: Path, people: list[Identity], opts: DemoOptions) -> int:
    """Celeb-DF layout: Celeb-real, YouTube-real, Celeb-synthesis (temporal-jitter swaps
    of ``fakes_per_real`` other identities of the same split onto each real video)."""
    rng = np.random.default_rng([opts.seed, 2])
    n = len(people)
    test_ids = _test_ids(n, opts.test_share)
    lines, videos = [], 0
    footage = {}
    for i, person in enumerate(people):
        footage[i] = film(person, opts.frames, opts.size_of("celebdf"), opts.fps, rng)
        path = root / "Celeb-real" / f"id{i}_0000.mp4"
        write_video(path, footage[i].frames, opts.fps, opts.celebdf_crf)
        videos += 1
        if i in test_ids:
            lines.append(f"1 Celeb-real/{path.name}")
    for j in range(2):
        person = people[j]
        path = root / "YouTube-real" / f"{j:05d}.mp4"
        write_video(
            path,
            film(person, opts.frames, opts.size_of("celebdf"), opts.fps, rng).frames,
            opts.fps,
            opts.celebdf_crf,
        )
        videos += 1
    for t in range(n):
        group = sorted(test_ids) if t in test_ids else [i for i in range(n) if i not in test_ids]
        for k in range(1, min(opts.fakes_per_real, len(group) - 1) + 1):
            s = group[(group.index(t) + k) % len(group)]
            frames, masks = swap(
                footage[t], people[s], rng, temporal_jitter=True, render=RENDER["celebdf"]
            )
            path = root / "Celeb-synthesis" / f"id{t}_id{s}_0000.mp4"
            write_video(path, frames, opts.fps, opts.celebdf_crf)
            _save_mask(root, path, masks)
            videos += 1
            if t in test_ids:
                lines.append(f"0 Celeb-synthesis/{path.name}")
    (root / "List_of_testing_videos.txt").write_text("\n".join(lines) + "\n")
    return videos


#: the DFDC demo's two kinds of fake, recorded per video in :data:`KINDS_FILE` (a side
#: file of the demo, not part of DFDC's layout, which names no method)
KIND_SELF_BLEND, KIND_SWAP = "self-blend", "swap"
KINDS_FILE = "kinds.csv"
#: what :func:`self_blend` drew for each self-blend, columns of :data:`KINDS_FILE`
SELF_BLEND_DRAWS = ("hue", "saturation", "gain", "scale", "filter")


def write_dfdc(root: Path, people: list[Identity], opts: DemoOptions) -> int:
    """DFDC layout: two training parts with metadata.json and a labelled test folder;
    ``fakes_per_real`` fakes of each real (self-blends and swaps, alternating) at a
    stronger compression."""
    rng = np.random.default_rng([opts.seed, 3])
    n = len(people)
    test_ids = _test_ids(n, opts.test_share)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    names = iter(
        "".join(rng.choice(letters, 10)) + ".mp4" for _ in range((opts.fakes_per_real + 3) * n)
    )
    meta: dict[str, dict] = {"dfdc_train_part_0": {}, "dfdc_train_part_1": {}}
    labels = []
    kinds = []  # "video path,kind,draws" lines: DFDC's layout names no method
    videos = 0
    for i, person in enumerate(people):
        clip = film(person, opts.frames, opts.size_of("dfdc"), opts.fps, rng)
        real = next(names)
        # methods alternate over the fakes of a real: self-blends and swaps of others
        fakes = [
            (KIND_SELF_BLEND, *self_blend(clip, rng))
            if (i + k) % 2 == 0
            else (KIND_SWAP, *swap(clip, people[(i + 1 + k) % n], rng, render=RENDER["dfdc"]), {})
            for k in range(opts.fakes_per_real)
        ]
        if i in test_ids:
            folder = root / "test"
            write_video(folder / real, clip.frames, opts.fps, opts.dfdc_crf)
            labels.append(f"{real},0")
        else:
            part = f"dfdc_train_part_{i % 2}"
            folder = root / part
            write_video(folder / real, clip.frames, opts.fps, opts.dfdc_crf)
            meta[part][real] = {"label": "REAL", "split": "train", "original": None}
        videos += 1
        for kind, frames, masks, drawn in fakes:
            fake = next(names)
            path = folder / fake
            write_video(path, frames, opts.fps, opts.dfdc_crf)
            _save_mask(root, path, masks)
            row = [path.relative_to(root).as_posix(), kind]
            kinds.append(",".join(map(str, row + [drawn.get(c, "") for c in SELF_BLEND_DRAWS])))
            videos += 1
            if i in test_ids:
                labels.append(f"{fake},1")
            else:
                meta[folder.name][fake] = {"label": "FAKE", "split": "train", "original": real}
    for part, entries in meta.items():
        (root / part).mkdir(parents=True, exist_ok=True)
        (root / part / "metadata.json").write_text(json.dumps(entries, indent=1))
    (root / "test").mkdir(parents=True, exist_ok=True)
    (root / "test" / "labels.csv").write_text("filename,label\n" + "\n".join(labels) + "\n")
    header = ",".join(["video", "kind", *SELF_BLEND_DRAWS])
    (root / KINDS_FILE).write_text(header + "\n" + "\n".join(kinds) + "\n")
    return videos


def load_kinds(root: str | Path) -> dict[str, str]:
    """The demo DFDC fakes' kinds (:data:`KIND_SELF_BLEND` or :data:`KIND_SWAP`) by
    manifest video id (``part/name``, no suffix); empty where the file is absent (data
    sets not made by the demo, or made before it recorded them)."""
    path = Path(root) / KINDS_FILE
    if not path.is_file():
        return {}
    with path.open(newline="") as fh:
        return {str(Path(r["video"]).with_suffix("")): r["kind"] for r in csv.DictReader(fh)}


WRITERS = {"ffpp": write_ffpp, "celebdf": write_celebdf, "dfdc": write_dfdc}


def expected_videos(layout: str, opts: DemoOptions, val_fraction: float = 0.1) -> dict[str, int]:
    """Videos per split the demo data set of ``layout`` will hold, before it is made
    (``istvt plan``). FF++ is exact (its split files); Celeb-DF and DFDC carve
    validation from training by identity, here taken as ``val_fraction`` of the pool."""
    n = opts.identities
    if layout == "ffpp":
        per_id = 1 + len(FFPP_METHODS)
        return {k: len(ids) * per_id for k, ids in _split_ids(n, opts.test_share).items()}
    tests = len(_test_ids(n, opts.test_share))
    if layout == "celebdf":
        test = tests * (1 + min(opts.fakes_per_real, tests - 1))
        pool = 2 + (n - tests) * (1 + min(opts.fakes_per_real, n - tests - 1))
    elif layout == "dfdc":
        test = tests * (1 + opts.fakes_per_real)
        pool = (n - tests) * (1 + opts.fakes_per_real)
    else:
        raise ValueError(f"unknown demo data set {layout!r}; choose from {', '.join(WRITERS)}")
    val = round(val_fraction * pool)
    return {"train": pool - val, "val": val, "test": test}


def _write_readme(folder: Path, opts: DemoOptions, layout: str) -> None:
    kinds = f" The kind of each fake: {KINDS_FILE}." if layout == "dfdc" else ""
    (folder / "README.txt").write_text(
        "Embedded demo data generated by `istvt demo-data` from faces shipped in matplotlib "
        "and scikit-image.\nFolder names follow each benchmark's layout; the methods are "
        "the demo's own: FF++ Deepfakes = low-resolution swap of another identity, FaceSwap "
        "= graphics swap, Face2Face = own face with another clip's expression, "
        "NeuralTextures = mouth region re-rendered; Celeb-DF Celeb-synthesis = temporally "
        "jittered swap, DFDC fakes = self-blends and swaps.\n"
        f"Ground-truth masks: masks/<video path>.npz.{kinds}\n"
        f"options: {json.dumps(opts.__dict__)}\n"
    )


def generate_demo(
    out: str | Path, options: DemoOptions | None = None, datasets: tuple[str, ...] = tuple(WRITERS)
) -> dict[str, int]:
    """Write the demo data sets under ``out/<dataset>``; returns videos per data set."""
    opts = options or DemoOptions()
    out = Path(out)
    t0 = time.perf_counter()
    for name in datasets:
        if name not in WRITERS:
            raise ValueError(f"unknown demo data set {name!r}; choose from {', '.join(WRITERS)}")
    global _ENCODER
    people = make_identities(opts.identities, opts.seed)
    counts = {}
    with EncoderProcess() as _ENCODER:
        try:
            for name in datasets:
                counts[name] = WRITERS[name](out / name, people, opts)
                _write_readme(out / name, opts, name)
                log.info(
                    "demo %s: %d videos (%.1f s so far)",
                    name,
                    counts[name],
                    time.perf_counter() - t0,
                )
        finally:
            _ENCODER = None
    return counts
