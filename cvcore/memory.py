"""Byte budgets: how much memory what we keep holds, caches bounded by it, and giving freed memory back.

A shared classroom server keeps three kinds of things: trained models (shared by every
session), decoded photos (shared: the same upload decodes once), and each session's
results. Counting entries does not bound memory (one full-size segmentation result is
~30 MB, a ViT-H is 2.5 GB), so each is bounded in bytes:

- :func:`nbytes` estimates what an object holds (arrays, tensors, Pillow images, bytes,
  and what containers, dataclasses and closures refer to), counting shared buffers once;
- :class:`BoundedCache` is a thread-safe LRU mapping that evicts its least recently used
  entries when a new one would exceed its budget, and computes a missing entry once even
  when several threads ask at the same time (:meth:`BoundedCache.get_or_compute`);
- :class:`ByteLedger` is one budget shared by several caches (a session's segmentation
  results, saliency maps and uploads): adding past it evicts the oldest entries wherever
  they are.

:func:`return_freed_memory` and :func:`prefer_returning_memory` make freed memory leave the
process: glibc keeps freed blocks in its heaps (one per thread that allocated), so without
them a server's memory stays at its peak after every session has closed.

No Streamlit here, and no torch import: pages, the CLI and benchmarks use the same pieces.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import gc
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any

from cvcore.errors import InvalidInputError

MB = 2**20


def budget_from_env(variable: str, default_mb: int) -> int:
    """A budget in bytes from ``$variable`` (in MB), else ``default_mb``; a bad value is a typed error naming it."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return default_mb * MB
    try:
        value = float(text)
    except ValueError:
        raise InvalidInputError(f"${variable} must be a number of megabytes, got {text!r}.") from None
    if value <= 0:
        raise InvalidInputError(f"${variable} must be a positive number of megabytes, got {text!r}.")
    return int(value * MB)


# --- how much an object holds -------------------------------------------------------------------

# Pillow stores most modes in 4 bytes per pixel (RGB is padded to RGBX); these are the exceptions.
_PIL_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2, "LA": 4, "PA": 4}
_OPAQUE = (type, type(sys), type(len))  # classes, modules, builtins: shared by everyone, not held by the object


def nbytes(obj: Any) -> int:
    """Bytes of memory ``obj`` holds: its buffers and everything it refers to, each buffer counted once.

    Counts numpy arrays (their base buffer), torch tensors (their storage), Pillow images
    (their pixels), bytes, strings, and walks containers, dataclasses, objects' attributes
    and closures (a lazily computed value keeps its inputs in one). Modules (a model shared
    by every session) are counted by their parameters and buffers; classes, modules and
    functions' globals are not counted. An estimate of what the object keeps alive, not of
    Python's bookkeeping around it.
    """
    return _Sizer().size(obj)


class _Sizer:
    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.buffers: set[int] = set()

    def size(self, obj: Any) -> int:
        if obj is None or isinstance(obj, (bool, int, float, complex)) or isinstance(obj, _OPAQUE):
            return 0
        if id(obj) in self.seen:
            return 0
        self.seen.add(id(obj))
        special = self._special(obj)
        if special is not None:
            return special
        if isinstance(obj, (str, bytes, bytearray)):
            return len(obj)
        if isinstance(obj, memoryview):
            return self._buffer(obj.obj, obj.nbytes)
        if isinstance(obj, Mapping):
            return sum(self.size(k) + self.size(v) for k, v in list(obj.items()))
        if isinstance(obj, (list, tuple, set, frozenset)):
            return sum(self.size(item) for item in list(obj))
        if callable(obj) and hasattr(obj, "__closure__"):
            return sum(self.size(cell.cell_contents) for cell in obj.__closure__ or () if _filled(cell))
        return self._attributes(obj)

    def _special(self, obj: Any) -> int | None:
        module = type(obj).__module__
        if module == "numpy" and hasattr(obj, "nbytes") and hasattr(obj, "base"):
            base = obj
            while getattr(base, "base", None) is not None and hasattr(base.base, "nbytes"):
                base = base.base
            return self._buffer(base, int(base.nbytes))
        if module.startswith("torch") and hasattr(obj, "untyped_storage"):
            storage = obj.untyped_storage()
            return self._buffer_key(storage.data_ptr(), storage.nbytes()) if storage.device.type != "meta" else 0
        if hasattr(obj, "named_parameters") and hasattr(obj, "buffers") and hasattr(obj, "state_dict"):  # an nn.Module
            return sum(self.size(t) for t in (*obj.parameters(), *obj.buffers()))
        if module.startswith("PIL.") and hasattr(obj, "size") and hasattr(obj, "mode") and hasattr(obj, "getbands"):
            width, height = obj.size
            return width * height * _PIL_BYTES_PER_PIXEL.get(obj.mode, 4)
        return None

    def _buffer(self, owner: Any, size: int) -> int:
        return self._buffer_key(id(owner), size)

    def _buffer_key(self, key: int, size: int) -> int:
        if key in self.buffers:
            return 0
        self.buffers.add(key)
        return int(size)

    def _attributes(self, obj: Any) -> int:
        if dataclasses.is_dataclass(obj):
            values = [getattr(obj, f.name, None) for f in dataclasses.fields(obj)]
        else:
            values = list(getattr(obj, "__dict__", {}).values())
        for slot in getattr(type(obj), "__slots__", ()):
            if isinstance(slot, str) and hasattr(obj, slot):
                values.append(getattr(obj, slot))
        return sum(self.size(v) for v in values)


