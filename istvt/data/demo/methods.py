"""The demo's fake methods, each modelled on the published method it stands for."""

from __future__ import annotations

import cv2
import numpy as np

from istvt.data.demo.options import _kernel, _px
from istvt.data.demo.people import (
    CANVAS,
    FaceWarp,
    Footage,
    Identity,
    Motion,
    _frame_points,
    _triangles,
    render_frames,
    warp_triangles,
)

_HULL = list(range(17)) + list(range(26, 16, -1))  # jaw, then brows right-to-left


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


#: a per-frame fit's alignment error (the similarity that puts the generated face onto
#: the frame): roll in degrees, relative scale, shift in :data:`REFERENCE_SIZE` pixels.
#: Re-drawn every frame, the flicker of per-frame alignment that FF++'s swaps show
ALIGNMENT_NOISE = (0.3, 0.004, 0.8)
#: how far the swap mask reaches above the brows, as a fraction of the nose's length:
#: the generators' masks cover the brows whole (DeepFaceLab's and faceswap's "extended"
#: masks, FaceSwap's 3-D model hull); a mask whose edge runs through the brows leaves
#: half of each brow from either face, which shook dlib's landmarks (docs/data.md)
BROW_LIFT = 0.3


def _alignment(rng: np.random.Generator, size: int) -> np.ndarray:
    """One draw of the alignment error: (roll degrees, scale - 1, shift x, shift y)."""
    roll, scale, shift = ALIGNMENT_NOISE
    return np.array(
        [rng.normal(0, roll), rng.normal(0, scale), *rng.normal(0, shift * _px(size), 2)]
    )


def _misaligned(pts: np.ndarray, error: np.ndarray) -> np.ndarray:
    """``pts`` moved by an alignment error, a similarity about the nose."""
    centre = pts[27:36].mean(0)
    a = np.deg2rad(error[0])
    rot = (1 + error[1]) * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (pts - centre) @ rot.T + centre + error[2:]


def _swap_mask(pts: np.ndarray, size: int) -> np.ndarray:
    """The generators' face mask: the landmark hull with the brows inside it."""
    lifted = pts.copy()
    lifted[17:27] += BROW_LIFT * (pts[27] - pts[30])  # up along the nose, by its length
    return _hull_mask(lifted, size)


def swap(
    target: Footage,
    source: Identity,
    rng: np.random.Generator,
    render: float = 1.0,
    smooth: float = 0.0,
    flicker: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Face swap of ``source`` onto every frame of ``target``, as the autoencoder and
    graphics swaps do it: the source face is warped onto the frame's landmarks (fitted
    per frame, with :data:`ALIGNMENT_NOISE`), colour-matched inside the generators' face
    mask (:func:`_swap_mask`) and alpha-blended through its feathered edge (faceswap's
    and FaceSwap's blend, DeepFaceLab's default overlay).

    Returns (frames, masks). ``render`` < 1 renders the new face at that fraction of
    its size in the frame and scales it up, as autoencoder generators do (a 64-256 px
    output pasted onto larger faces). ``smooth`` in [0, 1) smooths the alignment error
    over frames (Celeb-DF v2 smooths its landmarks against flicker); ``flicker``
    re-draws the colour gains and the mask's extent every frame, a temporal
    inconsistency a single frame barely shows.
    """
    if not 0 <= smooth < 1:
        raise ValueError(f"smooth must be in [0, 1), got {smooth}")
    size = target.frames.shape[1]
    src_full = _frame_points(source.points, CANVAS)
    feather = _kernel(7, size)
    out, masks = [], []
    error = None
    for frame, pts in zip(target.frames, target.points, strict=True):
        draw = _alignment(rng, size)
        error = draw if error is None else smooth * error + (1 - smooth) * draw
        fitted = _misaligned(pts, error)
        dst_full = _frame_points(fitted, size)
        warped = warp_triangles(source.image, src_full, dst_full, _triangles(dst_full, size), size)
        if render < 1.0:
            warped = at_resolution(warped, render)
        mask = _swap_mask(fitted, size)
        if flicker:
            k = _kernel(int(rng.integers(0, 3)) * 2 + 1, size)
            mask = cv2.dilate(mask, np.ones((k, k), np.uint8))
        face = _colour_transfer(warped, frame, mask).astype(np.float32)
        if flicker:
            face = face * rng.uniform(0.9, 1.1, 3)
        soft = cv2.GaussianBlur(mask.astype(np.float32), (feather, feather), 0)[..., None]
        out.append((face * soft + frame * (1 - soft)).clip(0, 255).astype(np.uint8))
        masks.append(soft[..., 0] > 0.05)
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
    """A renderer's output: ``image`` drawn at ``render`` of its resolution, scaled up
    with cubic interpolation, as the generators' mergers paste their outputs."""
    size = image.shape[0]
    small = max(8, round(size * render))
    return cv2.resize(
        cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA),
        (size, size),
        interpolation=cv2.INTER_CUBIC,
    )


def _head_mask(pts: np.ndarray, size: int) -> np.ndarray:
    """The face up to the hairline: the landmark hull with the brows lifted by the
    nose's length (a talking-head generator renders the whole head crop)."""
    lifted = pts.copy()
    lifted[17:27] += pts[27] - pts[30]
    return _hull_mask(lifted, size)


#: the whole-face regions a reenactment may re-render (:func:`reenact`)
REGIONS = {"face": _hull_mask, "swap": _swap_mask, "head": _head_mask}


