"""Face detection (dlib HOG), tracking, 68-point landmarks and the nose-centred crop.

The paper's crop (§IV-B.1): a square centred on the nose tip with side
``box_scale`` x max(face width, face height) (1.25), resized to the model's input size.
We detect on a downscaled grey copy of each frame, keep one face per video (the largest
at first sight, then the detection overlapping it most, so a clip never switches
person), fill frames without a detection from the nearest detected frame within
``fill_window`` frames of the same clip, and drop the clip otherwise.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import dlib
import numpy as np

NOSE_TIP = 30  # index of the nose tip in dlib's 68-point scheme

_LICENSE_NOTE = (
    "the 68-point model of the face-recognition-models package is licensed for "
    "non-commercial use only"
)


@lru_cache(maxsize=1)
def landmark_model_path() -> Path:
    """Path of ``shape_predictor_68_face_landmarks.dat`` inside face-recognition-models.

    Located with importlib without importing the package (its ``__init__`` needs the
    deprecated ``pkg_resources``).
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "dlib's 68-point landmark model not found: pip install face-recognition-models "
            f"({_LICENSE_NOTE})"
        )
    path = Path(spec.submodule_search_locations[0]) / "models"
    path = path / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: landmark model missing from face-recognition-models")
    return path


@lru_cache(maxsize=1)
def _detector():
    return dlib.get_frontal_face_detector()


@lru_cache(maxsize=1)
def _predictor():
    return dlib.shape_predictor(str(landmark_model_path()))


@dataclass(frozen=True)
class FaceOptions:
    """How faces are found and cropped (the ``preprocess`` section of the config)."""

    image_size: int = 300
    box_scale: float = 1.25
    detect_max_side: int = 640  # detection runs on a copy whose longer side is at most this
    detect_upsample: int = 0  # dlib's upsampling of the detection image (0 = none)
    fill_window: int = 2  # frames a detection may be borrowed from, within one clip
    min_iou: float = 0.2  # below this overlap a detection is another person


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class FaceTracker:
    """Detects the faces of one video frame by frame and follows one person."""

    def __init__(self, options: FaceOptions) -> None:
        self.options = options
        self.track: np.ndarray | None = None  # last box (x1, y1, x2, y2) in full-res pixels
        self.faces_seen_max = 0
        self.level = 0  # index of the detection scale that last found a face

    def _scales(self, h: int, w: int) -> list[float]:
        scales = [min(1.0, self.options.detect_max_side / max(h, w))]
        while scales[-1] < 1.0:
            scales.append(min(1.0, scales[-1] * 2))
        return scales

    def _run(self, gray: np.ndarray, scale: float, upsample: int | None = None) -> list[np.ndarray]:
        h, w = gray.shape
        if scale != 1.0:
            gray = cv2.resize(
                gray,
                (max(1, round(w * scale)), max(1, round(h * scale))),
                interpolation=cv2.INTER_AREA,
            )
        up = self.options.detect_upsample if upsample is None else upsample
        rects = _detector()(gray, up)
        return [np.array([r.left(), r.top(), r.right(), r.bottom()], float) / scale for r in rects]

    def detect(self, gray: np.ndarray) -> list[np.ndarray]:
        """All face boxes of a grey frame, in full-resolution pixel coordinates.

        Detection starts on a copy downscaled to ``detect_max_side``; where it finds
        nothing it retries at twice the scale, up to full resolution (small faces in
        1080p footage), and keeps the scale that worked for the next frames.
        """
        scales = self._scales(*gray.shape)
        for lvl in range(min(self.level, len(scales) - 1), len(scales)):
            boxes = self._run(gray, scales[lvl])
            if boxes:
                self.level = lvl
                return boxes
        return []

    def detect_near(self, gray: np.ndarray) -> list[np.ndarray]:
        """Faces in a window around the tracked box (about 4x its area); the whole frame
        when nothing is tracked or the window finds nothing. Much cheaper per frame."""
        if self.track is None:
            return self.detect(gray)
        h, w = gray.shape
        x1, y1, x2, y2 = self.track
        side = max(x2 - x1, y2 - y1)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        left, top = max(0, int(cx - side)), max(0, int(cy - side))
        right, bottom = min(w, int(cx + side) + 1), min(h, int(cy + side) + 1)
        # the window is small: scale it so the face spans ~120 px, well above the
        # detector's 80 px minimum, even where the frame is searched at a lower scale
        # or small faces need detect_upsample (which the scaled window does not)
        scale = min(2.0, 120.0 / max(side, 1.0))
        boxes = self._run(gray[top:bottom, left:right], scale, upsample=0)
        if not boxes:
            return self.detect(gray)
        return [b + [left, top, left, top] for b in boxes]

    def pick(self, boxes: list[np.ndarray]) -> np.ndarray | None:
        """The tracked person's box among ``boxes`` (largest at first sight)."""
        self.faces_seen_max = max(self.faces_seen_max, len(boxes))
        if not boxes:
            return None
        if self.track is None:
            box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
        else:
            box = max(boxes, key=lambda b: _iou(b, self.track))
            if _iou(box, self.track) < self.options.min_iou:
                return None
        self.track = box
        return box


