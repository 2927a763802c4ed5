"""The environment manifest: which CPU, GPU, driver and software measured a sweep."""

from __future__ import annotations

import datetime
import os
import platform
import socket

from cvcore.benchmark.results import Environment
from cvcore.versions import package_version


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux, else what the platform module knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def gpu_driver() -> str:
    """The NVIDIA driver version through NVML where the nvidia-ml-py library is installed, else ""."""
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            version = pynvml.nvmlSystemGetDriverVersion()
        finally:
            pynvml.nvmlShutdown()
        return version.decode() if isinstance(version, bytes) else str(version)
    except Exception:  # not installed, no NVIDIA driver: both mean "unknown"
        return ""


def environment(device: str = "cpu", threads: int | None = None) -> Environment:
    """The manifest of this process measuring on ``device`` with ``threads`` torch threads (default: torch's)."""
    import torch

    import cvcore

    gpu_name = ""
    if str(device).startswith("cuda") and torch.cuda.is_available():
        gpu_name = torch.cuda.get_device_name(torch.device(device))
    return Environment(
        host=socket.gethostname(),
        cpu_model=cpu_model(),
        cpu_cores_logical=os.cpu_count() or 0,
        threads=threads if threads is not None else torch.get_num_threads(),
        gpu_name=gpu_name,
        gpu_driver=gpu_driver() if gpu_name else "",
        cuda_version=torch.version.cuda or "",
        torch_version=package_version("torch"),
        torchvision_version=package_version("torchvision"),
        cvlens_version=cvcore.__version__,
        python_version=platform.python_version(),
        platform=platform.platform(),
        date_utc=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )
