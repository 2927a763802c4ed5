"""The user's own trained models: imported into the cvlens home, then one more entry of the catalogue.

A student who reproduced ENet, fine-tuned a ResNet or trained a U-Net brings the file here
(``python -m cvcore import-model FILE --arch ARCH --name NAME``, or the Models page). The
file is checked before anything is stored, copied into ``$CVLENS_HOME/models/`` with its
sha256, and recorded in one manifest written atomically. From then on the model is a
:class:`~cvcore.registry.ModelSpec` like any other (its weights are ``WeightsKind.USER``):
every page, CLI command and cvcore function takes it by name or as a spec.

What each accepted format can execute (never anything, by construction):

- ``.pth`` / ``.pt`` / ``.bin`` / ``.ckpt``: a state dict, bare or inside a training
  checkpoint (``state_dict``, ``model``, ``model_state_dict``, ``net`` ...), read with
  ``torch.load(weights_only=True)`` (:mod:`cvcore.checkpoints`): tensors, numbers and
  containers only; a pickle that needs code is refused without being run.
- ``.safetensors``: a header of names and shapes plus raw tensor bytes; no code at all.
- ``.onnx``: a protobuf graph of standard operators with its weights (data only), turned
  into a torch module by ``onnx2torch``: for models written with the authors' own code,
  whose layer names are not the catalogue's.

Refused, with a message saying how to export instead: TorchScript archives
(``torch.jit.save``: they contain code), whole pickled modules (``torch.save(model)``),
and ``torch.export`` archives (``.pt2``: in torch 2.14.1 ``torch.export.load`` falls back to
``pickle`` for some entries, so a stranger's file could run code).

Reading the manifest never imports torch (the Models page lists the user's models cold).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvcore import registry
from cvcore.errors import CvlensError, UnknownModelError
from cvcore.registry import Architecture, ModelSpec, Paper, Preprocessing, Published, Task, Weights, WeightsKind
from cvcore.storage import StorageError, atomic_copy, atomic_write, atomic_write_json, cvlens_home, describe_os_error, read_json

if TYPE_CHECKING:
    from torch import nn

_log = logging.getLogger("cvlens.user_models")

MANIFEST_FORMAT = 1
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
STATE_DICT_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".tar")
ONNX_SUFFIXES = (".onnx",)
# Uploads through the page (the server holds an upload in memory); bigger files go through the CLI.
# Keep in step with server.maxUploadSize in .streamlit/config.toml (a test checks it).
MAX_MODEL_UPLOAD_MB = 200
PREFIXES = ("module.", "_orig_mod.")  # DataParallel / DistributedDataParallel, torch.compile
EXPORT_RECORD = "cvlens-model.json"
ONNX_FAMILY = "Imported (ONNX)"
ONNX_MAX_BYTES = 2 * 2**30  # protobuf's own limit for one file


class ImportModelError(CvlensError, ValueError):
    """A model file cvlens will not import; nothing was stored. The message says why and what to do."""


class UserModelsError(CvlensError, RuntimeError):
    """The store of imported models cannot be read or changed (a damaged manifest, a missing file)."""


# --- where things are ------------------------------------------------------------------------


def store_dir() -> Path:
    return cvlens_home() / "models"


def manifest_path() -> Path:
    return store_dir() / "manifest.json"


def stored_file(spec: ModelSpec) -> Path:
    """The imported file behind a user's model (whether or not it is still there)."""
    return store_dir() / spec.weights.file_name


# --- category sets ---------------------------------------------------------------------------


def known_category_sets() -> dict[str, Callable[[], tuple[str, ...]]]:
    """Named class lists a user can give instead of a file (``--categories voc``)."""

    def imagenet() -> tuple[str, ...]:
        from torchvision.models._meta import _IMAGENET_CATEGORIES

        return tuple(_IMAGENET_CATEGORIES)

    def voc() -> tuple[str, ...]:
        from torchvision.models._meta import _VOC_CATEGORIES

        return tuple(_VOC_CATEGORIES)

    def cityscapes() -> tuple[str, ...]:
        from cvcore.models.enet import CITYSCAPES_CATEGORIES

        return CITYSCAPES_CATEGORIES

    return {"imagenet": imagenet, "voc": voc, "cityscapes": cityscapes}


