"""The demo data sets on disk, in the FaceForensics++, Celeb-DF v2 and DFDC layouts."""

from __future__ import annotations

import csv
import json
import logging
import time
from pathlib import Path

import numpy as np

from istvt.data.demo.methods import (
    DFDC_METHODS,
    FFPP_METHODS,
    RENDER,
    dfdc_fake,
    ffpp_fake,
    nearest,
    nobody,
    self_blend,
    swap,
)
from istvt.data.demo.options import DemoOptions
from istvt.data.demo.people import Identity, film, make_identities
from istvt.data.encode import EncoderProcess, encode_h264

log = logging.getLogger(__name__)

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
    """Ground-truth masks (frames, H, W) bool of a demo fake video under ``root``.

    A video path from a run folder that was copied or moved (manifests keep absolute
    paths) still finds its mask: where ``video`` is not under ``root``, the part after
    the root's last two folders (``demo/<set>``) is taken as its place in ``root``."""
    root, video = Path(root), Path(video)
    try:
        rel = video.relative_to(root)
    except ValueError:
        tail = root.parts[-2:]
        starts = [i for i in range(len(video.parts) - len(tail)) if video.parts[i : i + 2] == tail]
        if not starts:
            raise
        rel = Path(*video.parts[starts[-1] + 2 :])
    with np.load(root / "masks" / rel.with_suffix(".npz")) as f:
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


#: Celeb-DF v2 smooths the fitted landmarks over time against flicker (Li et al., 2020):
#: the weight of the previous frame's alignment error in the demo's swaps
CELEBDF_SMOOTH = 0.7


def write_celebdf(root: Path, people: list[Identity], opts: DemoOptions) -> int:
    """Celeb-DF layout: Celeb-real, YouTube-real, Celeb-synthesis (swaps of
    ``fakes_per_real`` other identities of the same split onto each real video, rendered
    at 256 px, with smoothed alignment and per-frame colour and mask flicker)."""
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
                footage[t],
                people[s],
                rng,
                render=RENDER["celebdf"],
                smooth=CELEBDF_SMOOTH,
                flicker=True,
            )
            path = root / "Celeb-synthesis" / f"id{t}_id{s}_0000.mp4"
            write_video(path, frames, opts.fps, opts.celebdf_crf)
            _save_mask(root, path, masks)
            videos += 1
            if t in test_ids:
                lines.append(f"0 Celeb-synthesis/{path.name}")
    (root / "List_of_testing_videos.txt").write_text("\n".join(lines) + "\n")
    return videos


#: the method of each fake of the DFDC demo and the self-blend set, recorded per video in
#: :data:`KINDS_FILE` (a side file of the demo, not part of DFDC's layout, which names
#: no method)
KINDS_FILE = "kinds.csv"
KIND_SELF_BLEND = "self-blend"
#: what :func:`self_blend` drew for each self-blend, columns of :data:`KINDS_FILE`
SELF_BLEND_DRAWS = ("hue", "saturation", "gain", "scale", "filter")
#: whose recording each fake alters and whose face it shows (:class:`Identity` names;
#: the two photographs the people come from: :func:`~.people.photograph`)
KINDS_PEOPLE = ("target", "source")


def _write_kinds(root: Path, rows: list[list]) -> None:
    header = ",".join(["video", "kind", *SELF_BLEND_DRAWS, *KINDS_PEOPLE])
    lines = [",".join(map(str, row)) for row in rows]
    (root / KINDS_FILE).write_text(header + "\n" + "\n".join(lines) + "\n")


def dfdc_source(method: str, people: list[Identity], i: int, k: int) -> Identity:
    """The face a DFDC method puts on person ``i``'s recording (its ``k``-th fake): a
    nearest neighbour for MM-NN, a face of nobody for StyleGAN, another person else."""
    n = len(people)
    if method == "MM-NN":
        return people[nearest(people, i)]
    if method == "StyleGAN":
        return nobody(people[(i + 1 + k) % n], people[(i + 2 + k) % n])
    return people[(i + 1 + k) % n]