def reenact(
    target: Footage,
    person: Identity,
    driver: Motion,
    rng: np.random.Generator,
    mouth_only: bool = False,
    render: float = 0.6,
    region: str = "face",
) -> tuple[np.ndarray, np.ndarray]:
    """Facial reenactment: ``person`` re-rendered in ``target``'s pose and lighting with
    the expression of another recording (``driver``), at a renderer's resolution, and
    blended into the target frames through a soft mask.

    ``mouth_only=False``: Face2Face (the whole face re-rendered with the driver's mouth
    and blinks, colour-matched, blended over the face); ``True``: NeuralTextures (only
    the mouth and chin re-rendered with the driver's mouth, over a mouth-region mask).
    ``region`` for the whole face: ``face`` (the landmark hull), ``swap`` (the
    generators' mask, brows inside: another person's face) or ``head`` (the face up to
    the hairline and a margin around it: a talking head re-rendered whole).
    """
    if region not in REGIONS:
        raise ValueError(f"region must be one of {REGIONS}, got {region!r}")
    size = target.frames.shape[1]
    motion = target.motion.with_expression(driver, eyes=not mouth_only)
    drawn, points, _ = render_frames(person, motion, size, rng)
    drawn = np.stack([at_resolution(f, render) for f in drawn])
    grow, feather, margin = _kernel(5, size), _kernel(11, size), _kernel(9, size)
    out, masks = [], []
    for frame, face, old, new in zip(target.frames, drawn, target.points, points, strict=True):
        if mouth_only:
            region_mask = np.zeros((size, size), np.uint8)
            hull = np.concatenate([old[_MOUTH_REGION], new[_MOUTH_REGION]])
            cv2.fillConvexPoly(region_mask, cv2.convexHull(np.round(hull).astype(np.int32)), 1)
            region_mask = cv2.dilate(region_mask, np.ones((grow, grow), np.uint8))
        else:
            outline = REGIONS[region]
            region_mask = np.maximum(outline(old, size), outline(new, size))
            if region == "head":
                region_mask = cv2.dilate(region_mask, np.ones((margin, margin), np.uint8))
            face = _colour_transfer(face, frame, region_mask)
        soft = cv2.GaussianBlur(region_mask.astype(np.float32), (feather, feather), 0)[..., None]
        out.append((face * soft + frame * (1 - soft)).clip(0, 255).astype(np.uint8))
        masks.append(soft[..., 0] > 0.05)
    return np.stack(out), np.stack(masks)


#: the new face's render resolution as a fraction of its size in the frame: Celeb-DF's
#: improved synthesis renders 256 px faces, pasted onto larger faces (scaled to the
#: demo's 256-px frames); DFDC's methods: :data:`DFDC_RENDER`; FF++ FaceSwap is
#: graphics-based and projects the source texture at the frame's resolution
RENDER = {"celebdf": 0.75}


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


#: DFDC's methods (Dolhansky et al., 2020), each modelled in miniature by :func:`dfdc_fake`
DFDC_METHODS = ("DF-128", "DF-256", "MM-NN", "NTH", "FSGAN", "StyleGAN")
#: each DFDC method's render resolution, as a fraction of the face's size in the frame:
#: DFDC's faces are ~250 px in its 1080p videos (scaled to the demo's frames); the
#: autoencoders output 128 or 256 px, NTH a 256-px head crop, FSGAN a 256-px face; the
#: graphics and StyleGAN swaps texture the face at the frame's resolution
DFDC_RENDER = {
    "DF-128": 0.5,
    "DF-256": 0.9,
    "MM-NN": 1.0,
    "NTH": 0.5,
    "FSGAN": 0.75,
    "StyleGAN": 1.0,
}


def nobody(a: Identity, b: Identity) -> Identity:
    """A face of nobody in the data set: two people's portraits warped to their mean
    landmarks and averaged (StyleGAN's faces belong to no real person)."""
    mean = ((a.points + b.points) / 2).astype(np.float32)
    image = (FaceWarp(a.image, a.points)(mean) + FaceWarp(b.image, b.points)(mean)) / 2
    return Identity(f"nobody-{a.name}-{b.name}", image.clip(0, 255).astype(np.uint8), mean)


def nearest(people: list[Identity], index: int) -> int:
    """The other person whose face shape (landmarks, centred and scaled) is closest to
    ``people[index]``'s: DFDC's nearest-neighbour pairing of similar-looking people."""

    def shape(p: Identity) -> np.ndarray:
        centred = p.points - p.points.mean(0)
        return centred / np.linalg.norm(centred)

    mine = shape(people[index])
    return min(
        (j for j in range(len(people)) if j != index),
        key=lambda j: float(np.sum((shape(people[j]) - mine) ** 2)),
    )


def dfdc_fake(
    method: str, target: Footage, source: Identity, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One DFDC demo fake of ``target`` with the face of ``source`` (the caller picks it
    as the method does: a nearest neighbour for MM-NN, :func:`nobody` for StyleGAN):

    * DF-128, DF-256: autoencoder swaps, the new face rendered at 128 / 256 px, scaled
      up, colour-matched and blended through the generators' mask;
    * MM-NN: the morphable-mask swap of a similar-looking person, textured at the frame's
      resolution;
    * NTH: a neural talking head: the source person's whole head re-rendered few-shot in
      the target's pose and expression, low-resolution, pasted over the head;
    * FSGAN: the source face reenacted to the target's pose and expression, then blended
      into the target's face region;
    * StyleGAN: the face replaced by a generated face of no real person.

    Returns (frames, masks).
    """
    if method not in DFDC_METHODS:
        raise ValueError(f"unknown DFDC demo method {method!r}; choose from {DFDC_METHODS}")
    render = DFDC_RENDER[method]
    if method == "NTH":
        return reenact(target, source, target.motion, rng, render=render, region="head")
    if method == "FSGAN":
        return reenact(target, source, target.motion, rng, render=render, region="swap")
    return swap(target, source, rng, render=render)
