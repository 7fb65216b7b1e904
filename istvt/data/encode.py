"""H.264 encoding (libx264 through PyAV), reproducibly.

libx264's macroblock-tree rate control (``mbtree``, on in every preset we use) makes
decisions that depend on memory it does not initialise: the same frames encoded twice
in one process give different bytes once other work (OpenCV's thread pool, dlib) has
churned the heap, and so do two runs of the demo generator. Measured on the 192-px
demo: 10 of 18 DFDC videos differed between two runs, decoded pixels by up to 89
levels; with ``no-mbtree`` or without B-frames every encode was identical. Encoding in
a child process that does nothing else gives the same bytes every run, so
:class:`EncoderProcess` does that, with the encoder settings unchanged.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import deque
from pathlib import Path

import numpy as np


def encode_h264(path: str | Path, frames: np.ndarray, fps: int, crf: int) -> Path:
    """Write ``frames`` ((T, H, W, 3) uint8 RGB) as H.264 (libx264, yuv420p) at ``crf``,
    to a temporary name first, renamed when complete."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.mp4")
    with av.open(str(tmp), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)
    return path


class EncoderProcess:
    """Encode videos one after another in a child process (``python -m
    istvt.data.encode``) that does nothing else, while the caller renders the next ones.
    Each :meth:`write` sends a JSON header line and the frames' raw bytes through the
    child's stdin; the child answers one line per video. At most ``pending`` videos are
    in flight; an error surfaces on the next :meth:`write` or on leaving the ``with``
    block, naming the video."""

    def __init__(self, pending: int = 2) -> None:
        self.pending = pending
        self._queue: deque[str] = deque()
        self._child: subprocess.Popen | None = None

    def __enter__(self) -> EncoderProcess:
        self._child = subprocess.Popen(
            [sys.executable, "-m", "istvt.data.encode"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        return self

    def _collect(self) -> None:
        path = self._queue.popleft()
        answer = self._child.stdout.readline().decode().strip()
        if answer != "ok":
            raise RuntimeError(f"encoding {path} failed: {answer or 'the encoder process died'}")

    def write(self, path: str | Path, frames: np.ndarray, fps: int, crf: int) -> None:
        assert self._child is not None, "use EncoderProcess in a with block"
        while len(self._queue) >= self.pending:
            self._collect()
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        header = {"path": str(Path(path).resolve()), "fps": int(fps), "crf": int(crf)}
        header["shape"] = list(frames.shape)
        self._child.stdin.write(json.dumps(header).encode() + b"\n")
        self._child.stdin.write(frames.tobytes())
        self._child.stdin.flush()
        self._queue.append(str(path))

    def __exit__(self, *exc) -> None:
        try:
            while self._queue and exc[0] is None:
                self._collect()
        finally:
            self._child.stdin.close()
            self._child.wait()
            self._child = None


def _serve() -> None:
    """The child's loop: one header line and one array per video until stdin closes."""
    stdin, stdout = sys.stdin.buffer, sys.stdout
    while line := stdin.readline():
        header = json.loads(line)
        shape = header["shape"]
        frames = np.frombuffer(stdin.read(int(np.prod(shape))), np.uint8).reshape(shape)
        try:
            encode_h264(header["path"], frames, header["fps"], header["crf"])
            stdout.write("ok\n")
        except Exception as error:  # reported to the parent, which raises
            stdout.write(f"{type(error).__name__}: {error}\n".replace("\n", " ").strip() + "\n")
        stdout.flush()


if __name__ == "__main__":
    _serve()
