"""H.264 encoding (libx264 through PyAV), reproducibly.

libx264's macroblock-tree rate control (``mbtree``, on in every preset we use) makes
decisions that depend on memory it does not initialise. The same frames give other
bytes after other work in the same process has churned the heap (six encodes of one
8-frame 192-px clip between demo renderings: six different files), and, in a process
that encodes one video after another, after earlier encodes whose threads ran in
another order (the tiny test demo: 58 of 66 videos differed between a run on idle
cores and one beside two busy processes). With ``no-mbtree`` every encode was
identical, but that changes every demo video. The first encode of a fresh process was
identical every time, idle or loaded, so :class:`EncoderProcess` gives each video one:
a clean child (``python -m istvt.data.encode``) forks a process per video from the
same untouched state, which encodes it and exits. The encoder settings are unchanged:
the default demo's 706 videos have the bytes they had when encoded in-process.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from collections import deque
from pathlib import Path

import numpy as np


def encode_h264(path: str | Path, frames: np.ndarray, fps: int, crf: int) -> Path:
    """Write ``frames`` ((T, H, W, 3) uint8 RGB) as H.264 (libx264, yuv420p) at ``crf``,
    to a temporary name first, renamed when complete."""
    import av

    from istvt.fsutil import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp, av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def reencode_h264(src: str | Path, dst: str | Path, crf: int) -> Path:
    """Re-encode the video ``src`` as H.264 (libx264, yuv420p) at ``crf`` into ``dst``,
    frame by frame (no whole video in memory), every frame kept, sides cut to even
    numbers; written to a temporary name, then renamed."""
    import av

    from istvt.data.video import open_video
    from istvt.fsutil import atomic_path

    dst = Path(dst)
    with open_video(src) as source, atomic_path(dst) as tmp:
        video = source.streams.video[0]
        with av.open(str(tmp), mode="w", format="mp4") as out:
            stream = out.add_stream("libx264", rate=video.average_rate or 25)
            stream.width = video.codec_context.width // 2 * 2  # yuv420p needs even sides
            stream.height = video.codec_context.height // 2 * 2
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(int(crf)), "preset": "veryfast"}
            for frame in source.decode(video):
                img = frame.to_ndarray(format="rgb24")[: stream.height, : stream.width]
                for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
    return dst


class EncoderProcess:
    """Encode each video in a fresh process forked from a clean one (module docstring).

    :meth:`write` sends frames and returns at once (at most ``pending`` videos in
    flight, so that rendering goes on beside encoding); an error surfaces on a later
    :meth:`write` or on leaving the ``with`` block, naming the video. :meth:`compress`
    re-encodes a video file (:func:`reencode_h264`) and waits: it returns None, or the
    error as text.
    """

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

    def _send(self, header: dict, payload: bytes | memoryview = b"") -> None:
        assert self._child is not None, "use EncoderProcess in a with block"
        data = json.dumps(header).encode()
        self._child.stdin.write(struct.pack(">I", len(data)) + data)
        self._child.stdin.write(payload)
        self._child.stdin.flush()

    def _answer(self) -> str | None:
        line = self._child.stdout.readline().decode().strip()
        if line == "ok":
            return None
        return line.removeprefix("error: ") or "the encoder process died"

    def _collect(self) -> None:
        path = self._queue.popleft()
        error = self._answer()
        if error:
            raise RuntimeError(f"encoding {path} failed: {error}")

    def write(self, path: str | Path, frames: np.ndarray, fps: int, crf: int) -> None:
        while len(self._queue) >= self.pending:
            self._collect()
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        header = {"kind": "frames", "path": str(Path(path).resolve()), "fps": int(fps)}
        header.update(crf=int(crf), shape=list(frames.shape))
        self._send(header, memoryview(frames).cast("B"))
        self._queue.append(str(path))

    def compress(self, src: str | Path, dst: str | Path, crf: float) -> str | None:
        while self._queue:
            self._collect()
        paths = {"src": str(Path(src).resolve()), "dst": str(Path(dst).resolve())}
        self._send({"kind": "compress", **paths, "crf": int(crf)})
        return self._answer()

    def __exit__(self, *exc) -> None:
        try:
            while self._queue and exc[0] is None:
                self._collect()
        finally:
            self._child.stdin.close()
            self._child.wait()
            self._child = None


def _read(fd: int, n: int) -> bytearray:
    """Exactly ``n`` bytes from ``fd`` (unbuffered: the parent's reads must not run
    ahead of a forked child's); EOFError at the end of the stream."""
    out = bytearray(n)
    view, got = memoryview(out), 0
    while got < n:
        chunk = os.readv(fd, [view[got:]])
        if chunk == 0:
            raise EOFError
        got += chunk
    return out


_EOF = 3  # a forked child's exit status: no more requests


def _one_request() -> int:
    """In a forked child: read one request from stdin, do it, answer on stdout."""
    try:
        header = json.loads(_read(0, struct.unpack(">I", _read(0, 4))[0]))
    except EOFError:
        return _EOF
    try:
        if header["kind"] == "frames":
            shape = header["shape"]
            data = _read(0, int(np.prod(shape)))
            frames = np.frombuffer(data, np.uint8).reshape(shape)
            encode_h264(header["path"], frames, header["fps"], header["crf"])
        else:
            reencode_h264(header["src"], header["dst"], header["crf"])
        answer = "ok"
    except Exception as error:  # reported to the parent
        answer = "error: " + f"{type(error).__name__}: {error}".replace("\n", " ")
    os.write(1, (answer + "\n").encode())
    return 0


def _serve() -> None:
    """The clean process: fork a child per request, each from this same state."""
    import av  # noqa: F401  (loaded once, before any fork)

    while True:
        pid = os.fork()
        if pid == 0:
            os._exit(_one_request())
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        if status == _EOF:
            return
        if status != 0:  # died before answering (a crash in the encoder)
            os.write(1, f"error: the encoding process died with status {status}\n".encode())


if __name__ == "__main__":
    _serve()