def write_dfdc(root: Path, people: list[Identity], opts: DemoOptions) -> int:
    """DFDC layout: two training parts with metadata.json and a labelled test folder;
    ``fakes_per_real`` fakes of each real at a stronger compression, made by DFDC's
    methods in turn (:data:`DFDC_METHODS`; each fake's method in :data:`KINDS_FILE`)."""
    rng = np.random.default_rng([opts.seed, 3])
    n = len(people)
    test_ids = _test_ids(n, opts.test_share)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    names = iter(
        "".join(rng.choice(letters, 10)) + ".mp4" for _ in range((opts.fakes_per_real + 3) * n)
    )
    meta: dict[str, dict] = {"dfdc_train_part_0": {}, "dfdc_train_part_1": {}}
    labels, kinds, videos = [], [], 0
    for i, person in enumerate(people):
        clip = film(person, opts.frames, opts.size_of("dfdc"), opts.fps, rng)
        real = next(names)
        if i in test_ids:
            folder = root / "test"
            labels.append(f"{real},0")
        else:
            folder = root / f"dfdc_train_part_{i % 2}"
            meta[folder.name][real] = {"label": "REAL", "split": "train", "original": None}
        write_video(folder / real, clip.frames, opts.fps, opts.dfdc_crf)
        videos += 1
        for k in range(opts.fakes_per_real):
            method = DFDC_METHODS[(i * opts.fakes_per_real + k) % len(DFDC_METHODS)]
            source = dfdc_source(method, people, i, k)
            frames, masks = dfdc_fake(method, clip, source, rng)
            fake = next(names)
            path = folder / fake
            write_video(path, frames, opts.fps, opts.dfdc_crf)
            _save_mask(root, path, masks)
            video = path.relative_to(root).as_posix()
            blank = [""] * len(SELF_BLEND_DRAWS)
            kinds.append([video, method, *blank, person.name, source.name])
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
    _write_kinds(root, kinds)
    return videos


def write_selfblend(root: Path, people: list[Identity], opts: DemoOptions) -> int:
    """A test-only set in the generic folder layout (``test/{real,fake}``): recordings
    of the test identities and ``fakes_per_real`` self-blends of each (SBI-style: the
    frame's own face, altered and blended back). No demo training set holds this kind
    of fake; every demo model is scored on it. Each self-blend's draws in
    :data:`KINDS_FILE`."""
    rng = np.random.default_rng([opts.seed, 4])
    kinds, videos = [], 0
    for i in sorted(_test_ids(len(people), opts.test_share)):
        clip = film(people[i], opts.frames, opts.size_of("selfblend"), opts.fps, rng)
        write_video(root / "test" / "real" / f"{i:03d}.mp4", clip.frames, opts.fps, opts.dfdc_crf)
        videos += 1
        for k in range(opts.fakes_per_real):
            frames, masks, drawn = self_blend(clip, rng)
            path = root / "test" / "fake" / f"{i:03d}_{k}.mp4"
            write_video(path, frames, opts.fps, opts.dfdc_crf)
            _save_mask(root, path, masks)
            video = path.relative_to(root).as_posix()
            draws = [drawn[c] for c in SELF_BLEND_DRAWS]
            kinds.append([video, KIND_SELF_BLEND, *draws, people[i].name, people[i].name])
            videos += 1
    _write_kinds(root, kinds)
    return videos


def load_kinds(root: str | Path) -> dict[str, str]:
    """The method of each fake of a demo data set that records them (DFDC: one of
    :data:`DFDC_METHODS`; the self-blend set: :data:`KIND_SELF_BLEND`) by manifest video
    id (the path inside the root, no suffix); empty where the file is absent (data sets
    not made by the demo)."""
    return {r["video_id"]: r["kind"] for r in read_kinds(root)}


def read_kinds(root: str | Path) -> list[dict[str, str]]:
    """The rows of a demo data set's :data:`KINDS_FILE`, each with its manifest
    ``video_id`` (the path inside the root, no suffix); empty where the file is absent."""
    path = Path(root) / KINDS_FILE
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return [
            {**r, "video_id": str(Path(r["video"]).with_suffix(""))} for r in csv.DictReader(fh)
        ]


WRITERS = {
    "ffpp": write_ffpp,
    "celebdf": write_celebdf,
    "dfdc": write_dfdc,
    "selfblend": write_selfblend,
}
#: each demo data set's layout (:mod:`istvt.data.manifest`); its root is
#: ``resources/demo/<name>``
DEMO_LAYOUTS = {"ffpp": "ffpp", "celebdf": "celebdf", "dfdc": "dfdc", "selfblend": "folder"}


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
    elif layout == "selfblend":
        return {"train": 0, "val": 0, "test": tests * (1 + opts.fakes_per_real)}
    else:
        raise ValueError(f"unknown demo data set {layout!r}; choose from {', '.join(WRITERS)}")
    val = round(val_fraction * pool)
    return {"train": pool - val, "val": val, "test": test}


def _write_readme(folder: Path, opts: DemoOptions, layout: str) -> None:
    kinds = f" The method of each fake: {KINDS_FILE}." if layout in ("dfdc", "selfblend") else ""
    (folder / "README.txt").write_text(
        "Embedded demo data generated by `istvt demo-data` from faces shipped in matplotlib "
        "and scikit-image.\nFolder names follow each benchmark's layout; the methods are "
        "the demo's own: FF++ Deepfakes = low-resolution swap of another identity, FaceSwap "
        "= graphics swap, Face2Face = own face with another clip's expression, "
        "NeuralTextures = mouth region re-rendered; Celeb-DF Celeb-synthesis = swap "
        "with colour and mask flicker; DFDC fakes = DFDC's methods in miniature (DF-128, "
        "DF-256, MM-NN, NTH, FSGAN, StyleGAN); selfblend = test-only self-blends.\n"
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