def categories_from_text(text: str) -> tuple[str, ...]:
    """Class names from a class file's text: one per line; blank lines and ``#`` comments ignored."""
    return read_categories([line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")])


def read_categories(source: str | Path | Sequence[str]) -> tuple[str, ...]:
    """Class names from a known set's name, a text file (one name per line), or a list."""
    if not isinstance(source, (str, Path)):
        names = tuple(str(n).strip() for n in source)
    elif str(source).lower() in known_category_sets():
        return known_category_sets()[str(source).lower()]()
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            known = ", ".join(known_category_sets())
            raise ImportModelError(f"No class file {path}: give a text file with one class name per line, or one of {known}.")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ImportModelError(f"Cannot read the class file {path} as UTF-8 text ({exc}).") from exc
        names = tuple(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    if not names:
        raise ImportModelError("The class list is empty: give one class name per line.")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ImportModelError(f"The class list names {', '.join(duplicates[:5])} more than once.")
    return names


# --- the manifest ----------------------------------------------------------------------------


_LOCK = threading.Lock()  # one writer per process; other processes: an flock on the lock file


@contextlib.contextmanager
def _store_lock() -> Iterator[None]:
    """Serialise changes to the store between threads (browser sessions) and processes (CLI beside the server)."""
    folder = store_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"Cannot create the model store {folder}: {describe_os_error(exc)}.") from exc
    with _LOCK, open(folder / ".lock", "a+b") as handle:
        try:
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
        except ImportError:  # Windows: threads are serialised; processes rarely import at the same moment
            pass
        yield


def _read_manifest() -> dict:
    path = manifest_path()
    try:
        data = read_json(path)
    except FileNotFoundError:
        return {"format": MANIFEST_FORMAT, "models": {}}
    except StorageError as exc:
        raise UserModelsError(
            f"The list of your imported models ({path}) is damaged: {exc} Nothing was changed; "
            "restore it from a backup or move it away to start a new list (the model files stay in that folder)."
        ) from exc
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT or not isinstance(data.get("models"), dict):
        raise UserModelsError(f"{path} was written by another cvlens version or edited by hand; nothing was changed.")
    return data


def manifest_records() -> dict[str, dict]:
    """name -> stored record of every imported model (raises :class:`UserModelsError` if the manifest is damaged)."""
    return _read_manifest()["models"]


@functools.lru_cache(maxsize=4)
def _specs_for_manifest(path: str, mtime_ns: int, size: int) -> dict[str, ModelSpec]:
    specs = {}
    for name, record in manifest_records().items():
        try:
            specs[name] = spec_from_record(record)
        except (KeyError, TypeError, ValueError, CvlensError) as exc:  # one bad record must not hide the others
            _log.warning("Imported model %s cannot be listed: %s", name, exc)
    return specs


def user_specs() -> dict[str, ModelSpec]:
    """The registry's provider of the user's models: name -> spec, re-read when the manifest changes."""
    path = manifest_path()
    try:
        stat = path.stat()
    except OSError:
        return {}
    try:
        return _specs_for_manifest(str(path), stat.st_mtime_ns, stat.st_size)
    except UserModelsError as exc:
        _log.warning("%s", exc)
        return {}


registry.add_provider(user_specs)


# --- records <-> specs -------------------------------------------------------------------------


def spec_from_record(record: Mapping[str, Any]) -> ModelSpec:
    """The catalogue entry of an imported model (no torch: the architecture comes from the snapshot)."""
    from cvcore.registry_snapshot import weights_from_dict

    weights = weights_from_dict(record["weights"], tuple(record["weights"]["categories"]))
    if record["format"] == "onnx":
        architecture = _onnx_architecture(record)
    else:
        base = registry.catalogue_spec(record["base"], metadata_only=True)
        architecture = base.architecture
    return ModelSpec(record["name"], architecture, weights, record.get("display_name") or record["name"], is_default=False)


def _onnx_architecture(record: Mapping[str, Any]) -> Architecture:
    builder = OnnxBuilder(record["weights"]["file_name"])
    if record.get("base"):
        base = registry.catalogue_spec(record["base"], metadata_only=True).architecture
        return dataclasses.replace(
            base, display_name=f"{base.display_name} (ONNX)", builder=builder, notes="Imported as an ONNX graph (onnx2torch)."
        )
    year = int(record["imported_at"][:4])
    return Architecture(
        name=f"onnx:{record['name']}", display_name=f"{record['name']} (ONNX)", task=Task(record["task"]), family=ONNX_FAMILY,
        paper=Paper("Imported ONNX graph (not a catalogue architecture)", year), builder=builder,
        notes="Imported as an ONNX graph (onnx2torch); its layer names are the exporter's.",
    )  # fmt: skip


class OnnxBuilder:
    """Builds an imported ONNX graph as a torch module (weights included)."""

    def __init__(self, relative_file: str):
        self.relative_file = relative_file

    def __call__(self, **_: Any) -> nn.Module:
        return onnx_module(store_dir() / self.relative_file)

    def __repr__(self) -> str:
        return f"OnnxBuilder({self.relative_file!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OnnxBuilder) and other.relative_file == self.relative_file

    def __hash__(self) -> int:
        return hash(self.relative_file)


# --- reading a file ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadCheckpoint:
    """What a file holds, normalised: the tensors under the names the architecture uses."""

    format: str  # "state_dict", "safetensors" or "onnx"
    state: dict[str, Any]  # name -> tensor (empty for ONNX)
    stripped_prefix: str  # removed from every name ("module.", "_orig_mod.", "" if none)


def detect_format(path: Path) -> str:
    """"state_dict", "safetensors" or "onnx"; refuses the formats that can carry code, with how to export instead."""
    suffix = path.suffix.lower()
    if suffix == ".pt2":
        raise ImportModelError(
            f"{path.name} is a torch.export archive. cvlens does not load them: in torch 2.14.1 torch.export.load falls back "
            "to pickle for some entries, so a file from someone else could run code. Export the model to ONNX instead: "
            "torch.onnx.export(model, example_input, 'model.onnx'), or save its weights: torch.save(model.state_dict(), 'weights.pth')."
        )
    if suffix == ".onnx":
        return "onnx"
    if suffix == ".safetensors" or _looks_like_safetensors(path):
        return "safetensors"
    if zipfile.is_zipfile(path) and _is_torchscript(path):
        raise ImportModelError(
            f"{path.name} is a TorchScript program (torch.jit.save): it contains code, which cvlens never runs. "
            "Save the weights instead: torch.save(model.state_dict(), 'weights.pth'), or export to ONNX."
        )
    return "state_dict"


def _looks_like_safetensors(path: Path) -> bool:
    with contextlib.suppress(OSError):
        with open(path, "rb") as f:
            head = f.read(9)
        return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < path.stat().st_size
    return False


def _is_torchscript(path: Path) -> bool:
    with contextlib.suppress(zipfile.BadZipFile, OSError):
        with zipfile.ZipFile(path) as archive:
            return any(n.split("/", 1)[-1].startswith(("code/", "constants.pkl")) for n in archive.namelist())
    return False


def read_checkpoint(path: str | Path) -> ReadCheckpoint:
    """The tensors of a state-dict or safetensors file (nothing executed), names without wrapper prefixes."""
    from cvcore.checkpoints import CheckpointError, load_state_dict_safely

    path = Path(path).expanduser()
    if not path.is_file():
        raise ImportModelError(f"No such file: {path}." if not path.exists() else f"{path} is a folder, not a model file.")
    fmt = detect_format(path)
    if fmt == "onnx":
        return ReadCheckpoint("onnx", {}, "")
    if fmt == "safetensors":
        state = _read_safetensors(path)
    else:
        try:
            state = load_state_dict_safely(path)
        except CheckpointError as exc:
            raise ImportModelError(str(exc)) from exc
    state, prefix = strip_prefixes(state)
    return ReadCheckpoint(fmt, state, prefix)


def _read_safetensors(path: Path) -> dict[str, Any]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ImportModelError(f"{path.name} is not a readable safetensors file (damaged or cut short: {exc}). Get the file again.") from exc
    if not state:
        raise ImportModelError(f"{path.name} holds no tensors.")
    return state


def strip_prefixes(state: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """Remove the prefixes wrappers put on every name (``module.``, ``_orig_mod.``, in any order); returns what was removed."""
    removed = ""
    names = list(state)
    while True:
        prefix = next((p for p in PREFIXES if names and all(n.startswith(p) for n in names)), None)
        if prefix is None:
            break
        removed += prefix
        names = [n[len(prefix) :] for n in names]
    return (dict(zip(names, state.values())) if removed else dict(state)), removed


# --- fitting an architecture -------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    base: ModelSpec  # the catalogue entry whose architecture the file fits
    build_kwargs: dict[str, Any]  # what the builder needs for it (num_classes, aux heads)
    num_classes: int


def _expected_shapes(spec: ModelSpec, **overrides: Any) -> dict[str, tuple[int, ...]]:
    from cvcore.models._utils import empty_weights

    kwargs = {**spec.weights.build_options, **overrides}
    if spec.weights.kind is WeightsKind.TORCHVISION:
        kwargs["finalize"] = False  # the file may carry GoogLeNet's auxiliary heads, which torchvision drops after loading
    with empty_weights():
        model = spec.architecture.builder(**kwargs)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _variants(spec: ModelSpec) -> list[dict[str, Any]]:
    """Builder options worth trying beyond the head size: auxiliary heads trained or not."""
    options = spec.weights.build_options
    if "aux_logits" in options:
        return [{}, {"aux_logits": not options["aux_logits"]}]
    if "aux_loss" in options:
        return [{}, {"aux_loss": not options["aux_loss"]}]
    return [{}]


def _head_candidates(state: Mapping[str, Any], expected: Mapping[str, tuple[int, ...]]) -> list[int]:
    """Class counts the file's differently shaped tensors suggest (the size that differs from the architecture's)."""
    candidates: list[int] = []
    for key, shape in expected.items():
        found = tuple(state[key].shape) if key in state else None
        if found is None or found == shape or len(found) != len(shape):
            continue
        candidates += [f for f, e in zip(found, shape) if f != e and f not in candidates]
    return candidates[:4]


def fit_architecture(state: Mapping[str, Any], arch: str) -> Fit:
    """The builder options under which ``arch`` takes exactly these tensors, or an :class:`ImportModelError` explaining why not."""
    from cvcore.checkpoints import compare_state_dict

    base = catalogue_base(arch)
    if base.architecture.builder is None:
        raise ImportModelError(f"{arch} has no builder to load weights into.")
    default_classes = len(base.categories) or None
    first_report = None
    for variant in _variants(base):
        expected = _expected_shapes(base, **variant)
        report = compare_state_dict(state, expected)
        if report.ok:
            return Fit(base, {**base.weights.build_options, **variant}, default_classes or _classes_from(state, expected))
        first_report = first_report or report
        for classes in _head_candidates(state, expected):
            resized = _expected_shapes(base, **variant, num_classes=classes)
            if compare_state_dict(state, resized).ok:
                return Fit(base, {**base.weights.build_options, **variant, "num_classes": classes}, classes)
    raise ImportModelError(_mismatch_message(state, base, first_report))


def _classes_from(state: Mapping[str, Any], expected: Mapping[str, tuple[int, ...]]) -> int:
    last = list(expected)[-1]
    return int(expected[last][0])


def catalogue_base(arch: str) -> ModelSpec:
    """The catalogue entry an import builds on: an architecture's name, or one of its weights (``resnet50.IMAGENET1K_V1``)."""
    try:
        spec = registry.catalogue_spec(arch)
    except UnknownModelError as exc:
        raise ImportModelError(f"{exc} Choose the catalogue architecture your model was built with, or import an ONNX file.") from exc
    return spec


def _mismatch_message(state: Mapping[str, Any], base: ModelSpec, report) -> str:
    matching = matching_architectures(state, task=base.task, exclude=base.arch)
    hint = (
        f" Architectures whose names and shapes do match: {', '.join(matching)}."
        if matching
        else " No catalogue architecture takes these tensors as they are: if the model comes from the authors' own code, "
        "export it to ONNX (torch.onnx.export) and import the .onnx file."
    )
    return f"These weights do not fit {base.display_name} ({base.arch}): {report.describe()}{hint}"


@functools.cache
def _shape_signature(name: str) -> dict[str, tuple[int, ...]]:
    return _expected_shapes(registry.catalogue_spec(name))


def matching_architectures(state: Mapping[str, Any], *, task: Task | None = None, exclude: str = "", limit: int = 5) -> list[str]:
    """Catalogue architectures that take these tensors (their names; the head may have another size).

    Only architectures of a similar size are built (on the meta device, cached per process):
    the parameter count in the stored analysis narrows a 100-model search to a few.
    """
    from cvcore.analysis import load_precomputed
    from cvcore.checkpoints import compare_state_dict

    file_params = sum(int(v.numel()) for v in state.values() if hasattr(v, "numel") and v.is_floating_point())
    measured = load_precomputed()
    found = []
    for spec in registry.list_models(task, metadata_only=True, include_user=False):
        params = measured[spec.name].params if spec.name in measured else None
        if spec.name == exclude or (params is not None and not 0.5 * params <= file_params <= 2.0 * params):
            continue
        report = compare_state_dict(state, _shape_signature(spec.name))
        if not report.missing and not report.unexpected and len(report.mismatched) <= 4:
            found.append(spec.name)
        if len(found) >= limit:
            break
    return found


# --- importing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportOptions:
    """What the user says about the file (every field optional but the architecture for state dicts)."""

    arch: str | None = None  # catalogue architecture (required unless the file is ONNX)
    categories: str | Path | Sequence[str] | None = None  # "voc", "imagenet", "cityscapes", a file, or names
    dataset: str = ""  # what it was trained / evaluated on, in the user's words
    input_size: tuple[int, int] | None = None  # (H, W)
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    task: str | None = None  # ONNX without --arch: classification or segmentation
    display_name: str | None = None


def validate_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME_PATTERN.fullmatch(name):
        raise ImportModelError(
            f"{name!r} cannot name a model: use 1-64 letters, digits, '_' or '-', starting with a letter (e.g. my_enet)."
        )
    try:
        registry.catalogue_spec(name, metadata_only=True)
    except UnknownModelError:
        pass
    else:
        raise ImportModelError(f"{name!r} is a catalogue model's name; choose another (e.g. my_{name}).")
    return name


def import_model(
    path: str | Path,
    name: str,
    options: ImportOptions = ImportOptions(),
    *,
    progress: Callable[[int, int], None] | None = None,
    replace: bool = False,
    source_name: str | None = None,
) -> ModelSpec:
    """Check ``path``, copy it into the store and record it; returns the new entry. Nothing is stored on any error.

    ``progress(done_bytes, total_bytes)`` is called while the file is copied; ``source_name``
    is what the file was called where it came from (an upload's name), if not ``path.name``.
    """
    path = Path(path).expanduser()
    name = validate_name(name)
    if not replace and name in _existing_names():
        raise ImportModelError(f"You already have a model named {name!r}; choose another name or remove it first.")
    checked = read_checkpoint(path)
    if checked.format == "onnx":
        record = _onnx_record(path, name, options)
    else:
        record = _state_dict_record(path, name, checked, options)
    return _store(path, name, record, progress=progress, replace=replace, source_name=source_name or path.name)


def import_bytes(
    data: bytes,
    file_name: str,
    name: str,
    options: ImportOptions = ImportOptions(),
    *,
    progress: Callable[[int, int], None] | None = None,
) -> ModelSpec:
    """:func:`import_model` for an upload: the bytes go to a temporary file in the store, removed afterwards."""
    suffix = Path(file_name).suffix.lower()
    if suffix not in (*STATE_DICT_SUFFIXES, ".safetensors", ".onnx", ".pt2"):
        raise ImportModelError(
            f"{file_name}: cvlens imports .pth/.pt/.bin/.ckpt state dicts, .safetensors and .onnx files, not {suffix or 'files without an extension'}."
        )
    incoming = store_dir() / "incoming"
    try:
        incoming.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"Cannot create {incoming}: {describe_os_error(exc)}.") from exc
    temporary = incoming / f"{os.getpid()}-{threading.get_ident()}-{_safe_file_name(file_name)}"
    try:
        atomic_write(temporary, data)
        return import_model(temporary, name, options, progress=progress, source_name=Path(file_name).name)
    except CvlensError as exc:  # name the upload, not the temporary file it was written to
        shown = Path(file_name).name
        exc.args = (str(exc).replace(str(temporary), shown).replace(temporary.name, shown),)
        raise
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


def _safe_file_name(file_name: str) -> str:
    suffix = Path(file_name).suffix.lower()
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(file_name).name).strip("._") or f"model{suffix}"


def store_version() -> tuple[int, int]:
    """Changes whenever a model is imported or removed (the manifest's mtime and size): a cache key for pages."""
    try:
        stat = manifest_path().stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


def _existing_names() -> set[str]:
    return set(manifest_records())


def _state_dict_record(path: Path, name: str, checked: ReadCheckpoint, options: ImportOptions) -> dict:
    if not options.arch:
        raise ImportModelError(
            "Say which catalogue architecture these weights are for (--arch, e.g. --arch resnet18); "
            "`python -m cvcore models` lists them."
        )
    _check_input_options(options)
    fit = fit_architecture(checked.state, options.arch)
    categories = _categories_for(fit.num_classes, fit.base, options)
    model = _loaded(fit.base, fit.build_kwargs, checked.state, path)
    return _record(name, fit.base, fit.build_kwargs, categories, options, checked.format, checked.stripped_prefix, model)


def _loaded(base: ModelSpec, build_kwargs: Mapping[str, Any], state: Mapping[str, Any], path: Path) -> nn.Module:
    """The architecture with the file's tensors loaded (strictly): the proof that every page will be able to run it."""
    torchvision_arch = base.weights.kind is WeightsKind.TORCHVISION
    model = base.architecture.builder(**build_kwargs, **({"finalize": False} if torchvision_arch else {}))
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError) as exc:  # dtype or layout problems compare_state_dict cannot see
        raise ImportModelError(f"{path.name} fits {base.arch}'s names and shapes but does not load into it: {exc}") from exc
    if torchvision_arch:
        from cvcore.models.torchvision_models import finalize_after_load

        finalize_after_load(base.arch, model)
    return model.eval()