def _filled(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018 (an empty cell raises)
        return True
    except ValueError:
        return False


# --- caches bounded in bytes -----------------------------------------------------------------------


class ByteLedger:
    """One byte budget shared by several :class:`BoundedCache` objects.

    Entries are charged in the order they were added or last used; when a new entry would
    pass the budget, the least recently used ones go first, whichever cache holds them.
    """

    def __init__(self, budget_bytes: int):
        if budget_bytes <= 0:
            raise InvalidInputError(f"A byte budget must be positive, got {budget_bytes}.")
        self.budget_bytes = int(budget_bytes)
        self._entries: OrderedDict[tuple[int, Hashable], tuple[BoundedCache, int]] = OrderedDict()
        self._lock = threading.RLock()
        self.evictions = 0

    @property
    def used_bytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self._entries.values())

    def _charge(self, cache: BoundedCache, key: Hashable, size: int) -> None:
        with self._lock:
            self._entries.pop((id(cache), key), None)
            self._entries[(id(cache), key)] = (cache, size)
            used = sum(s for _, s in self._entries.values())
            while used > self.budget_bytes and len(self._entries) > 1:
                (cache_id, old_key), (owner, old_size) = next(iter(self._entries.items()))
                if (cache_id, old_key) == (id(cache), key):
                    break
                del self._entries[(cache_id, old_key)]
                owner._drop(old_key)
                used -= old_size
                self.evictions += 1

    def _touch(self, cache: BoundedCache, key: Hashable) -> None:
        with self._lock:
            if (id(cache), key) in self._entries:
                self._entries.move_to_end((id(cache), key))

    def _release(self, cache: BoundedCache, key: Hashable) -> None:
        with self._lock:
            self._entries.pop((id(cache), key), None)