def landmarks(gray: np.ndarray, box: np.ndarray) -> np.ndarray:
    """68 (x, y) landmarks of the face in ``box`` (full-res pixels) of a grey frame,
    float32 (68, 2)."""
    rect = dlib.rectangle(*[int(round(v)) for v in box])
    shape = _predictor()(gray, rect)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def crop_square(rgb: np.ndarray, center: np.ndarray, side: float, size: int) -> np.ndarray:
    """Square of ``side`` pixels centred on ``center``, zero-padded, resized to ``size``."""
    half = side / 2.0
    x1, y1 = int(round(center[0] - half)), int(round(center[1] - half))
    x2, y2 = int(round(center[0] + half)), int(round(center[1] + half))
    h, w = rgb.shape[:2]
    pad = max(0, -x1, -y1, x2 - w, y2 - h)
    if pad:
        rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        x1, y1, x2, y2 = x1 + pad, y1 + pad, x2 + pad, y2 + pad
    patch = rgb[y1:y2, x1:x2]
    interp = cv2.INTER_AREA if patch.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)


def crop_mask(mask: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """A source-frame (H, W) mask cut with a clip's crop ``box`` (centre x, y, side):
    the (size, size) bool mask aligned with the face crop."""
    cut = crop_square(mask.astype(np.float32), np.asarray(box[:2]), float(box[2]), size)
    return cut >= 0.5


@dataclass
class AlignedClip:
    frames: np.ndarray  # (T, S, S, 3) uint8 RGB
    landmarks: np.ndarray  # (T, 68, 2) float32 in crop pixel coordinates
    boxes: np.ndarray  # (T, 3) float32: crop centre x, y and side in source-frame pixels


def align_clip(frames: list[np.ndarray], tracker: FaceTracker) -> tuple[AlignedClip | None, int]:
    """Detect, track and crop one clip. Returns (clip or None, frames without a face);
    when a clip is returned, those frames borrowed a neighbour's box."""
    opts = tracker.options
    grays = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    # the whole frame at the clip's first frame (counts every face), then near the track
    boxes = [
        tracker.pick(tracker.detect(g) if i == 0 else tracker.detect_near(g))
        for i, g in enumerate(grays)
    ]
    missing = [i for i, b in enumerate(boxes) if b is None]
    found = [i for i, b in enumerate(boxes) if b is not None]
    if not found:
        return None, len(frames)
    for i in missing:
        nearest = min(found, key=lambda j: (abs(j - i), j))
        if abs(nearest - i) > opts.fill_window:
            return None, len(missing)
        boxes[i] = boxes[nearest]
    # one crop side for the clip (median), so the face does not breathe in size
    side = opts.box_scale * float(np.median([max(b[2] - b[0], b[3] - b[1]) for b in boxes]))
    crops, marks, geometry = [], [], []
    for frame, gray, box in zip(frames, grays, boxes, strict=True):
        pts = landmarks(gray, box)
        center = pts[NOSE_TIP]
        crops.append(crop_square(frame, center, side, opts.image_size))
        origin = center - side / 2.0
        marks.append((pts - origin) * (opts.image_size / side))
        geometry.append((center[0], center[1], side))
    clip = AlignedClip(
        np.stack(crops),
        np.stack(marks).astype(np.float32),
        np.asarray(geometry, dtype=np.float32),
    )
    return clip, len(missing)


def clip_shake(boxes: np.ndarray) -> np.ndarray:
    """How much each clip's face track shakes: the largest frame-to-frame move of the
    crop centre, as a fraction of the crop's side. ``boxes``: (clips, T, 3) crop centre
    x, y and side (:attr:`AlignedClip.boxes`, a shard's ``boxes``); returns (clips,)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 3 or boxes.shape[-1] != 3:
        raise ValueError(f"boxes must be (clips, T, 3), got {boxes.shape}")
    if boxes.shape[1] < 2:
        return np.zeros(len(boxes))
    moves = np.linalg.norm(np.diff(boxes[..., :2], axis=1), axis=-1)
    return moves.max(1) / boxes[..., 2].mean(1)