def _input_size(base: ModelSpec | None, options: ImportOptions) -> tuple[int, int]:
    if options.input_size:
        return tuple(int(s) for s in options.input_size)
    return base.input_size if base else (224, 224)


def _measure(model: nn.Module, input_size: tuple[int, int]) -> dict | None:
    """Parameters and multiply-adds counted as for the catalogue (cvcore.analysis); None when it cannot be traced."""
    from cvcore.analysis import analyze_complexity
    from cvcore.errors import AnalysisError
    from cvcore.formatting import to_jsonable

    try:
        return to_jsonable(analyze_complexity(model, input_size, device="cpu"))
    except AnalysisError as exc:
        _log.warning("Could not count the imported model's multiply-adds: %s", exc)
        from cvcore.models._utils import count_parameters

        params, trainable = count_parameters(model)
        return {"params": params, "trainable_params": trainable, "input_size": list(input_size)}


def _categories_for(num_classes: int, base: ModelSpec, options: ImportOptions) -> tuple[str, ...]:
    if options.categories is not None:
        categories = read_categories(options.categories)
        if len(categories) != num_classes:
            raise ImportModelError(f"The class list has {len(categories)} names but the model's head has {num_classes} outputs.")
        return categories
    if len(base.categories) == num_classes:
        return base.categories
    return tuple(f"class {i}" for i in range(num_classes))