class BoundedCache:
    """A thread-safe mapping whose values together hold at most a byte budget (least recently used evicted first).

    Give ``budget_bytes`` for a cache of its own, or ``ledger`` to share one budget with
    other caches. A value larger than the whole budget is not kept (:meth:`put` returns
    False): it is the caller's until it lets go of it. ``sizer`` measures values
    (default :func:`nbytes`).
    """

    def __init__(
        self,
        budget_bytes: int | None = None,
        *,
        ledger: ByteLedger | None = None,
        sizer: Callable[[Any], int] = nbytes,
    ):
        if (budget_bytes is None) == (ledger is None):
            raise InvalidInputError("Give a BoundedCache either its own budget_bytes or a shared ledger.")
        self.ledger = ledger or ByteLedger(budget_bytes)
        self._sizer = sizer
        self._values: OrderedDict[Hashable, Any] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self._used_at: dict[Hashable, float] = {}  # time.monotonic() of the last put or get
        self._lock = threading.RLock()
        self._computing: dict[Hashable, threading.Lock] = {}

    @property
    def budget_bytes(self) -> int:
        return self.ledger.budget_bytes

    @property
    def used_bytes(self) -> int:
        with self._lock:
            return sum(self._sizes.values())

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[Hashable]:
        with self._lock:
            return iter(list(self._values))

    def __getitem__(self, key: Hashable) -> Any:
        with self._lock:
            value = self._values[key]
            self._values.move_to_end(key)
            self._used_at[key] = time.monotonic()
        self.ledger._touch(self, key)
        return value

    def get(self, key: Hashable, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key: Hashable, value: Any) -> None:
        self.put(key, value)

    def put(self, key: Hashable, value: Any, size_bytes: int | None = None) -> bool:
        """Keep ``value`` under ``key`` (evicting what the budget needs); False if it alone exceeds the budget."""
        size = self._sizer(value) if size_bytes is None else int(size_bytes)
        if size > self.budget_bytes:
            self.pop(key, None)
            return False
        with self._lock:
            self._values.pop(key, None)
            self._values[key] = value
            self._sizes[key] = size
            self._used_at[key] = time.monotonic()
        self.ledger._charge(self, key, size)
        return True

    def pop(self, key: Hashable, default: Any = KeyError) -> Any:
        with self._lock:
            if key not in self._values:
                if default is KeyError:
                    raise KeyError(key)
                return default
            self._sizes.pop(key, None)
            self._used_at.pop(key, None)
            value = self._values.pop(key)
        self.ledger._release(self, key)
        return value

    def __delitem__(self, key: Hashable) -> None:
        self.pop(key)

    def clear(self) -> None:
        for key in list(self._values):
            self.pop(key, None)

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._values)

    def items(self) -> list[tuple[Hashable, Any]]:
        with self._lock:
            return list(self._values.items())

    def values(self) -> list[Any]:
        with self._lock:
            return list(self._values.values())

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value under ``key``, computing and keeping it if absent; concurrent callers for one key compute it once."""
        try:
            return self[key]
        except KeyError:
            pass
        with self._lock:
            guard = self._computing.setdefault(key, threading.Lock())
        with guard:
            try:
                return self[key]
            except KeyError:
                value = compute()
                self.put(key, value)
                return value
            finally:
                with self._lock:
                    self._computing.pop(key, None)

    def drop_idle(self, max_idle_s: float) -> int:
        """Remove the entries nobody has used for ``max_idle_s`` seconds (what closed sessions left); returns how many."""
        cutoff = time.monotonic() - max_idle_s
        with self._lock:
            idle = [key for key, used in self._used_at.items() if used < cutoff]
        for key in idle:
            self.pop(key, None)
        return len(idle)

    def _drop(self, key: Hashable) -> None:
        """Called by the ledger when it evicts ``key``."""
        with self._lock:
            self._values.pop(key, None)
            self._sizes.pop(key, None)
            self._used_at.pop(key, None)


# --- giving freed memory back to the system -----------------------------------------------------------

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters (malloc.h)


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


def prefer_returning_memory(*, mmap_threshold_bytes: int = 32 * MB, arenas: int = 2) -> bool:
    """Make glibc keep less freed memory, for a long-running, many-threaded server.

    ``arenas`` caps the per-thread heaps (glibc makes up to eight per core, one per thread
    that allocates: every Streamlit session runs in its own thread), each of which keeps what
    its thread freed. Allocations above ``mmap_threshold_bytes`` get their own mappings,
    returned to the system when freed; the value is glibc's own ceiling for its moving
    threshold, fixed from the start so that large blocks are never parked in a heap. A lower
    threshold returns more but maps and faults in every large tensor of every forward pass
    again (measured: LR-ASPP's forward up to 2x slower at 4 MB, no slower at 32 MB).
    :func:`return_freed_memory` returns the heaps' free pages in between. Call it once, early
    (the dashboard's entry point does). Returns False where it does not apply (not glibc).
    """
    libc = _glibc()
    if libc is None:
        return False
    libc.mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold_bytes))
    libc.mallopt(_M_TRIM_THRESHOLD, int(mmap_threshold_bytes))
    libc.mallopt(_M_ARENA_MAX, int(arenas))
    return True


def return_freed_memory() -> bool:
    """Collect garbage and hand the heaps' free pages back to the system (glibc ``malloc_trim``); False elsewhere."""
    gc.collect()
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def rss_bytes() -> int | None:
    """This process's resident memory now (Linux), else None."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
