"""Demo people and their recordings: portraits made from the two shipped photographs,
head motion, talking and blinks, and the rendering of a recording's frames."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from istvt.data.demo.options import _px
from istvt.data.faces import FaceOptions, FaceTracker, landmarks
from istvt.data.portraits import draw_look, draw_portrait, reshape_face

CANVAS = 320  # side of the canonical portrait identities are drawn on
# canonical eye centres (left, right) in the canvas; the face spans ~130 px
_EYES = np.array([[128.0, 140.0], [192.0, 140.0]])


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


#: the photographs the demo's people are made from, in turn (person k: ``PHOTOS[k % 2]``)
PHOTOS = ("grace_hopper", "astronaut")


def photograph(name: str) -> str:
    """The photograph a demo face was made from, by its :class:`Identity` name: one of
    :data:`PHOTOS`, or ``"both"`` for a face of nobody made of one person of each."""
    if name.startswith("nobody-"):
        found = {photograph(part) for part in name.removeprefix("nobody-").split("-")}
        return found.pop() if len(found) == 1 else "both"
    return PHOTOS[int(name.removeprefix("person")) % len(PHOTOS)]


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
        image, pts = bases[k % len(PHOTOS)]
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