def _preprocessing(base: ModelSpec | None, options: ImportOptions, input_size: tuple[int, int]) -> Preprocessing:
    default = (base.preprocessing if base else None) or Preprocessing(min(input_size), min(input_size))
    if options.input_size is not None and base is not None and base.preprocessing is not None:
        ratio = default.resize_size / default.crop_size  # keep the recipe's resize/crop ratio (256/224)
        default = dataclasses.replace(default, resize_size=round(min(input_size) * ratio), crop_size=min(input_size))
    elif options.input_size is not None:
        default = dataclasses.replace(default, resize_size=min(input_size), crop_size=min(input_size))
    return dataclasses.replace(
        default, mean=tuple(options.mean) if options.mean else default.mean, std=tuple(options.std) if options.std else default.std
    )


def _check_input_options(options: ImportOptions) -> None:
    if options.input_size is not None and (len(options.input_size) != 2 or not all(16 <= int(s) <= 4096 for s in options.input_size)):
        raise ImportModelError(f"The input size must be two integers between 16 and 4096 (H W), got {options.input_size}.")
    for label, values in (("mean", options.mean), ("std", options.std)):
        if values is not None and (len(values) != 3 or not all(isinstance(v, (int, float)) for v in values)):
            raise ImportModelError(f"--{label} takes three numbers (R G B), got {values}.")
    if options.std is not None and any(v <= 0 for v in options.std):
        raise ImportModelError(f"--std must be positive, got {options.std}.")


