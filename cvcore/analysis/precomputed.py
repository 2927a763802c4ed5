"""The catalogue's analysis at default input sizes, computed once and stored in ``assets/``.

Pages read these files so they never wait for fvcore. ``python -m cvcore analyze --all
--write`` regenerates them; a test recomputes a representative subset and compares.
"""

from __future__ import annotations

import functools
import gzip
import json
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from cvcore.formatting import to_jsonable, versions_line
from cvcore.samples import ASSETS_DIR
from cvcore.storage import RESTORE_ANALYSIS, atomic_write, atomic_writer, read_shipped_json

SUMMARY_PATH = ASSETS_DIR / "analysis.json"
LAYERS_PATH = ASSETS_DIR / "analysis_layers.json.gz"


def complexity_from_dict(d: dict):
    from cvcore.analysis.results import Complexity, OperatorCount

    ops = tuple(
        OperatorCount(**{**o, "fvcore_ops": tuple(o["fvcore_ops"]), "torch_ops": tuple(o["torch_ops"])}) for o in d["by_operator"]
    )
    return Complexity(**{**d, "input_size": tuple(d["input_size"]), "by_operator": ops})


def _layer_from_dict(d: dict):
    from cvcore.analysis.rows import LayerRow

    tuples = ("output_shape", "kernel", "stride", "dilation", "receptive_field", "jump")
    return LayerRow(**{k: (tuple(v) if k in tuples and v is not None else v) for k, v in d.items()})


@functools.cache
def _summary(path: Path = SUMMARY_PATH) -> dict:
    return read_shipped_json(path, {"models": {}}, restore=RESTORE_ANALYSIS)


@functools.cache
def _layers(path: Path = LAYERS_PATH) -> dict:
    return read_shipped_json(path, {"models": {}}, restore=RESTORE_ANALYSIS)


def load_precomputed() -> dict:
    """name -> :class:`Complexity` at the model's default input size (empty if never generated)."""
    return {name: complexity_from_dict(d) for name, d in _summary()["models"].items()}


def precomputed_meta() -> dict:
    return {k: v for k, v in _summary().items() if k != "models"}


def load_precomputed_layers(name: str) -> list | None:
    rows = _layers()["models"].get(name)
    return [_layer_from_dict(r) for r in rows] if rows is not None else None


def precompute_catalogue(
    names: Iterable[str] | None = None,
    device=None,
    progress: Callable[[str, int, int], None] | None = None,
    summary_path: Path = SUMMARY_PATH,
    layers_path: Path = LAYERS_PATH,
    only_missing: bool = False,
    graphs_path: Path | None = None,
) -> dict[str, str]:
    """Analyse catalogue models (all by default) and merge the results into the stored files.

    The models of :data:`~cvcore.analysis.graph_model.STORED_GRAPHS` get their data-flow graph
    stored too (``graphs_path``, default ``graphs.json.gz`` beside ``summary_path``), built from the new analysis.

    A model that cannot be analysed is skipped, not fatal; returns name -> error message.
    """
    from cvcore.analysis import analyze
    from cvcore.errors import AnalysisError
    from cvcore.registry import list_models

    names = list(names) if names is not None else [s.name for s in list_models()]
    summary = read_shipped_json(summary_path, {"models": {}}, restore=RESTORE_ANALYSIS)  # damaged: regenerated whole
    layers = read_shipped_json(layers_path, {"models": {}}, restore=RESTORE_ANALYSIS)
    if only_missing:
        names = [n for n in names if n not in summary["models"] or n not in layers["models"]]
    failures: dict[str, str] = {}
    for i, name in enumerate(names):
        if progress:
            progress(name, i, len(names))
        start = time.perf_counter()
        try:
            result = analyze(name, device=device, per_layer=True)
        except AnalysisError as exc:
            failures[name] = str(exc)
            print(f"{name}: FAILED: {exc}", file=sys.stderr)
            continue
        summary["models"][name] = to_jsonable(result.complexity)
        layers["models"][name] = [to_jsonable(r) for r in result.layers]
        c = result.complexity
        elapsed = time.perf_counter() - start
        print(
            f"{name}: {c.gmacs:.3f} GMACs (papers' convention), {c.gmacs_all_ops:.3f} (all ops) in {elapsed:.1f} s",
            file=sys.stderr,
        )
        # Written after every model: a full run takes most of an hour on 2 cores.
        _write(summary, layers, summary_path, layers_path)
        _store_graph(name, result, graphs_path or summary_path.with_name("graphs.json.gz"))
    _summary.cache_clear()
    _layers.cache_clear()
    return failures


def _store_graph(name: str, result, graphs_path: Path) -> None:
    from cvcore.analysis.graph import catalogue_graph
    from cvcore.analysis.graph_model import STORED_GRAPHS, write_stored_graphs
    from cvcore.analysis.stages import Architecture
    from cvcore.registry import get_spec

    if name in STORED_GRAPHS:
        architecture = Architecture(result.complexity, tuple(result.layers), precomputed=True)
        write_stored_graphs({name: catalogue_graph(get_spec(name), architecture=architecture)}, graphs_path)


def _write(summary: dict, layers: dict, summary_path: Path, layers_path: Path) -> None:
    from cvcore.analysis.conventions import CONVENTIONS

    summary["generated_with"] = versions_line()
    summary["input_size"] = "each model's default input size (ModelSpec.input_size)"
    summary["conventions"] = CONVENTIONS
    summary["models"] = dict(sorted(summary["models"].items()))
    atomic_write(summary_path, json.dumps(summary, indent=1) + "\n")
    # mtime=0 keeps the gzip bytes reproducible, so regenerating unchanged data is no diff; the file
    # name in the gzip header stays the final one, not the temporary file's.
    with atomic_writer(layers_path) as handle, gzip.GzipFile(str(layers_path), "wb", fileobj=handle, mtime=0) as raw:
        raw.write(json.dumps({"models": dict(sorted(layers["models"].items()))}, separators=(",", ":")).encode())
