"""Reading a checkpoint file nobody vouches for, and checking it against an architecture.

A ``.pth`` file is a pickle: loaded naively it can run any code. Every checkpoint cvlens
reads goes through :func:`load_state_dict_safely`, which uses ``torch.load(weights_only=True)``
(tensors, containers and numbers only; no code runs) and turns each way a file can be
wrong into a :class:`CheckpointError` whose message says, in cvlens's words, what is wrong
and what to do. torch's own message for a refused pickle suggests retrying with
``weights_only=False``; that advice is never passed on.

:func:`compare_state_dict` then checks the tensors' names and shapes against the model
they are meant for (missing, unexpected, mismatched), before anything is copied or loaded.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvcore.errors import CvlensError

if TYPE_CHECKING:
    import torch
    from torch import nn

# Containers training scripts wrap their weights in (Lightning, most tutorials); the weights are unwrapped.
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "module", "net")
# Buffers torch fills in itself when an old checkpoint lacks them (BatchNorm's counter, added in torch 0.4.1).
OPTIONAL_KEY_SUFFIXES = ("num_batches_tracked",)
SAVE_WEIGHTS_HINT = "save its weights instead: torch.save(model.state_dict(), 'weights.pth')"
# Modules a checkpoint has no business calling: a reference to one means the file tries to run a program.
_DANGEROUS_MODULES = ("os", "posix", "nt", "subprocess", "builtins", "sys", "shutil", "socket", "runpy", "importlib", "pty")


class CheckpointError(CvlensError, ValueError):
    """A checkpoint file cvlens will not use; ``path`` names it, the message says why and what to do."""

    def __init__(self, path: str | Path, message: str):
        self.path = Path(path)
        super().__init__(message)


class CheckpointUnreadableError(CheckpointError):
    """No such file, a folder, an empty file, or one that cannot be opened."""


class CheckpointCorruptError(CheckpointError):
    """Not a torch.save file, or one cut short (an interrupted download or copy) or otherwise damaged."""


class CheckpointUnsafeError(CheckpointError):
    """A pickle that needs Python code to load: a whole pickled model, or a file that tries to run a program."""

    def __init__(self, path: str | Path, message: str, global_name: str | None):
        self.global_name = global_name
        super().__init__(path, message)


class CheckpointContentError(CheckpointError):
    """A file that loads but is not a mapping of tensor names to tensors."""


class CheckpointMismatchError(CheckpointError):
    """A set of weights whose names or shapes do not fit the architecture; ``report`` has the details."""

    def __init__(self, path: str | Path, message: str, report: StateDictReport):
        self.report = report
        super().__init__(path, message)


# --- loading ------------------------------------------------------------------------------


def load_state_dict_safely(path: str | Path, *, mmap: bool | None = None) -> dict[str, torch.Tensor]:
    """The tensors in a checkpoint file, read without running any of its code.

    Returns a plain ``{name: tensor}`` dict on the CPU. A file holding ``{"state_dict": {...}}``
    (or ``model_state_dict``, ``model``, ...) as training scripts save it gives the inner dict.
    ``mmap`` maps the tensors' bytes instead of reading them (zip-format files only; default:
    whenever possible), so checking a large file's names and shapes costs little memory.
    Raises a :class:`CheckpointError` subclass whose message is meant for the user.
    """
    path = Path(path).expanduser()
    _check_is_readable_file(path)
    obj = _torch_load(path, mmap=zipfile.is_zipfile(path) if mmap is None else mmap)
    return _as_state_dict(path, obj)


def _check_is_readable_file(path: Path) -> None:
    if path.is_dir():
        raise CheckpointUnreadableError(path, f"{path} is a folder, not a checkpoint file.")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise CheckpointUnreadableError(path, f"No such file: {path}.") from None
    except OSError as exc:
        raise CheckpointUnreadableError(path, f"Cannot read {path}: {exc.strerror or exc}.") from exc
    if size == 0:
        raise CheckpointUnreadableError(path, f"{path} is empty (0 bytes): an interrupted download or copy. Get the file again.")


def _torch_load(path: Path, *, mmap: bool) -> Any:
    import pickle

    import torch

    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": noise for a file we refuse or accept anyway
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        needs_code, global_name = _needs_code(path, text)
        if needs_code:
            raise CheckpointUnsafeError(path, _unsafe_message(path, global_name), global_name) from None
        raise CheckpointCorruptError(path, _corrupt_message(path)) from None
    except MemoryError:
        raise
    except OSError as exc:
        raise CheckpointUnreadableError(path, f"Cannot read {path}: {exc.strerror or exc}.") from exc
    except Exception:  # torch reports damage as RuntimeError, EOFError, KeyError, ValueError ... depending on where it is
        raise CheckpointCorruptError(path, _corrupt_message(path)) from None


def _needs_code(path: Path, torch_message: str) -> tuple[bool, str | None]:
    """Whether torch refused the pickle for asking for Python objects, and the first one it asked for.

    torch names the object ("Unsupported global: GLOBAL posix.system") when it gets that far;
    for opcodes its unpickler does not know (protocol 4's framing) the file's first pickle is
    read with :mod:`pickletools`, which parses opcodes and executes nothing. Bytes that are
    not a pickle at all are damage, not danger.
    """
    match = re.search(r"GLOBAL ([\w.]+)", torch_message)
    if match:
        return True, match.group(1)
    if "Weights only load failed" not in torch_message or zipfile.is_zipfile(path):
        return False, None
    return _scan_pickle_for_globals(path)


def _scan_pickle_for_globals(path: Path, max_bytes: int = 2**24) -> tuple[bool, str | None]:
    import io
    import pickletools

    with open(path, "rb") as handle:
        data = handle.read(max_bytes)
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(io.BytesIO(data)):
            if opcode.name in ("GLOBAL", "INST"):
                return True, str(arg).replace(" ", ".")
            if opcode.name == "STACK_GLOBAL":
                return True, ".".join(strings[-2:]) or None
            if opcode.name in ("REDUCE", "BUILD", "OBJ", "NEWOBJ", "NEWOBJ_EX"):
                return True, None
            if isinstance(arg, str):
                strings.append(arg)
    except (ValueError, EOFError, UnicodeDecodeError):  # not a pickle, or cut short: damage
        return False, None
    return False, None


def _unsafe_message(path: Path, global_name: str | None) -> str:
    needs = f" (it asks for `{global_name}`)" if global_name else ""
    message = (
        f"{path.name} is not a plain set of weights: loading it would need Python code{needs}, "
        "and cvlens never runs code from a checkpoint."
    )
    module = (global_name or "").split(".")[0]
    if module in _DANGEROUS_MODULES:
        return message + " It tries to run a program: do not load it with any other tool either, and delete it."
    return message + f" If it is a whole model saved with torch.save(model), {SAVE_WEIGHTS_HINT}, and use that file."


def _corrupt_message(path: Path) -> str:
    return (
        f"{path} cannot be read as a PyTorch checkpoint: it is damaged or cut short (an interrupted download or copy), "
        "or it is another kind of file. Get the file again."
    )


def _as_state_dict(path: Path, obj: Any) -> dict[str, torch.Tensor]:
    import torch

    if isinstance(obj, Mapping):
        for candidate in (obj, *(obj.get(key) for key in WRAPPER_KEYS)):
            if _is_tensor_mapping(candidate):
                # An OrderedDict keeps its ``_metadata``: module versions that old checkpoints need to load.
                return candidate if isinstance(candidate, dict) else dict(candidate)
    what = _describe_object(obj)
    if isinstance(obj, Mapping) and obj and all(isinstance(k, str) for k in obj):
        others = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)][:3]
        what += f" (not tensors: {', '.join(others)})"
    raise CheckpointContentError(
        path,
        f"{path.name} loads, but it is {what}, not a set of weights (a mapping of parameter names to tensors). "
        f"If you trained the model yourself, {SAVE_WEIGHTS_HINT}.",
    )


def _is_tensor_mapping(obj: Any) -> bool:
    import torch

    return (
        isinstance(obj, Mapping) and bool(obj) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def _describe_object(obj: Any) -> str:
    if isinstance(obj, Mapping):
        return "an empty mapping" if not obj else f"a mapping of {len(obj)} entries"
    if isinstance(obj, (list, tuple)):
        return f"a {type(obj).__name__} of {len(obj)} items"
    return f"a {type(obj).__name__}"


# --- checking against an architecture -----------------------------------------------------


@dataclass(frozen=True)
class ShapeMismatch:
    key: str
    expected: tuple[int, ...]  # the architecture's
    found: tuple[int, ...]  # the file's


@dataclass(frozen=True)
class StateDictReport:
    """How a set of weights fits an architecture: what is missing, unexpected, or of another shape."""

    missing: tuple[str, ...]  # the architecture has them, the file does not
    unexpected: tuple[str, ...]  # the file has them, the architecture does not
    mismatched: tuple[ShapeMismatch, ...]
    matched: int  # names present on both sides with equal shapes

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self, limit: int = 3) -> str:
        """One sentence for a message: counts, the first few names, and a hint when the cause is recognisable."""
        if self.ok:
            return f"All {self.matched} tensors match the architecture."
        parts = []
        if self.mismatched:
            shown = "; ".join(
                f"{m.key} is {_shape(m.found)} in the file but {_shape(m.expected)} in the architecture"
                for m in self.mismatched[:limit]
            )
            parts.append(f"{_count(len(self.mismatched), 'tensor')} of another shape ({shown}{_more(self.mismatched, limit)})")
        if self.missing:
            parts.append(
                f"{_count(len(self.missing), 'tensor')} missing ({', '.join(self.missing[:limit])}{_more(self.missing, limit)})"
            )
        if self.unexpected:
            parts.append(
                f"{_count(len(self.unexpected), 'tensor')} the architecture does not have "
                f"({', '.join(self.unexpected[:limit])}{_more(self.unexpected, limit)})"
            )
        return "; ".join(parts) + "." + _hint(self)


def compare_state_dict(
    state: Mapping[str, Any], expected: nn.Module | Mapping[str, Any], *, optional_suffixes: Sequence[str] = OPTIONAL_KEY_SUFFIXES
) -> StateDictReport:
    """Compare a state dict's names and shapes with a model's (or a ``{name: shape or tensor}`` mapping).

    A model built on the meta device (shapes only, no memory) serves as well as a real one.
    Missing names ending in one of ``optional_suffixes`` are not counted: torch fills them in.
    """
    wanted = _shapes(expected.state_dict() if hasattr(expected, "state_dict") else expected)
    found = _shapes(state)
    missing = tuple(k for k in wanted if k not in found and not k.endswith(tuple(optional_suffixes)))
    unexpected = tuple(k for k in found if k not in wanted)
    mismatched = tuple(ShapeMismatch(k, wanted[k], found[k]) for k in wanted if k in found and wanted[k] != found[k])
    matched = sum(1 for k in wanted if k in found and wanted[k] == found[k])
    return StateDictReport(missing, unexpected, mismatched, matched)


def check_state_dict(
    path: str | Path, state: Mapping[str, Any], expected: nn.Module | Mapping[str, Any], what: str
) -> StateDictReport:
    """:func:`compare_state_dict`, raising :class:`CheckpointMismatchError` (naming ``what`` the file is for) unless it fits."""
    report = compare_state_dict(state, expected)
    if not report.ok:
        raise CheckpointMismatchError(path, f"{Path(path).name} does not fit {what}: {report.describe()}", report)
    return report


def _shapes(mapping: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(int(n) for n in (v.shape if hasattr(v, "shape") else v)) for k, v in mapping.items()}


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape) if shape else "a scalar"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _more(items: Sequence, limit: int) -> str:
    return f", and {len(items) - limit} more" if len(items) > limit else ""


def _hint(report: StateDictReport) -> str:
    """The two causes that explain most failures: a name prefix (DataParallel's ``module.``) or another number of classes."""
    if report.missing and report.unexpected:
        for prefix in ("module.", "model."):
            stripped = {k.removeprefix(prefix) for k in report.unexpected if k.startswith(prefix)}
            if stripped and set(report.missing) <= stripped:
                return f" Every name in the file starts with {prefix!r} (a model wrapped when it was saved); remove that prefix."
    last = report.mismatched[-1] if report.mismatched else None
    if (
        last is not None
        and len(report.mismatched) <= 2
        and last.key.endswith(("weight", "bias"))
        and last.found[:1] != last.expected[:1]
    ):
        return f" Only the last layer differs: the file's model has {last.found[0]} outputs (classes), the architecture {last.expected[0]}."
    return ""