def _record(
    name: str,
    base: ModelSpec | None,
    build_kwargs: Mapping[str, Any],
    categories: tuple[str, ...],
    options: ImportOptions,
    fmt: str,
    prefix: str,
    model: nn.Module,
) -> dict:
    input_size = _input_size(base, options)
    measured = _measure(model, input_size)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    weights = Weights(
        id=name,
        kind=WeightsKind.USER,
        categories=categories,
        input_size=input_size,
        preprocessing=_preprocessing(base, options, input_size),
        num_params=Published(measured["params"], "measured: parameters of the imported model") if measured else None,
        dataset=options.dataset,
        ref=base.name if base else None,
        build_kwargs=tuple(sorted(build_kwargs.items())),
        origin=f"imported on {now.date().isoformat()}",
    )
    from cvcore.registry_snapshot import weights_to_dict

    return {
        "name": name, "display_name": options.display_name or name, "base": base.name if base else None,
        "task": (base.task.value if base else options.task), "format": fmt, "stripped_prefix": prefix,
        "imported_at": now.isoformat(), "weights": weights_to_dict(weights), "measured": measured,
    }  # fmt: skip


def _onnx_record(path: Path, name: str, options: ImportOptions) -> dict:
    _check_input_options(options)
    base = catalogue_base(options.arch) if options.arch else None
    task = base.task.value if base else options.task
    if task not in {t.value for t in Task}:
        raise ImportModelError("Say what the ONNX model does: --task classification or --task segmentation (or --arch ARCH).")
    if path.stat().st_size > ONNX_MAX_BYTES:
        raise ImportModelError(f"{path.name} is larger than ONNX's 2 GB limit for one file.")
    module = onnx_module(path)  # refuses files that are not ONNX or use operators onnx2torch cannot convert
    num_classes = _onnx_output_classes(module, _input_size(base, options), task)
    categories = _categories_for(num_classes, base, options) if base else _categories_without_base(num_classes, options)
    return _record(name, base, {}, categories, options, "onnx", "", module)


