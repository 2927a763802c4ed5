"""Pieces every page shares: the sidebar, the model and photo caches, per-session budgets, error display.

Memory is bounded in bytes (:mod:`cvcore.memory`), configurable by environment variables:

- trained models, one instance per process shared by every session (:func:`cached_model`,
  ``$CVLENS_MODEL_CACHE_MB``): callers must never mutate one (no ``.train()``, no
  ``requires_grad_``, no leftover hooks); cvcore's inference and attribution code respects that;
- decoded photos, shared by every session that uploads the same bytes (:func:`decoded_photo`,
  ``$CVLENS_PHOTO_CACHE_MB``); entries nobody used for ten minutes are dropped;
- results computed from the same inputs (photo bytes, model and weights, method, target,
  settings, runtime mode), shared by every session (:func:`shared_result`,
  ``$CVLENS_SHARED_RESULTS_MB``), least recently used first: a reload or a second visitor
  shows them without running a model; they are read-only for everyone;
- each session's results and kept uploads (:func:`session_cache`, ``$CVLENS_SESSION_MB``),
  oldest first; they go with the session when it closes.

The defaults keep a classroom server with nine sessions within 4 GB. A background thread
(:func:`start_memory_janitor`) hands memory that closed sessions freed back to the system.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import platform
import re
import sys
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

import streamlit as st

import cvcore
from cvcore.device import ENV_VAR
from cvcore.errors import CvlensError, InvalidInputError
from cvcore.memory import MB, BoundedCache, ByteLedger, budget_from_env, prefer_returning_memory, return_freed_memory
from cvcore.versions import package_version
from dashboard import state
from dashboard.runtime_controls import render_mode_control

if TYPE_CHECKING:
    from torch import nn


def render_sidebar() -> None:
    with st.sidebar:
        st.caption(
            f"cvlens {cvcore.__version__} · torch {package_version('torch')} · "
            f"torchvision {package_version('torchvision')} · Python {platform.python_version()}"
        )
        st.caption("Device: " + device_description())
    render_mode_control()


def device_description() -> str:
    """The device models run on. Pages that run no model (Models, Compare) do not load torch, which
    takes seconds, only to print this: until a model runs the line says what will be used."""
    if "torch" not in sys.modules:
        chosen = os.environ.get(ENV_VAR)
        if chosen:
            return f"{chosen} (from ${ENV_VAR})"
        return "CUDA if available, else CPU (checked when a model first runs)"
    from cvcore.device import describe_device

    return describe_device()


MODEL_BUDGET_ENV, MODEL_BUDGET_MB = "CVLENS_MODEL_CACHE_MB", 1536  # every page default together needs ~1 GB
PHOTO_BUDGET_ENV, PHOTO_BUDGET_MB = "CVLENS_PHOTO_CACHE_MB", 128  # ~8 full-size (2048 px) decoded photos
SESSION_BUDGET_ENV, SESSION_BUDGET_MB = "CVLENS_SESSION_MB", 160  # ~4 full-size segmentation results and their uploads
SHARED_BUDGET_ENV, SHARED_BUDGET_MB = "CVLENS_SHARED_RESULTS_MB", 256  # results every session can reuse
PHOTO_IDLE_S = 600  # decoded photos nobody looked at for this long are dropped (their sessions have closed)
JANITOR_INTERVAL_S = 30


@functools.cache
def model_cache() -> BoundedCache:
    return BoundedCache(budget_from_env(MODEL_BUDGET_ENV, MODEL_BUDGET_MB))


@functools.cache
def photo_cache() -> BoundedCache:
    return BoundedCache(budget_from_env(PHOTO_BUDGET_ENV, PHOTO_BUDGET_MB))


_shared_guards: dict[tuple, threading.Lock] = {}  # key -> held while one session computes it
_shared_guards_lock = threading.Lock()


@functools.cache
def shared_results() -> BoundedCache:
    return BoundedCache(budget_from_env(SHARED_BUDGET_ENV, SHARED_BUDGET_MB))


def weights_fingerprint(name: str) -> str:
    """What identifies a model's weights in a result's key: its sha256 (a re-imported user model is a new model)."""
    from cvcore.registry import get_spec

    return get_spec(name, metadata_only=True).weights.sha256 or ""


def shared_result(key: tuple, compute, keep=lambda value: True):
    """The result under ``key`` computed once for every session (concurrent askers wait for the first one).

    ``key`` must name every input the result depends on: the photo's full sha256, the model
    and :func:`weights_fingerprint`, method, target, settings and runtime mode. The value is
    shared, so nobody may modify it. Errors raised by ``compute`` are not kept (the next ask
    tries again); a value ``keep`` refuses (e.g. one eager answered while compiling) is
    returned but not shared. Waiting for another session's computation is interruptible.
    """
    cache = shared_results()
    found = cache.get(key)
    if found is not None:
        return found
    with _shared_guards_lock:
        guard = _shared_guards.setdefault(key, threading.Lock())
    note, started = None, time.monotonic()
    while not guard.acquire(timeout=1.0):  # another session computes it: wait, with a Streamlit call each second
        note = note or st.empty()  # (so that this session's run can still be stopped by a click, as in model_slot)
        note.caption(f"Another session is computing the same result ({time.monotonic() - started:.0f} s)…")
    try:
        if note is not None:
            note.empty()
        found = cache.get(key)
        if found is not None:
            return found
        value = compute()
        if keep(value):
            cache.put(key, value)
        return value
    finally:
        guard.release()
        with _shared_guards_lock:
            if _shared_guards.get(key) is guard:
                del _shared_guards[key]  # a session still waiting on it takes it; a newcomer makes a new one


def cached_model(name: str) -> nn.Module:
    """One trained model per process, loaded once even when several sessions ask at the same time.

    Raises cvcore's WeightsMissingError when absent, and InvalidInputError for a model larger
    than the whole model budget (it would be loaded again for every use).
    """
    from cvcore.weights import load_model, model_memory_bytes

    cache = model_cache()
    # Keyed by the weights' sha256 too: a user's model re-imported under the same name is a new model.
    key = (name, weights_fingerprint(name))
    if key in cache:
        return cache[key]
    needed = model_memory_bytes(name)
    if needed and needed > cache.budget_bytes:
        raise InvalidInputError(
            f"{name} needs about {needed / MB:,.0f} MB, more than this server's model budget of "
            f"{cache.budget_bytes / MB:,.0f} MB (${MODEL_BUDGET_ENV})."
        )
    with st.spinner("Loading trained weights…"):
        return cache.get_or_compute(key, lambda: load_model(name))


def _clear_models_and_their_results() -> None:
    model_cache().clear()
    shared_results().clear()


# Tests: a random-init model, and what it computed, must not outlive its test.
cached_model.clear = _clear_models_and_their_results


MODEL_SLOTS_ENV = "CVLENS_MODEL_SLOTS"


@functools.cache
def model_slots() -> threading.BoundedSemaphore:
    """How many model runs the server does at once: ``$CVLENS_MODEL_SLOTS``, else half the CPU cores (at least 1)."""
    text = os.environ.get(MODEL_SLOTS_ENV, "").strip()
    slots = int(text) if text.isdigit() and int(text) > 0 else max(1, (os.cpu_count() or 2) // 2)
    return threading.BoundedSemaphore(slots)


@contextmanager
def model_slot():
    """Hold one of the server's model slots while a model runs; when all are taken, wait (and say so).

    Each run already uses every core (torch's threads), so running more at once only makes
    them all slower, and the Python threads of many runs starve the event loop that serves
    every page, upload and health check (the GIL): eight Saliency runs at once delayed the
    health endpoint past 5 s. Waiting is interruptible: the spinner's updates let Streamlit
    stop the run when the user changes something.
    """
    slots = model_slots()
    note = None
    if not slots.acquire(blocking=False):
        started = time.monotonic()
        note = st.empty()
        while not slots.acquire(timeout=1.0):  # a Streamlit call each second: the run can be stopped while it waits
            note.caption(f"Waiting for the server: other sessions' models are running ({time.monotonic() - started:.0f} s)…")
    try:  # from here the slot is held: released whatever happens, even a stop raised by the next Streamlit call
        if note is not None:
            note.empty()
        yield
    finally:
        slots.release()


def decoded_photo(data: bytes):
    """``cvcore.images.decode_image(data)``, decoded once per process for the same bytes (the result is shared: never modify it).

    Raises ImageDecodeError for files that are not images (nothing is kept for them).
    """
    from cvcore.images import decode_image

    digest = hashlib.sha256(data).hexdigest()

    def decode():
        start = time.perf_counter()
        decoded = decode_image(data)
        return decoded, 1e3 * (time.perf_counter() - start)

    return photo_cache().get_or_compute(digest, decode)


def session_cache(key: str) -> BoundedCache:
    """This session's cache under ``key``; every such cache shares the session's byte budget (oldest entries go first)."""
    ledger = st.session_state.get(state.SESSION_LEDGER)
    if not isinstance(ledger, ByteLedger):
        ledger = st.session_state[state.SESSION_LEDGER] = ByteLedger(budget_from_env(SESSION_BUDGET_ENV, SESSION_BUDGET_MB))
    cache = st.session_state.get(key)
    if not isinstance(cache, BoundedCache) or cache.ledger is not ledger:
        cache = st.session_state[key] = BoundedCache(ledger=ledger)
    return cache


# The media file manager's pseudo-session holding each session's previous-run files (see keep_previous_run_files).
PREVIOUS_RUNS_SESSION = "cvlens:previous-runs"
_media_lock = threading.Lock()
_media_protected: set[int] = set()


def keep_previous_run_files(manager=None) -> bool:
    """Keep each session's images and download callables of its previous run until its new run has finished.

    Streamlit forgets a session's files when its run *starts* and deletes whatever no session
    references when *any* session's run ends. With one user that is the same session's run; with
    a classroom, other sessions' runs end all the time, so while one session computes (seconds
    under load) the files its browser still shows are deleted: an image refetched then is a 404
    ("Missing file") and a click on a download button still on screen finds its callable gone
    ("MediaFileStorageError: Deferred file ... not found"). Here a run's start copies the
    session's references into a pseudo-session, which Streamlit's own collection honours, and
    the session's next run end (or its close) drops the copy. Uses the media file manager's
    internals, pinned with Streamlit in requirements.txt; tests/dashboard/test_common.py checks
    it on the real manager. Returns False when there is no runtime (bare mode).
    """
    from streamlit import runtime
    from streamlit.runtime import media_file_manager as mfm
    from streamlit.runtime import scriptrunner

    if manager is None:
        if not runtime.exists():
            return False
        manager = runtime.get_instance().media_file_mgr
    with _media_lock:
        if id(manager) in _media_protected:
            return True
        _media_protected.add(id(manager))
    clear_refs, remove_orphans = manager.clear_session_refs, manager.remove_orphaned_files

    def drop_copy(session_id: str) -> None:  # callers hold manager._lock
        kept = manager._files_by_session_and_coord.get(PREVIOUS_RUNS_SESSION, {})
        for coordinates in [c for c in kept if c.startswith(f"{session_id}|")]:
            del kept[coordinates]

    def clear_session_refs(session_id: str | None = None) -> None:
        starting_run = session_id is None  # Streamlit's own call at the start of a run names no session
        session_id = session_id or mfm._get_session_id()
        with manager._lock:
            drop_copy(session_id)
            if starting_run:
                current = manager._files_by_session_and_coord.get(session_id, {})
                kept = manager._files_by_session_and_coord[PREVIOUS_RUNS_SESSION]
                kept.update({f"{session_id}|{c}": file_id for c, file_id in current.items()})
        clear_refs(session_id)

    def remove_orphaned_files() -> None:
        ctx = scriptrunner.get_script_run_ctx()
        if ctx is not None:  # a run of this session has finished: its browser has the new files now
            with manager._lock:
                drop_copy(ctx.session_id)
        remove_orphans()

    manager.clear_session_refs = clear_session_refs
    manager.remove_orphaned_files = remove_orphaned_files
    return True


_janitor_lock = threading.Lock()
_janitor_started = False


def start_memory_janitor() -> None:
    """Once per process: glibc set to return large freed blocks, and a daemon thread that drops idle photos and trims the heaps."""
    global _janitor_started
    with _janitor_lock:
        if _janitor_started:
            return
        _janitor_started = True
    prefer_returning_memory()

    def sweep() -> None:
        while True:
            time.sleep(JANITOR_INTERVAL_S)
            try:
                photo_cache().drop_idle(PHOTO_IDLE_S)
                return_freed_memory()
            except Exception:  # the janitor must never die, nor take a page with it
                _log.exception("Memory janitor failed")

    threading.Thread(target=sweep, name="cvlens-memory-janitor", daemon=True).start()


# Characters Streamlit's Markdown gives a meaning (CommonMark, GFM tables and strikethrough, emoji
# shortcodes and colour directives, LaTeX): a backslash before each makes it literal.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~$:&^=])")
_CODE_SPAN = re.compile(r"(`[^`\n]+`)")


def as_text(value: object) -> str:
    """``value`` for a Streamlit element that renders Markdown, so that it is shown as the text it is.

    Every file name, layer name or error message that may carry what a user typed goes
    through here (captions, error boxes, labels): ``**bold**``, links and ``![image](url)``
    (which would load a remote URL) come out literally. Code spans are kept: Markdown shows
    their content literally anyway, and cvcore's messages put commands in them.
    """
    parts = _CODE_SPAN.split(str(value))
    return "".join(part if i % 2 else _MARKDOWN_SPECIAL.sub(r"\\\1", part) for i, part in enumerate(parts))


def model_title(name: str) -> str:
    """A model's name as pages show it, marked when it is one the user imported."""
    from cvcore.compare import YOURS_MARK
    from cvcore.registry import get_spec

    spec = get_spec(name, metadata_only=True)
    return f"{spec.display_name} {YOURS_MARK}" if spec.is_user else spec.display_name


