"""The demo's options (the config's ``demo`` section) and its pixel scale."""

from __future__ import annotations

from dataclasses import dataclass

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

    def size_of(self, name: str) -> int:
        """Frame side of the demo data set ``name`` (a key of the demo's writers)."""
        own = getattr(self, f"{name}_size", None)
        return own or self.size

    def min_detect_upsample(self, name: str) -> int:
        """The least ``preprocess.detect_upsample`` that finds the faces of the demo set
        ``name``: they span ~0.42 x its frame side; dlib's detector finds 80 px and up."""
        up = 0
        while 0.42 * self.size_of(name) * 2**up < 80:
            up += 1
        return up

    @classmethod
    def from_dict(cls, data: dict | None) -> DemoOptions:
        from istvt.config import dataclass_from_dict

        return dataclass_from_dict(cls, data, "demo")