def _categories_without_base(num_classes: int, options: ImportOptions) -> tuple[str, ...]:
    if options.categories is None:
        return tuple(f"class {i}" for i in range(num_classes))
    categories = read_categories(options.categories)
    if len(categories) != num_classes:
        raise ImportModelError(f"The class list has {len(categories)} names but the model has {num_classes} outputs.")
    return categories


def _onnx_output_classes(module: nn.Module, size: tuple[int, int], task: str) -> int:
    import torch

    from cvcore.segmentation import segmentation_logits

    try:
        with torch.inference_mode():
            out = module(torch.zeros(1, 3, *size))
    except Exception as exc:  # noqa: BLE001 - a converted graph fails in many ways; the user needs the gist
        raise ImportModelError(f"The ONNX model does not run on a 1x3x{size[0]}x{size[1]} input ({type(exc).__name__}: {exc}). Give --input-size H W.") from exc
    if task == Task.SEGMENTATION.value:
        return int(segmentation_logits(out if not isinstance(out, (list, tuple)) else out[0]).shape[1])
    out = out[0] if isinstance(out, (list, tuple)) else out
    if out.dim() != 2:
        raise ImportModelError(f"A classifier should output (batch, classes); this ONNX model gives {tuple(out.shape)}.")
    return int(out.shape[1])