# Tests set this so that a bug in a page fails them (AppTest's ``exception``) instead of becoming a message.
STRICT_ENV_VAR = "CVLENS_STRICT_PAGES"
_log = logging.getLogger("cvlens.dashboard")


def show_unexpected_error(exc: Exception) -> None:
    """A bug escaped a page: say so plainly, keep the traceback for the server log, keep the session's state."""
    if os.environ.get(STRICT_ENV_VAR, "").lower() not in ("", "0", "false", "no"):
        raise exc
    _log.error("Unexpected error on a cvlens page", exc_info=exc)
    what = f"{type(exc).__name__}: {exc}".replace("`", "'")  # in a code span: no markdown in the message
    st.error(
        f"Something unexpected went wrong on this page (`{what}`). "
        "Your choices, uploads and results are kept: change a setting or reload the page to try again. "
        "The full traceback is in the server's log; please report it with what you did.",
        icon="🐞",
    )


def show_text(element, text: str, **kwargs) -> None:
    """Show user-supplied or error text with a Streamlit element (``st.error``, ``st.caption``, ...) as plain text."""
    element(as_text(text), **kwargs)


@contextmanager
def user_errors():
    """Show cvcore's typed errors as a clear message instead of a traceback; the page keeps running."""
    try:
        yield
    except CvlensError as exc:
        st.error(as_text(exc))


