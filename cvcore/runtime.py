"""How a model runs for inference: precision, memory format, torch.compile. Never what it computes.

A :class:`RuntimeMode` names one way of running a forward pass; the CLI, the pages and
the benchmark offer the same ones:

- precision ``fp32`` (exact: the default everywhere), ``bf16`` or ``fp16``
  (``torch.autocast``: convolutions and matrix products in 16-bit floats; faster where the
  hardware has them, approximate, so opt-in, and every result that used one shows its
  measured agreement with fp32, see :class:`Agreement`);
- ``channels_last``: NHWC tensors, the layout oneDNN and cuDNN convolutions prefer;
- ``compile``: ``torch.compile`` with inductor and *freezing* (weights become constants:
  BatchNorm folded into convolutions, conv weights pre-packed). Freezing is correct here
  because inference never changes a loaded model's weights; it only applies without
  autograd, so it is switched on for the traced call alone (inductor reads the flag while
  dynamo traces, which a ``torch.compile(options=...)`` patch comes too late for), never
  at import.

Precision is not changed by ``channels_last`` or ``compile``: they reorder the same fp32
arithmetic (labels and top-1 can then differ from eager fp32 only at floating-point ties).

The shared model is never touched. The fp32 and autocast modes call it as it is (a plain
forward pass changes nothing); ``channels_last`` and ``compile`` work on a private copy of
its module tree (:func:`private_copy`: same weight storage, or converted copies of it),
kept in a process-wide registry (:func:`runner_for`) until the model itself is
garbage-collected.

Compilation never blocks a caller (:class:`Runner`): the first call with an input shape
answers with the eager path and starts compiling that shape in a background thread;
later calls with it use the compiled code. A compile that fails (no C++ compiler, an
unsupported op) leaves eager answering, with a logged note on the result. Inductor's
on-disk caches live under the cvlens home, ``$CVLENS_HOME/torch-compile``
(``$TORCHINDUCTOR_CACHE_DIR`` wins if the user set it): after a restart the compiled C++
kernels (most of a cold compile's time) load from there. On CPU inductor bypasses its FX
graph cache for frozen graphs (their pre-packed oneDNN weights cannot be pickled), so
dynamo's tracing and inductor's lowering run again at a restart (about 20 s of CPU for
EfficientNet-Lite0 on 2 cores, against about 60 s cold); its precompiled header stays in
inductor's own temporary folder.

Imports torch only inside functions: reading a mode's name must not cost seconds.
"""

from __future__ import annotations

import contextlib
import copy
import enum
import functools
import logging
import os
import sys
import threading
import types
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from cvcore.errors import InvalidInputError

if TYPE_CHECKING:
    import torch
    from torch import nn

log = logging.getLogger("cvlens.runtime")

COMPILE_CACHE_ENV_VAR = "TORCHINDUCTOR_CACHE_DIR"  # inductor's own: its FX graph, autograd and kernel caches
COMPILE_CACHE_FOLDER = "torch-compile"  # under the cvlens home
# Input shapes compiled per runner: each costs a compile (tens of seconds of CPU on 2 cores)
# and memory; photos of other shapes are answered by the eager path.
MAX_COMPILED_SHAPES = 4


