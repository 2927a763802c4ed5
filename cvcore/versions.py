"""Installed versions of cvlens and the libraries behind it, read from package metadata.

Reading the metadata instead of ``torch.__version__`` keeps pages that never run a model
(Models, Compare) from importing torch and torchvision just to print a caption: that
import is most of a cold first render.
"""

from __future__ import annotations

import functools
from importlib import metadata


@functools.cache
def package_version(distribution: str) -> str:
    """The installed version without a local build tag ("2.14.1", not "2.14.1+cu130")."""
    try:
        return metadata.version(distribution).split("+")[0]
    except metadata.PackageNotFoundError:
        return "not installed"


def versions_line() -> str:
    import cvcore

    return f"cvlens {cvcore.__version__}, torch {package_version('torch')}, torchvision {package_version('torchvision')}"


def torchvision_metadata_source() -> str:
    """How numbers taken from torchvision's weights metadata are cited."""
    return f"torchvision {package_version('torchvision')} weights metadata"