def restore_choices(kept_key: str, defaults: dict) -> dict:
    """Put back the user's widget values before the widgets are drawn; returns the kept copy.

    Streamlit drops the state of widgets that a run does not draw, so a visit to another
    page would reset them. Pass the returned dict to :func:`remember_choices` after drawing.
    """
    kept = st.session_state.setdefault(kept_key, {})
    for key, default in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = kept.get(key, default)
    return kept


def starting_values(kept_key: str, defaults: dict) -> tuple[dict, dict]:
    """(kept copy, the value each widget is drawn with): its current value, else the kept copy, else the default.

    Give these to the widgets as their ``default``/``value``/``index``, and never write them into
    ``st.session_state`` (what :func:`restore_choices` does). A busy browser can draw a widget for
    the first time from a later run than the one that set its value in session state; that
    later message then carries only the widget's declared default, the browser shows it, and
    its next rerun sends it back, replacing the user's choice. Under eight concurrent sessions
    the Segmentation page lost its models and its opacity fell to 0 that way. A value given as
    the widget's default survives any redraw. Pass the kept copy to :func:`remember_choices`.
    """
    kept = st.session_state.setdefault(kept_key, {})
    start = {
        key: st.session_state[key] if key in st.session_state else kept.get(key, default) for key, default in defaults.items()
    }
    return kept, start


def remember_choices(kept: dict, keys) -> None:
    """Copy the widget values drawn in this run into the kept dict from :func:`restore_choices`."""
    kept.update({key: st.session_state[key] for key in keys if key in st.session_state})


def pick_sample(key: str, start: str | None = None) -> tuple[str, bytes]:
    """A bundled photo (with its credit line) chosen in a selectbox, drawn at ``start``: (file name, bytes)."""
    from cvcore.samples import list_samples

    samples = {s.file: s for s in list_samples()}
    files = list(samples)
    index = files.index(start) if start in samples else 0
    chosen = st.selectbox("Sample photo", files, index=index, key=key, format_func=lambda f: samples[f].title)
    st.caption(samples[chosen].credit)
    return chosen, samples[chosen].path.read_bytes()
