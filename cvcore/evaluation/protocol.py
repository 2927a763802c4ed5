"""The protocol record every evaluation carries, and the checks shared by both tasks."""

from __future__ import annotations

import platform
from datetime import UTC, datetime

from cvcore.errors import InvalidInputError
from cvcore.evaluation.bootstrap import BootstrapSettings
from cvcore.evaluation.datasets import DatasetFingerprint
from cvcore.evaluation.results import Protocol
from cvcore.registry import ModelSpec
from cvcore.versions import package_version

# One batch of 256 images at 224 px is 150 MB of input alone; more buys no speed on a shared server.
MAX_BATCH_SIZE = 256


def check_batch_size(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise InvalidInputError(f"The batch size must be an integer from 1 to {MAX_BATCH_SIZE}; got {batch_size!r}.")
    return batch_size


def check_preprocessing(spec: ModelSpec) -> None:
    if spec.preprocessing is None:
        raise InvalidInputError(
            f"{spec.display_name} has no preprocessing recipe (input size, mean, std), so its inputs cannot be prepared; "
            "import trained weights with their preprocessing first."
        )


def software_versions() -> dict[str, str]:
    import cvcore

    versions = {"cvlens": cvcore.__version__, "python": platform.python_version()}
    for distribution in ("torch", "torchvision", "numpy", "pillow"):
        versions[distribution] = package_version(distribution)
    return versions


def make_protocol(
    spec: ModelSpec,
    dataset: DatasetFingerprint,
    *,
    images: int,
    limit: int | None,
    split: str | None,
    crop_size: int | None,
    scored_at: str,
    device: str,
    precision: str,
    batch_size: int,
    bootstrap: BootstrapSettings,
    seconds: float,
    notes: tuple[str, ...] = (),
) -> Protocol:
    """``device``: where the model ran, as people read it (:func:`cvcore.device.describe_device`)."""
    p = spec.preprocessing
    return Protocol(
        dataset=dataset, images=images, limit=limit, split=split, resize_size=p.resize_size, crop_size=crop_size,
        interpolation=p.interpolation, mean=tuple(p.mean), std=tuple(p.std), single_scale=True, scored_at=scored_at,
        device=device, precision=precision, batch_size=batch_size, bootstrap=bootstrap,
        versions=software_versions(), date_utc=datetime.now(UTC).isoformat(timespec="seconds"),
        seconds=seconds, notes=notes,
    )  # fmt: skip
