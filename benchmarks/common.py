"""Helpers shared by the benchmark scripts: timing loops and this machine's matmul peak."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

__all__ = ["matmul_peak_gflops", "timed"]


def timed(fn: Callable[[], object], min_seconds: float) -> tuple[float, int]:
    """Seconds per call of ``fn`` over at least ``min_seconds`` (after one warm-up call)."""
    fn()
    _synchronize()
    calls, start = 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - start < min_seconds:
        fn()
        calls += 1
    _synchronize()
    return (time.perf_counter() - start) / calls, calls


def matmul_peak_gflops(
    device: torch.device | str = "cpu",
    size: int = 2048,
    dtype: torch.dtype = torch.float32,
    min_seconds: float = 1.0,
) -> float:
    """Measured GFLOP/s of one large square matrix product: the practical peak to compare with."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    seconds, _ = timed(lambda: a @ b, min_seconds)
    return 2 * size**3 / seconds / 1e9


def _synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