def onnx_module(path: Path) -> nn.Module:
    """An ONNX file as a torch module (onnx2torch), with module names fvcore and Captum can address."""
    import onnx

    try:
        graph = onnx.load(str(path))
        onnx.checker.check_model(graph)
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError, ValidationError, OSError ...
        raise ImportModelError(f"{path.name} is not a valid ONNX model ({type(exc).__name__}: {exc}).") from exc
    _inline_identity_initializers(graph)
    try:
        from onnx2torch import convert

        module = convert(graph)
    except Exception as exc:  # noqa: BLE001
        raise ImportModelError(f"{path.name} uses something onnx2torch cannot convert ({type(exc).__name__}: {exc}).") from exc
    return _addressable(module).eval()


def _inline_identity_initializers(graph) -> None:
    """The TorchScript exporter shares equal initializers through Identity nodes, which onnx2torch cannot read as weights."""
    initializers = {i.name: i for i in graph.graph.initializer}
    kept = []
    for node in graph.graph.node:
        if node.op_type == "Identity" and node.input[0] in initializers:
            copy = type(initializers[node.input[0]])()
            copy.CopyFrom(initializers[node.input[0]])
            copy.name = node.output[0]
            graph.graph.initializer.append(copy)
            initializers[copy.name] = copy
        else:
            kept.append(node)
    del graph.graph.node[:]
    graph.graph.node.extend(kept)


def _addressable(module):
    """onnx2torch names submodules after ONNX nodes ("layer1/0/conv1/Conv"); fvcore and dotted paths need plain names."""
    import torch.fx as fx
    from torch import nn

    root = nn.Module()
    renamed: dict[str, str] = {}
    for node in module.graph.nodes:
        if node.op == "call_module" and node.target not in renamed:
            safe = re.sub(r"\W+", "_", node.target).strip("_") or "m"
            while safe in renamed.values() or not safe[0].isalpha():
                safe = f"m_{safe}"
            renamed[node.target] = safe
            root.add_module(safe, module.get_submodule(node.target))
        if node.op == "call_module":
            node.target = renamed[node.target]
    for node in module.graph.nodes:
        if node.op == "get_attr":
            target = node.target
            safe = "a_" + re.sub(r"\W+", "_", target)
            value = module.get_parameter(target) if target in dict(module.named_parameters()) else module.get_buffer(target)
            if isinstance(value, nn.Parameter):
                root.register_parameter(safe, value)
            else:
                root.register_buffer(safe, value)
            node.target = safe
    return fx.GraphModule(root, module.graph)


def _store(path: Path, name: str, record: dict, *, progress, replace: bool, source_name: str) -> ModelSpec:
    """Copy the file into the store, then record it: a crash before the manifest's rename leaves the old state."""
    spec_from_record(record)  # a record that could not be listed fails here, before anything is copied
    with _store_lock():
        records = manifest_records()
        _remove_orphans(records)
        if name in records and not replace:
            raise ImportModelError(f"You already have a model named {name!r}; choose another name or remove it first.")
        digest = _sha256(path)
        relative = f"files/{name}-{digest[:12]}/{_safe_file_name(source_name)}"
        target = store_dir() / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"Cannot create {target.parent}: {describe_os_error(exc)}; nothing was imported.") from exc
        try:
            atomic_copy(path, target, progress=progress)
            if _sha256(target) != digest:
                raise StorageError(f"The copy of {path.name} differs from the original (a failing disk?); nothing was imported.")
            record["weights"].update(file_name=relative, sha256=digest, file_size_mb=target.stat().st_size / 2**20)
            record["source"] = source_name if source_name != path.name else str(path)
            old = records.get(name)
            records[name] = record
            atomic_write_json(manifest_path(), {"format": MANIFEST_FORMAT, "models": records})
        except BaseException:
            with contextlib.suppress(OSError):
                shutil.rmtree(target.parent)
            raise
        if old and old["weights"]["file_name"] != relative:
            _remove_files(old)
    return spec_from_record(record)


