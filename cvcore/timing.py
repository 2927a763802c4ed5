"""The one timing loop behind every latency cvlens reports (Compare's latency, the benchmark's sweeps).

timm's ``benchmark.py`` discipline: untimed warm-up runs, ``torch.inference_mode``, and the
device synchronised inside the timer (CUDA calls return before the work is done). Imports
torch only when called, so a measuring subprocess pays for nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cvcore.device import synchronize  # torch-free until called


def time_forward(forward: Callable[[Any], Any], x, device, warmup_runs: int, repeats: int) -> list[float]:
    """Milliseconds of each of ``repeats`` timed calls of ``forward(x)`` after ``warmup_runs`` untimed ones."""
    import torch

    times_ms = []
    with torch.inference_mode():
        for _ in range(warmup_runs):
            forward(x)
        synchronize(device)
        for _ in range(repeats):
            start = time.perf_counter()
            forward(x)
            synchronize(device)  # inside the timer: CUDA calls return before the work is done
            times_ms.append((time.perf_counter() - start) * 1000.0)
    return times_ms
