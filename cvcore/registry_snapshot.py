"""The registry's metadata stored in ``assets/catalogue.json``, readable without torch.

Registering the catalogue means importing every model family, hence torch and
torchvision: seconds of a cold start. The Models and Compare pages only read metadata
(names, papers, published numbers, weights sources), so they read this snapshot instead,
through ``get_spec(name, metadata_only=True)`` and ``list_models(..., metadata_only=True)``.

The snapshot's entries compare equal to the live ones (a test checks every field of every
entry, so a stale file fails CI); their builders import the live family on first call.
It is ignored, and the live registry used instead, when it was written for another cvlens
or torchvision version or from other catalogue sources (a fingerprint of the files that
define the entries), so an edited catalogue is never shown from an old snapshot.
Regenerate with ``python -m cvcore models --write-snapshot``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from cvcore.registry import Architecture, ModelSpec, Paper, Preprocessing, Published, Task, Weights, WeightsKind
from cvcore.samples import ASSETS_DIR
from cvcore.storage import RESTORE_SNAPSHOT, atomic_write, read_shipped_json
from cvcore.versions import package_version

SNAPSHOT_PATH = ASSETS_DIR / "catalogue.json"
FORMAT_VERSION = 2  # 2: architectures with several weights (issue 11)


class LiveBuilder:
    """A snapshot architecture's builder: imports the model families and calls the live architecture's builder."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, **kwargs: Any):
        from cvcore.registry import get_spec

        return get_spec(self.name).architecture.builder(**kwargs)

    def __repr__(self) -> str:
        return f"LiveBuilder({self.name!r})"


# The files the catalogue's entries are written in (torchvision's own metadata: its version).
CATALOGUE_SOURCES = ("registry.py", "models/*.py", "papers/published.py")


@functools.cache
def source_fingerprint() -> str:
    """A short hash of :data:`CATALOGUE_SOURCES` (line endings normalised)."""
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for pattern in CATALOGUE_SOURCES:
        for path in sorted(root.glob(pattern)):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes().replace(b"\r\n", b"\n"))
    return digest.hexdigest()[:16]


def _versions() -> dict[str, str]:
    import cvcore

    return {"cvlens": cvcore.__version__, "torchvision": package_version("torchvision"), "sources": source_fingerprint()}


# --- one entry <-> JSON ------------------------------------------------------------------------


def weights_to_dict(weights: Weights) -> dict:
    """Every compared field of ``weights`` as plain JSON types (its categories as a list)."""
    return json.loads(json.dumps(_fields(weights), default=_plain))


def spec_to_dict(spec: ModelSpec, category_sets: dict[str, list[str]]) -> dict:
    """Every compared field of ``spec``; its categories go into ``category_sets`` (shared, ImageNet's 1000 once)."""
    record = json.loads(json.dumps(_fields(spec), default=_plain))
    categories = list(spec.categories)
    key = next((k for k, v in category_sets.items() if v == categories), None)
    if key is None:
        key = f"set{len(category_sets)}"
        category_sets[key] = categories
    record["weights"]["categories"] = key
    return record


def _fields(value: Any) -> dict:
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.compare}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return _fields(value)
    if isinstance(value, (Task, WeightsKind)):
        return value.value
    raise TypeError(f"Cannot store {type(value).__name__} in the catalogue snapshot.")


def _published(d: dict | None) -> Published | None:
    return Published(**d) if d is not None else None


def weights_from_dict(w: dict, categories: tuple[str, ...]) -> Weights:
    """A :class:`Weights` from its JSON form (also read by cvcore.user_models for the user's imports)."""
    pre = w["preprocessing"]
    return Weights(
        **{
            **w,
            "kind": WeightsKind(w["kind"]),
            "categories": categories,
            "input_size": tuple(w["input_size"]),
            "preprocessing": Preprocessing(**{**pre, "mean": tuple(pre["mean"]), "std": tuple(pre["std"])}) if pre else None,
            "metrics": {k: Published(**v) for k, v in w["metrics"].items()},
            "num_params": _published(w["num_params"]),
            "gmacs": _published(w["gmacs"]),
            "build_kwargs": tuple((k, v) for k, v in w["build_kwargs"]),
        }
    )


def architecture_from_dict(a: dict) -> Architecture:
    return Architecture(**{**a, "task": Task(a["task"]), "paper": Paper(**a["paper"]), "builder": LiveBuilder(a["name"])})


def spec_from_dict(d: dict, category_sets: dict[str, list[str]]) -> ModelSpec:
    weights = weights_from_dict(d["weights"], tuple(category_sets[d["weights"]["categories"]]))
    return ModelSpec(d["name"], architecture_from_dict(d["architecture"]), weights, d["display_name"], d["is_default"])


# --- the file -------------------------------------------------------------------------------------


def snapshot_of(specs: list[ModelSpec]) -> dict:
    category_sets: dict[str, list[str]] = {}
    models = {s.name: spec_to_dict(s, category_sets) for s in sorted(specs, key=lambda s: s.name)}
    return {"format": FORMAT_VERSION, "written_for": _versions(), "category_sets": category_sets, "models": models}


def write_snapshot(path: Path = SNAPSHOT_PATH) -> int:
    """Store the live registry's metadata; returns the number of entries."""
    from cvcore.registry import list_models

    snapshot = snapshot_of(list_models(all_weights=True, include_user=False))
    atomic_write(path, json.dumps(snapshot, indent=1, ensure_ascii=False) + "\n")
    load_snapshot.cache_clear()
    return len(snapshot["models"])


@functools.cache
def load_snapshot(path: Path = SNAPSHOT_PATH) -> dict[str, ModelSpec] | None:
    """name -> entry, or None when the file is missing, unreadable or written for other versions."""
    data = read_shipped_json(path, None, restore=RESTORE_SNAPSHOT)
    if data is None:
        return None
    if data.get("format") != FORMAT_VERSION or data.get("written_for") != _versions():
        return None
    sets = data["category_sets"]
    return {name: spec_from_dict(d, sets) for name, d in data["models"].items()}