def _sha256(path: Path, chunk_bytes: int = 2**20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def _remove_orphans(records: Mapping[str, Mapping[str, Any]]) -> None:
    """Folders a killed import left behind (copied, never recorded). Called under the store lock: no import is mid-copy."""
    kept = {(store_dir() / r["weights"]["file_name"]).parent for r in records.values() if r["weights"].get("file_name")}
    files = store_dir() / "files"
    if files.is_dir():
        for folder in files.iterdir():
            if folder.is_dir() and folder not in kept:
                shutil.rmtree(folder, ignore_errors=True)
    incoming = store_dir() / "incoming"  # uploads of a killed server; a live one is younger than an hour
    if incoming.is_dir():
        for upload in incoming.iterdir():
            with contextlib.suppress(OSError):
                if upload.stat().st_mtime < dt.datetime.now().timestamp() - 3600:
                    upload.unlink()


def _remove_files(record: Mapping[str, Any]) -> None:
    folder = (store_dir() / record["weights"]["file_name"]).parent
    if folder.parent == store_dir() / "files":
        shutil.rmtree(folder, ignore_errors=True)


# --- managing --------------------------------------------------------------------------------


def remove_model(name: str) -> None:
    """Forget an imported model and delete its stored file."""
    with _store_lock():
        records = manifest_records()
        if name not in records:
            raise UnknownModelError(name, [n for n in records if name.lower() in n.lower()][:5])
        record = records.pop(name)
        atomic_write_json(manifest_path(), {"format": MANIFEST_FORMAT, "models": records})
    _remove_files(record)


def export_model(name: str, folder: str | Path) -> Path:
    """A folder another machine can import (``import-model FOLDER``): the file plus its record."""
    records = manifest_records()
    if name not in records:
        raise UnknownModelError(name, list(records)[:5])
    record = records[name]
    source = store_dir() / record["weights"]["file_name"]
    if not source.is_file():
        raise UserModelsError(f"The file of {name} is missing from the store ({source}); import it again.")
    target_dir = Path(folder).expanduser() / name
    try:
        target_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise StorageError(f"{target_dir} exists already; choose another folder.") from None
    except OSError as exc:
        raise StorageError(f"Cannot create {target_dir}: {describe_os_error(exc)}.") from exc
    atomic_copy(source, target_dir / source.name)
    exported = {**record, "weights": {**record["weights"], "file_name": source.name}}
    atomic_write_json(target_dir / EXPORT_RECORD, exported)
    return target_dir


def export_archive(name: str) -> bytes:
    """:func:`export_model` as ZIP bytes (a page's download): the folder ``NAME/`` with the file and its record."""
    import io
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cvlens-export-") as temp:
        folder = export_model(name, temp)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:  # weights do not compress
            for file in sorted(folder.iterdir()):
                archive.write(file, f"{name}/{file.name}")
        return buffer.getvalue()


def import_exported(folder: str | Path, name: str | None = None, *, progress=None) -> ModelSpec:
    """Import a folder written by :func:`export_model`, checking the file's sha256 against its record."""
    folder = Path(folder).expanduser()
    try:
        record = json.loads((folder / EXPORT_RECORD).read_text(encoding="utf-8"))
        file = folder / record["weights"]["file_name"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ImportModelError(f"{folder} is not a folder exported by cvlens (no readable {EXPORT_RECORD}).") from exc
    if not file.is_file() or _sha256(file) != record["weights"].get("sha256"):
        raise ImportModelError(f"{file.name} in {folder} is missing or differs from the exported one (sha256); copy the folder again.")
    weights = record["weights"]
    options = ImportOptions(
        arch=record.get("base"), categories=list(weights["categories"]), dataset=weights.get("dataset", ""),
        input_size=tuple(weights["input_size"]), mean=tuple(weights["preprocessing"]["mean"]), std=tuple(weights["preprocessing"]["std"]),
        task=record.get("task"), display_name=record.get("display_name"),
    )  # fmt: skip
    return import_model(file, name or record["name"], options, progress=progress)


# --- loading -----------------------------------------------------------------------------------


def load_user_model(spec: ModelSpec) -> nn.Module:
    """The imported model with its weights (on the CPU; :func:`cvcore.weights.load_model` moves it)."""
    record = manifest_records().get(spec.name)
    if record is None:
        raise UnknownModelError(spec.name, [])
    path = stored_file(spec)
    if record["format"] == "onnx":
        return onnx_module(path)
    checked = read_checkpoint(path)
    base = registry.catalogue_spec(record["base"])
    kwargs = spec.weights.build_options
    torchvision_arch = base.weights.kind is WeightsKind.TORCHVISION
    model = base.architecture.builder(**kwargs, **({"finalize": False} if torchvision_arch else {}))
    model.load_state_dict(checked.state, strict=True)
    if torchvision_arch:
        from cvcore.models.torchvision_models import finalize_after_load

        finalize_after_load(base.arch, model)
    return model



def measured_complexity(spec: ModelSpec):
    """The :class:`~cvcore.analysis.results.Complexity` counted when ``spec`` was imported (None if it could not be)."""
    from cvcore.analysis.precomputed import complexity_from_dict

    record = user_specs_records().get(spec.name, {})
    measured = record.get("measured") or {}
    try:
        return complexity_from_dict(measured) if "gmacs" in measured else None
    except (TypeError, KeyError, ValueError):  # counted by an older cvlens (other fields): shown as not counted
        return None


def user_specs_records() -> dict[str, dict]:
    """The manifest's records, or none when it cannot be read (listing pages must not fail on a damaged file)."""
    try:
        return manifest_records()
    except UserModelsError:
        return {}