class Precision(str, enum.Enum):
    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The dtype autocast computes in, or None for fp32 (no autocast at all)."""
        import torch

        return {Precision.BF16: torch.bfloat16, Precision.FP16: torch.float16}.get(self)


PRECISIONS = tuple(p.value for p in Precision)


class Support(NamedTuple):
    """Whether a mode runs on a device; ``reason`` says why not (empty when it does)."""

    ok: bool
    reason: str = ""


class ModeNotSupportedError(InvalidInputError):
    """A runtime mode this device or this PyTorch build cannot run; the message says why."""


@dataclass(frozen=True)
class RuntimeMode:
    """One way of running inference. Hashable: it keys caches and stored results."""

    precision: Precision = Precision.FP32
    channels_last: bool = False
    compile: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.precision, Precision):
            try:
                object.__setattr__(self, "precision", Precision(str(self.precision).strip().lower()))
            except ValueError:
                raise InvalidInputError(f"Unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}.") from None

    @property
    def name(self) -> str:
        """``fp32``, ``bf16``, ``channels_last``, ``bf16+channels_last+compile`` (fp32 unnamed when combined): :func:`parse_mode` reads it back."""
        parts = [self.precision.value] * self.approximate + ["channels_last"] * self.channels_last + ["compile"] * self.compile
        return "+".join(parts) or Precision.FP32.value

    @property
    def label(self) -> str:
        """For people: "fp32 (exact)", "bf16 autocast, torch.compile"."""
        parts = [
            "fp32 (exact)"
            if self.is_default
            else "fp32"
            if self.precision is Precision.FP32
            else f"{self.precision.value} autocast"
        ]
        parts += ["channels_last"] * self.channels_last + ["torch.compile"] * self.compile
        return ", ".join(parts)

    @property
    def is_default(self) -> bool:
        """Plain eager fp32: the reference every other mode is checked against."""
        return self == EXACT

    @property
    def approximate(self) -> bool:
        """Computes in 16-bit floats: results can differ from fp32 beyond rounding ties."""
        return self.precision is not Precision.FP32

    @property
    def needs_copy(self) -> bool:
        """channels_last and compile work on a private copy of the module tree (never the shared model)."""
        return self.channels_last or self.compile

    def supported(self, device: str | torch.device | None = None) -> Support:
        """Whether this mode runs on ``device`` (default: cvcore's device), and why not."""
        from cvcore.device import resolve_device

        dev = resolve_device(device)
        for check in (
            _precision_support(self.precision, dev.type),
            _compile_support(dev.type) if self.compile else Support(True),
        ):
            if not check.ok:
                return check
        return Support(True)

    def require_supported(self, device: str | torch.device | None = None) -> None:
        """Raise :class:`ModeNotSupportedError` (a message for the user) unless :meth:`supported`."""
        ok, reason = self.supported(device)
        if not ok:
            raise ModeNotSupportedError(f"{self.label} cannot run here: {reason}")


EXACT = RuntimeMode()
# The modes the benchmark (`--mode`) and the pages offer, by name; combinations parse too ("bf16+compile").
NAMED_MODES: dict[str, RuntimeMode] = {
    "fp32": EXACT,
    "bf16": RuntimeMode(Precision.BF16),
    "fp16": RuntimeMode(Precision.FP16),
    "channels_last": RuntimeMode(channels_last=True),
    "compile": RuntimeMode(compile=True),
}
MODE_NAMES = tuple(NAMED_MODES)


def parse_mode(text: str | RuntimeMode | None) -> RuntimeMode:
    """A mode from its name: one of :data:`MODE_NAMES` or parts joined by ``+`` (``bf16+channels_last+compile``)."""
    if text is None:
        return EXACT
    if isinstance(text, RuntimeMode):
        return text
    parts = [p.strip().lower().replace("-", "_") for p in str(text).split("+") if p.strip()]
    precisions = [p for p in parts if p in PRECISIONS]
    unknown = [p for p in parts if p not in PRECISIONS and p not in ("channels_last", "compile")]
    if unknown or len(precisions) > 1 or not parts:
        raise InvalidInputError(
            f"Unknown runtime mode {text!r}: use {', '.join(MODE_NAMES)}, or a precision joined with "
            "channels_last and/or compile by '+' (e.g. bf16+compile)."
        )
    return RuntimeMode(precisions[0] if precisions else Precision.FP32, "channels_last" in parts, "compile" in parts)


def mode_from_options(precision: str = "fp32", *, channels_last: bool = False, compile: bool = False) -> RuntimeMode:
    """The mode of the CLI's ``--precision``, ``--channels-last`` and ``--compile`` options."""
    return RuntimeMode(precision, channels_last, compile)


def benchmark_modes() -> tuple[RuntimeMode, ...]:
    return tuple(NAMED_MODES.values())


# --- what a device supports -------------------------------------------------------------------


@functools.cache
def _precision_support(precision: Precision, device_type: str) -> Support:
    import torch

    if precision is Precision.FP32:
        return Support(True)
    if device_type == "cpu":
        native = {
            Precision.BF16: (
                torch.ops.mkldnn._is_mkldnn_bf16_supported,
                "AVX512-BF16/AMX or AVX512 with BF16 emulation in oneDNN",
            ),
            Precision.FP16: (torch.ops.mkldnn._is_mkldnn_fp16_supported, "AVX512-FP16 or AMX-FP16"),
        }[precision]
        if torch.backends.mkldnn.is_available() and native[0]():
            return Support(True)
        return Support(
            False,
            f"this CPU has no native {precision.value} arithmetic ({native[1]}); PyTorch would emulate it, "
            "slower than fp32. Use fp32 here.",
        )
    if device_type == "cuda":
        if precision is Precision.BF16 and not torch.cuda.is_bf16_supported(including_emulation=False):
            return Support(False, "this GPU has no native bf16 (it needs compute capability 8.0, Ampere, or newer); use fp16.")
        return Support(True)
    return Support(False, f"cvlens offers {precision.value} on CPU and CUDA only, not on {device_type}.")


def _compile_support(device_type: str) -> Support:
    use_compile_cache_dir()  # before inductor's first look at its cache folder (looking for a compiler does)
    if device_type == "cpu":
        return _cpu_compile_support()
    if device_type == "cuda":
        return _cuda_compile_support()
    return Support(False, f"cvlens compiles for CPU and CUDA only, not for {device_type}.")


@functools.cache
def _dynamo_support() -> Support:
    try:
        import torch._dynamo

        if not torch._dynamo.is_dynamo_supported():
            return Support(False, "torch.compile does not support this Python version or platform.")
    except Exception as exc:  # an import failure of torch's compiler stack, whatever its kind
        return Support(False, f"torch.compile is unavailable ({type(exc).__name__}: {exc}).")
    return Support(True)


@functools.cache
def _cpu_compile_support() -> Support:
    dynamo = _dynamo_support()
    if not dynamo.ok:
        return dynamo
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        get_cpp_compiler()  # runs `$CXX --version` (g++, clang++ ...)
    except Exception as exc:  # InvalidCxxCompiler, or an unexpected failure looking for one
        return Support(
            False, f"torch.compile on CPU needs a C++ compiler (g++ or clang++) and none was found ({type(exc).__name__})."
        )
    return Support(True)


@functools.cache
def _cuda_compile_support() -> Support:
    dynamo = _dynamo_support()
    if not dynamo.ok:
        return dynamo
    from torch.utils._triton import has_triton

    if not has_triton():
        return Support(False, "torch.compile on CUDA needs Triton (and a GPU of compute capability 7.0 or newer).")
    return Support(True)


# --- agreement with fp32 ------------------------------------------------------------------------


@dataclass(frozen=True)
class Agreement:
    """How far a result in a fast mode agrees with the fp32 (exact) result of the same input.

    ``reference`` says where the fp32 result came from (a run on the same input, in this process).
    """

    mode: str  # RuntimeMode.name of the result checked
    what: str  # "pixels" or "top-1"
    equal: int  # pixels (or predictions) equal to fp32's
    total: int
    reference: str

    @property
    def share(self) -> float:
        return self.equal / self.total if self.total else 1.0

    def describe(self) -> str:
        if self.what == "top-1":
            verdict = "top-1 equal to fp32" if self.equal == self.total else "top-1 differs from fp32"
            return f"{verdict} ({self.reference})"
        return f"{100 * self.share:.2f}% of pixels labelled as in fp32 ({self.reference})"


def pixel_agreement(labels, reference_labels, mode: RuntimeMode, reference: str) -> Agreement:
    """Share of pixels whose label equals fp32's (``labels`` and ``reference_labels``: same-shape arrays)."""
    import numpy as np

    labels, reference_labels = np.asarray(labels), np.asarray(reference_labels)
    if labels.shape != reference_labels.shape:
        raise InvalidInputError(f"Cannot compare label maps of shapes {labels.shape} and {reference_labels.shape}.")
    return Agreement(mode.name, "pixels", int((labels == reference_labels).sum()), int(labels.size), reference)


def top1_agreement(
    top1: int | Sequence[int], reference_top1: int | Sequence[int], mode: RuntimeMode, reference: str
) -> Agreement:
    """Whether the top-1 class equals fp32's (one input, or a list of them)."""
    ours = [top1] if isinstance(top1, int) else list(top1)
    theirs = [reference_top1] if isinstance(reference_top1, int) else list(reference_top1)
    if len(ours) != len(theirs):
        raise InvalidInputError(f"Cannot compare {len(ours)} predictions with {len(theirs)}.")
    return Agreement(mode.name, "top-1", sum(int(a) == int(b) for a, b in zip(ours, theirs)), len(ours), reference)


# --- private copies ----------------------------------------------------------------------------


def private_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module``'s tree with its own modules, dicts and Parameter objects, sharing weight storage.

    Nothing done to the copy (a memory-format conversion, compiler passes that swap a
    Parameter's data) reaches the original, and the copy holds no reference to the
    original modules, so a registry keeping the copy does not keep the original alive.
    Parameters are detached (inference needs no gradient for them). Eval mode.
    """
    from torch import nn

    memo: dict[int, nn.Module] = {}

    def copy_module(original: nn.Module) -> nn.Module:
        if id(original) in memo:  # a module used twice stays one module
            return memo[id(original)]
        new = copy.copy(original)  # shallow: __dict__'s containers are still the original's ...
        for key, value in vars(original).items():  # ... so give the copy its own (hook dicts, _buffers, ...)
            if isinstance(value, (dict, set, list)):
                new.__dict__[key] = copy.copy(value)
        new._parameters = {
            k: None if p is None else nn.Parameter(p.detach(), requires_grad=False) for k, p in original._parameters.items()
        }
        memo[id(original)] = new
        new._modules = {k: None if c is None else copy_module(c) for k, c in original._modules.items()}
        return new

    return copy_module(module).eval()


def _channels_last_copy(module: nn.Module) -> nn.Module:
    import torch

    return private_copy(module).to(memory_format=torch.channels_last)  # 4-D weights converted in the copy only


# --- running in a mode ---------------------------------------------------------------------------

Head = Callable[["nn.Module", "torch.Tensor"], Any]  # (model, batch) -> output: which forward to run


def _to_float32(output):
    """Outputs back in fp32 (autocast leaves bf16/fp16 tensors), in the same structure (tensor, dict, tuple)."""
    import torch

    if isinstance(output, torch.Tensor):
        return output.float() if output.is_floating_point() else output
    if isinstance(output, dict):
        return type(output)((k, _to_float32(v)) for k, v in output.items())
    if isinstance(output, (list, tuple)):
        return type(output)(_to_float32(v) for v in output)
    return output


@functools.cache
def _mode_forward_class() -> type:
    """The module that runs and compiles: built on first use (defining an nn.Module needs torch)."""
    import torch
    from torch import nn

    class ModeForward(nn.Module):
        """``head(model, x)`` (default ``model(x)``) under the mode's autocast, outputs in fp32."""

        def __init__(self, model: nn.Module, head: Head | None, device_type: str, dtype: torch.dtype | None):
            super().__init__()
            self.model = model
            self.head = head
            self.device_type = device_type
            self.dtype = dtype

        def forward(self, x):
            if self.dtype is None:
                return self.head(self.model, x) if self.head is not None else self.model(x)
            with torch.autocast(self.device_type, dtype=self.dtype):
                output = self.head(self.model, x) if self.head is not None else self.model(x)
            return _to_float32(output)

    return ModeForward


class CompileState(str, enum.Enum):
    OFF = "off"  # the mode does not compile
    NOT_STARTED = "not started"  # compiles on the first call
    COMPILING = "compiling"  # the eager path answers meanwhile
    READY = "compiled"  # at least one input shape is compiled
    FAILED = "failed"  # eager answers; see Runner.compile_error


@dataclass(frozen=True)
class RunInfo:
    """Which path answered one call, in which mode; ``note`` is for people (empty when nothing needs saying)."""

    mode: RuntimeMode
    path: str  # "eager" or "compiled"
    note: str = ""


_THIS_THREAD = threading.local()  # .compile_here: compile_in_this_thread() is active


@contextlib.contextmanager
def compile_in_this_thread() -> Iterator[None]:
    """Within the block, runners compile a new input shape in the calling thread and answer compiled.

    For one-shot callers (the CLI, benchmarks) that would otherwise exit with the work of a
    background compile thrown away. Affects this thread only: other sessions keep compiling
    in the background.
    """
    previous = getattr(_THIS_THREAD, "compile_here", False)
    _THIS_THREAD.compile_here = True
    try:
        yield
    finally:
        _THIS_THREAD.compile_here = previous


COMPILING_NOTE = "torch.compile is compiling this input shape in the background: this result came from the eager path."
_COMPILE_LOCK = threading.Lock()  # one compilation at a time in the process (and freezing is a global flag)
_function_counter = iter(range(1, 1 << 62))


def _own_code_object(forward: Callable) -> Callable:
    """A function calling ``forward`` with its own code object.

    Dynamo keeps compiled code (and counts recompilations, up to ``recompile_limit``) per
    code object: one per runner keeps each runner's shapes apart from every other model's.
    """
    number = next(_function_counter)

    def call(x):
        return forward(x)

    code = call.__code__.replace(co_name=f"cvlens_forward_{number}")
    return types.FunctionType(code, call.__globals__, code.co_name, None, call.__closure__)


def _signature(x) -> tuple:
    """What dynamo specialises a compiled graph on, for one input tensor."""
    return tuple(x.shape), tuple(x.stride()), x.dtype, str(x.device), x.is_inference()


def _example_like(x):
    """A private copy of ``x`` for a background compile, as inference-tensor-ish as ``x`` (dynamo guards on it)."""
    import torch

    with torch.inference_mode(x.is_inference()):
        return x.detach().clone()


def _short(exc: BaseException) -> str:
    """The root cause in one line: dynamo wraps a backend's error (BackendCompilerFailed, InductorError)."""
    while exc.__cause__ is not None or getattr(exc, "inner_exception", None) is not None:
        exc = exc.__cause__ or exc.inner_exception
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


class Runner:
    """A module ready to run in one :class:`RuntimeMode`; call it like the module (no gradients).

    ``head(model, x)`` picks the forward to run (default ``model(x)``; segmentation runs up
    to its logit grid). With ``background`` a compile never blocks a call: a new input shape
    is answered by the eager path while it compiles in a thread; without it (CLI,
    benchmark) the first call of each shape compiles, then answers compiled.
    ``backend`` is torch.compile's (tests use a cheap or a failing one).
    """

    def __init__(
        self,
        model: nn.Module,
        mode: RuntimeMode | str = EXACT,
        *,
        head: Head | None = None,
        background: bool = True,
        backend: str | Callable = "inductor",
        max_compiled_shapes: int = MAX_COMPILED_SHAPES,
    ):
        from cvcore.device import model_device

        self.mode = parse_mode(mode)
        self.device = model_device(model)
        self.mode.require_supported(self.device)
        module = _channels_last_copy(model) if self.mode.channels_last else private_copy(model) if self.mode.compile else model
        self._eager = _mode_forward_class()(module, head, self.device.type, self.mode.precision.autocast_dtype)
        self._background = background
        self._backend = backend
        self._max_shapes = max_compiled_shapes
        self._lock = threading.Lock()
        self._compiled = None
        self._ready: set[tuple] = set()
        self._attempted: set[tuple] = set()
        self._thread: threading.Thread | None = None
        self._error: str | None = None

    # -- state --

    @property
    def compile_state(self) -> CompileState:
        if not self.mode.compile:
            return CompileState.OFF
        if self._error is not None:
            return CompileState.FAILED
        if self._thread is not None and self._thread.is_alive():
            return CompileState.COMPILING
        return CompileState.READY if self._ready else CompileState.NOT_STARTED

    @property
    def compile_error(self) -> str | None:
        """Why compiling failed (eager answers instead), or None."""
        return self._error

    def compiled_shapes(self) -> list[tuple[int, ...]]:
        return sorted(sig[0] for sig in self._ready)

    def wait(self, timeout_s: float | None = None) -> CompileState:
        """Block until a background compile running now has finished (tests, benchmarks); returns the state."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        return self.compile_state

    # -- running --

    def __call__(self, x):
        return self.run(x)[0]

    def run(self, x) -> tuple[Any, RunInfo]:
        """``(output, how it was computed)`` for one input batch, under ``torch.inference_mode``."""
        import torch

        if self.mode.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        if not self.mode.compile:
            with torch.inference_mode():
                return self._eager(x), RunInfo(self.mode, "eager")
        signature = _signature(x)
        if signature not in self._ready:
            note = self._start_compile(x, signature)
            if signature not in self._ready:  # still compiling, failed, or too many shapes: eager answers
                with torch.inference_mode():
                    return self._eager(x), RunInfo(self.mode, "eager", note)
        try:
            with torch.inference_mode():
                return self._compiled(x), RunInfo(self.mode, "compiled")
        except Exception as exc:  # a compiled graph that fails at run time: eager from now on
            self._fail(exc)
            with torch.inference_mode():
                return self._eager(x), RunInfo(self.mode, "eager", self._failure_note())

    def _start_compile(self, x, signature: tuple) -> str:
        """Compile ``signature`` (in a thread, or here without ``background``); returns the note for an eager answer."""
        with self._lock:
            if self._error is not None:
                return self._failure_note()
            start = signature not in self._attempted and len(self._attempted) < self._max_shapes
            if signature not in self._attempted and not start:
                return f"torch.compile: {self._max_shapes} input shapes are compiled already; this one ran eagerly."
            in_background = self._background and not getattr(_THIS_THREAD, "compile_here", False)
            if start:
                self._attempted.add(signature)
                example = _example_like(x)
                if in_background:
                    previous = self._thread
                    self._thread = threading.Thread(
                        target=self._compile, args=(example, signature, previous), name="cvlens-compile", daemon=True
                    )
                    self._thread.start()
        if start and not in_background:
            self._compile(example, signature, self._thread)
        if self._error is not None:
            return self._failure_note()
        return "" if signature in self._ready else COMPILING_NOTE

    def _compile(self, example, signature: tuple, previous: threading.Thread | None) -> None:
        import torch
        import torch._inductor.config

        if previous is not None:
            previous.join()
        try:
            use_compile_cache_dir()
            with _COMPILE_LOCK, torch._inductor.config.patch(freezing=True), torch.inference_mode():
                if self._compiled is None:
                    self._compiled = torch.compile(_own_code_object(self._eager), backend=self._backend, dynamic=False)
                self._compiled(example)  # dynamo traces and inductor compiles here (no autograd: weights frozen)
        except Exception as exc:  # dynamo, inductor and the C++ compiler raise many kinds: all mean "eager answers"
            self._fail(exc)
            return
        with self._lock:
            self._ready.add(signature)
        log.info("torch.compile ready for input %s in mode %s", signature[0], self.mode.name)

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            self._error = _short(exc)
        log.warning("torch.compile failed (mode %s); running eagerly from now on: %s", self.mode.name, self._error)

    def _failure_note(self) -> str:
        return f"torch.compile failed here ({self._error}); this result came from the eager path."


def prepare(
    model: nn.Module, mode: RuntimeMode | str = EXACT, *, head: Head | None = None, background: bool = False, **options
) -> Runner:
    """A new :class:`Runner` of ``model`` in ``mode`` (the benchmark and one-shot CLI calls; ``background`` off by default)."""
    return Runner(model, mode, head=head, background=background, **options)


# --- one runner per (model, forward, mode), for the process -------------------------------------

_REGISTRY: dict[tuple, Runner] = {}
_REGISTRY_LOCK = threading.Lock()
_WATCHED: set[int] = set()  # ids of models whose collection removes their runners


def runner_for(model: nn.Module, mode: RuntimeMode | str = EXACT, *, head: Head | None = None) -> Runner:
    """The process-wide runner of ``model`` in ``mode`` (compiled code and converted copies are kept and reused).

    Modes without a copy (fp32, bf16, fp16 eager) get a fresh, free runner each call.
    Others are kept per (model, ``head``, mode) until ``model`` is garbage-collected: the
    runner holds a copy sharing its storage, not the model itself, so it does not keep a
    model alive that its cache has dropped. ``head`` is a module-level function.
    """
    mode = parse_mode(mode)
    if not mode.needs_copy:
        return Runner(model, mode, head=head)
    key = (id(model), _head_key(head), mode)
    with _REGISTRY_LOCK:
        runner = _REGISTRY.get(key)
        if runner is None:
            runner = Runner(model, mode, head=head, background=True)
            _REGISTRY[key] = runner
            if id(model) not in _WATCHED:
                _WATCHED.add(id(model))
                weakref.finalize(model, _forget, id(model))
    return runner


def _head_key(head: Head | None) -> str:
    return "" if head is None else f"{head.__module__}.{head.__qualname__}"


def _forget(model_id: int) -> None:
    with _REGISTRY_LOCK:
        for key in [k for k in _REGISTRY if k[0] == model_id]:
            del _REGISTRY[key]
        _WATCHED.discard(model_id)


def registered_runners() -> list[Runner]:
    """The runners kept now (tests, diagnostics)."""
    with _REGISTRY_LOCK:
        return list(_REGISTRY.values())


def compiling() -> bool:
    """Whether any kept runner is compiling in the background now (results computed meanwhile came from eager)."""
    return any(r.compile_state is CompileState.COMPILING for r in registered_runners())


def run(model: nn.Module, x, mode: RuntimeMode | str = EXACT, *, head: Head | None = None) -> tuple[Any, RunInfo]:
    """``(output, RunInfo)`` of ``head(model, x)`` (default ``model(x)``) in ``mode``, without gradients.

    The default mode is exactly ``model(x)`` under ``torch.inference_mode``; others go
    through :func:`runner_for`. Raises :class:`ModeNotSupportedError` for a mode this
    device cannot run.
    """
    import torch

    mode = parse_mode(mode)
    if mode.is_default:
        with torch.inference_mode():
            return (head(model, x) if head is not None else model(x)), RunInfo(mode, "eager")
    return runner_for(model, mode, head=head).run(x)


# --- the compile cache -----------------------------------------------------------------------------


def compile_cache_dir() -> str:
    """Where inductor keeps compiled code across restarts: ``$TORCHINDUCTOR_CACHE_DIR`` if the user set it, else under the cvlens home."""
    from cvcore.storage import cvlens_home

    chosen = os.environ.get(COMPILE_CACHE_ENV_VAR)
    return chosen if chosen and not _is_inductors_default(chosen) else str(cvlens_home() / COMPILE_CACHE_FOLDER)


def _is_inductors_default(folder: str) -> bool:
    """Importing inductor writes its default (a temporary folder) into the variable: that is no user's choice."""
    if "torch._inductor" not in sys.modules:  # inductor has not run: the value is the user's (and torch stays unloaded)
        return False
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    return os.path.abspath(folder) == os.path.abspath(default_cache_dir())


def use_compile_cache_dir() -> str:
    """Point inductor's caches at :func:`compile_cache_dir` (inductor reads the variable at each compile); returns it."""
    from cvcore.storage import StorageError, describe_os_error

    folder = compile_cache_dir()
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"Cannot create the compile cache folder {folder}: {describe_os_error(exc)}.") from exc
    os.environ[COMPILE_CACHE_ENV_VAR] = folder
    return folder
