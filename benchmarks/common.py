"""Helpers shared by the benchmark scripts: realistic inputs, timing, this machine's peak."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from pathlib import Path

import torch

from personafuse.data import read_personachat

__all__ = ["matmul_peak_gflops", "realistic_examples", "timed"]

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "personachat" / "raw"


def realistic_examples(count: int, seed: int = 0):
    """Examples with real utterances, personas and candidates, and real-like context lengths."""
    real = [e for path in sorted(FIXTURES.glob("*_both_*.txt")) for e in read_personachat(path)]
    utterances = sorted({u for e in real for u in (*e.context, e.response)})
    rng = random.Random(seed)
    examples = []
    for _ in range(count):
        base = rng.choice(real)
        turn = rng.randrange(15)  # dialogues have ~7.4 responder turns of 2 utterances each
        context = tuple(rng.choice(utterances) for _ in range(min(15, 2 * turn + 1)))
        examples.append(dataclasses.replace(base, context=context))
    return examples


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
