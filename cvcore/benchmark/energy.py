"""Energy meters: NVML on NVIDIA GPUs, RAPL on CPUs; where neither is readable, nothing is claimed.

- NVML (the ``nvidia-ml-py`` library, ``import pynvml``):
  ``nvmlDeviceGetTotalEnergyConsumption``, the GPU's energy counter in millijoules since
  the driver loaded (Volta and newer).
- RAPL: the kernel's powercap counters, ``/sys/class/powercap/intel-rapl:N/energy_uj``
  (one per CPU package, microjoules, wrapping at ``max_energy_range_uj``). They measure the
  whole package: other processes' work counts too, which the source says.

No TDP guess ever stands in for a measurement: :func:`energy_meter` returns a meter whose
``source`` says "not measurable here" and why.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

from cvcore.benchmark.results import NOT_MEASURABLE

RAPL_ROOT = "/sys/class/powercap"


@dataclass
class EnergyMeter:
    source: str  # the meter, or NOT_MEASURABLE with the reason
    read_j: object = None  # () -> joules so far (monotonic within a measurement), or None

    @property
    def available(self) -> bool:
        return self.read_j is not None


def _nvml_meter(device_index: int) -> EnergyMeter | None:
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(device_index)
        pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)  # raises where the GPU has no counter
    except Exception:  # NVMLError_NotSupported, no driver
        return None
    return EnergyMeter(
        f"NVML total energy counter of GPU {device_index} (nvidia-ml-py)",
        lambda: pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0,
    )


def _rapl_packages(root: str = RAPL_ROOT) -> list[str]:
    return sorted(p for p in glob.glob(os.path.join(root, "intel-rapl:*")) if p.count(":") == 1)


def _rapl_meter(root: str = RAPL_ROOT) -> EnergyMeter | None:
    packages = _rapl_packages(root)
    if not packages:
        return None
    try:
        ranges = [int(open(os.path.join(p, "max_energy_range_uj")).read()) for p in packages]
        last = [int(open(os.path.join(p, "energy_uj")).read()) for p in packages]
    except (OSError, ValueError):  # present but unreadable (root-only since 2020 on most kernels)
        return None
    total = [0.0]

    def read_j() -> float:
        for i, p in enumerate(packages):
            now = int(open(os.path.join(p, "energy_uj")).read())
            step = now - last[i] if now >= last[i] else now + ranges[i] - last[i]  # the counter wrapped
            total[0] += step / 1e6
            last[i] = now
        return total[0]

    return EnergyMeter(f"RAPL package counters ({len(packages)} package(s), whole CPU: other processes count too)", read_j)


def energy_meter(device: str) -> EnergyMeter:
    """The energy meter of ``device`` ("cpu", "cuda:0"); its ``source`` says why when there is none."""
    if str(device).startswith("cuda"):
        index = int(str(device).split(":")[1]) if ":" in str(device) else 0
        meter = _nvml_meter(index)
        why = "NVML is not readable (install nvidia-ml-py; the GPU needs an energy counter)"
    else:
        meter = _rapl_meter()
        why = f"no readable RAPL counter under {RAPL_ROOT}"
    return meter or EnergyMeter(f"{NOT_MEASURABLE}: {why}")
