"""Helpers shared by the benchmark scripts (run them as ``python benchmarks/<name>.py``)."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import threading
import time

import psutil
import torch


def release_free_heap() -> None:
    """Give freed heap pages back to the OS so RSS measures live memory (glibc only)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakMemory:
    """Peak memory above the level at entry: CUDA allocator stats, or sampled CPU RSS."""

    def __init__(self, device: torch.device, interval: float = 0.002) -> None:
        self.device = device
        self.interval = interval
        self.peak = 0

    def __enter__(self) -> PeakMemory:
        gc.collect()
        release_free_heap()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
            return self
        self.proc = psutil.Process()
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self.stop.set()
            self.thread.join()
            self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def mib(self) -> float:
        return (self.peak - self.base) / 2**20


def cpu_line() -> str:
    """The CPU model, its logical cores and the SIMD flags that decide fast paths."""
    import os

    from istvt.inference import cpu_description

    cpu = cpu_description()
    flags = set(cpu["flags"])
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")
    have = " ".join(f for f in wanted if f in flags) or "none of " + " ".join(wanted)
    return f"CPU: {cpu['name']}, {os.cpu_count()} logical cores; flags: {have}"


def emit(text: str, out: str | None) -> None:
    """Print a benchmark's report and, with ``--out``, write it to that file too."""
    from pathlib import Path

    print("\n" + text)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)


def timed(fn, device: torch.device, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls after one warm-up call (CUDA
    synchronised around each)."""
    import statistics

    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
