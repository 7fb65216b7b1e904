"""The embedded demo data set: videos and fakes generated from faces shipped in packages.

Nothing is downloaded. Two photographs ship with our dependencies (matplotlib's
``grace_hopper.jpg`` and scikit-image's astronaut); each demo person is a portrait of
their own around a face taken from one of them (:mod:`istvt.data.portraits`: face
shape, skin tone, age cues, hair, glasses, clothes, background). Each identity becomes
short videos with head motion in roll and yaw, talking, blinks, camera and lighting
drift and sensor noise, H.264-encoded with PyAV.

The package is split by concern:

* :mod:`~istvt.data.demo.options`: :class:`DemoOptions` (the config's ``demo`` section);
* :mod:`~istvt.data.demo.people`: the people, their motion and the rendering of a
  recording;
* :mod:`~istvt.data.demo.methods`: the fake methods, each beside its siblings and
  modelled on the published method it stands for;
* :mod:`~istvt.data.demo.layouts`: the data sets on disk in the FaceForensics++,
  Celeb-DF v2 and DFDC layouts, with different methods and compression in each, so
  cross-dataset results mean something, a test-only set of self-blends that no demo
  model trains on, and :func:`generate_demo`.

Celeb-DF and DFDC make ``fakes_per_real`` fakes of each real video, as the real data
sets do (many more fakes than reals); ``test_share`` of the identities are test
identities, enough for 30 test videos per data set. The ground-truth manipulation mask
of every fake frame is saved losslessly as ``<root>/masks/<video path>.npz`` (member
``masks``: (frames, H, W) bool). Deterministic from ``seed``.
"""

from istvt.data.demo.layouts import (
    DEMO_LAYOUTS,
    KIND_SELF_BLEND,
    KINDS_FILE,
    KINDS_PEOPLE,
    SELF_BLEND_DRAWS,
    WRITERS,
    expected_videos,
    generate_demo,
    load_kinds,
    load_mask,
    read_kinds,
    write_video,
)
from istvt.data.demo.methods import (
    DFDC_METHODS,
    FFPP_METHODS,
    RENDER,
    at_resolution,
    dfdc_fake,
    ffpp_fake,
    reenact,
    self_blend,
    swap,
)
from istvt.data.demo.options import REFERENCE_SIZE, DemoOptions
from istvt.data.demo.people import (
    CANVAS,
    PHOTOS,
    FaceWarp,
    Footage,
    Identity,
    Motion,
    animate_points,
    draw_motion,
    film,
    make_identities,
    photograph,
    render_frames,
    warp_triangles,
)

__all__ = [
    "CANVAS",
    "DEMO_LAYOUTS",
    "DFDC_METHODS",
    "FFPP_METHODS",
    "KINDS_FILE",
    "KINDS_PEOPLE",
    "KIND_SELF_BLEND",
    "PHOTOS",
    "REFERENCE_SIZE",
    "RENDER",
    "SELF_BLEND_DRAWS",
    "WRITERS",
    "DemoOptions",
    "FaceWarp",
    "Footage",
    "Identity",
    "Motion",
    "animate_points",
    "at_resolution",
    "dfdc_fake",
    "draw_motion",
    "expected_videos",
    "ffpp_fake",
    "film",
    "generate_demo",
    "photograph",
    "read_kinds",
    "load_kinds",
    "load_mask",
    "make_identities",
    "reenact",
    "render_frames",
    "self_blend",
    "swap",
    "warp_triangles",
    "write_video",
]
