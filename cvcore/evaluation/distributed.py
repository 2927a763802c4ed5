"""The same evaluation on a Ray cluster: Ray Data shards the image list, actors holding the model score the shards.

A shard is a range ``[start, stop)`` of the (limited) dataset's images. ``ray.data.from_items``
holds one row per shard, one block each; ``map_batches`` hands them to a pool of
:class:`ShardScorer` actors, each of which loads the model once on its node (by name: the
node's own catalogue, weights and cvlens home) and scores its shards with the local path's
functions: :func:`~cvcore.evaluation.classification.predict_top_k` (a classification shard
is whole batches starting on a batch boundary, so every image meets the same batch as in a
local run) or :func:`~cvcore.evaluation.segmentation.score_images` (the shard's confusion
matrix and each image's counts). The driver puts the per-image numbers back in the
dataset's order, sums the shards' confusion matrices and builds the result with the local
path's summarising code, so metrics, intervals and paired tests are the local run's.

The data folder must be at the same path on every node (a shared file system). A user
error on a node (missing weights, an unreadable image) comes back as data and is raised
here with its own type and message. Ray is imported only through :mod:`cvcore.distributed`.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable

import numpy as np

from cvcore.errors import CvlensError, InvalidInputError
from cvcore.evaluation.bootstrap import BootstrapSettings
from cvcore.evaluation.classification import (
    DEFAULT_BATCH_SIZE,
    Progress,
    classification_result,
    predict_top_k,
    prepare_classification,
)
from cvcore.evaluation.datasets import ClassificationDataset, SegmentationDataset
from cvcore.evaluation.results import Evaluation
from cvcore.evaluation.segmentation import PixelCounts, check_segmenter, score_images, segmentation_result
from cvcore.registry import ModelSpec

SHARDS_PER_WORKER = 4  # a few shards each, so a slow node does not hold the last quarter of the run
MAX_SHARD_IMAGES = 512  # and progress moves at least every 512 images
COUNT_COLUMNS = ("true_positives", "truth_pixels", "predicted_pixels")

Loader = Callable[[ModelSpec, "str | None"], object]  # (spec, device) -> the model, in eval mode, on device


def load_catalogue_model(spec: ModelSpec, device: str | None):
    """The model with its trained weights from this node's catalogue and cvlens home (:func:`cvcore.weights.load_model`)."""
    from cvcore.weights import load_model

    return load_model(spec, device=device)


def ray_evaluate(
    spec: ModelSpec,
    dataset: ClassificationDataset | SegmentationDataset,
    *,
    address: str = "auto",
    batch_size: int = DEFAULT_BATCH_SIZE,
    limit: int | None = None,
    bootstrap: BootstrapSettings = BootstrapSettings(),
    progress: Progress | None = None,
    device: str | None = None,
    threads: int = 1,
    workers: int | None = None,
    loader: Loader = load_catalogue_model,
) -> Evaluation:
    """:func:`cvcore.evaluation.evaluate` of ``spec`` on ``dataset``, scored by Ray actors; ``progress(done, total)`` per shard.

    ``device``: where the actors run the model (default: a GPU each if the cluster has GPUs,
    else CPU); ``threads``: torch threads (and Ray CPUs) per CPU actor; ``workers``: actors
    (default: one per GPU, or the cluster's CPUs // ``threads``, less one for Ray Data and
    the driver); ``loader(spec, device)`` builds the model on a node (a picklable function).
    """
    from cvcore.distributed import ray_data, ray_session

    segmentation = isinstance(dataset, SegmentationDataset)
    if segmentation:
        check_segmenter(spec, dataset)
        dataset, top_k, unit = dataset.limited(limit), 0, 1
    else:
        dataset, batch_size, top_k = prepare_classification(spec, dataset, batch_size=batch_size, limit=limit)
        unit = batch_size
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InvalidInputError(f"Torch threads per Ray worker must be a positive integer; got {threads!r}.")
    n = len(dataset.samples)
    started = time.perf_counter()
    with ray_session(address) as ray:
        resources = ray.cluster_resources()
        gpu = _uses_gpu(device, resources)
        pool = workers or _default_workers(resources, gpu, threads)
        _check_fits(pool, resources, gpu, threads)
        shards = shard_ranges(n, unit, pool)
        pool = min(pool, len(shards))
        scorer = dict(
            model_name=spec.name, dataset=dataset, batch_size=batch_size, top_k=top_k,
            padded_images=max(stop - start for start, stop in shards), device="cuda" if gpu else device,
            threads=threads, loader=loader,
        )  # fmt: skip
        data = ray_data()
        scored = data.from_items([{"start": a, "stop": b} for a, b in shards], override_num_blocks=len(shards)).map_batches(
            ShardScorer, fn_constructor_kwargs=scorer, batch_size=1, batch_format="numpy",
            compute=data.ActorPoolStrategy(size=pool), num_cpus=1 if gpu else threads, num_gpus=1 if gpu else 0,
        )  # fmt: skip
        rows = _collect(scored, n, progress)
    devices = sorted({str(row["device"]) for row in rows})
    each = "" if gpu else f", {threads} torch thread{'s' if threads > 1 else ''} each"
    note = f"Scored on Ray: {len(shards)} shards of up to {scorer['padded_images']} images, {pool} worker{'s' if pool > 1 else ''}{each}."
    common = dict(device=" / ".join(devices), started=started, notes=(note,))
    if segmentation:
        counts = _pixel_counts(rows, n, len(dataset.class_names))
        device_type = "cuda" if any(str(row["device_type"]) == "cuda" for row in rows) else "cpu"
        return segmentation_result(spec, dataset, counts, bootstrap=bootstrap, device_type=device_type, **common)
    top = np.empty((n, top_k), dtype=np.int64)
    for row in rows:
        start, stop = int(row["start"]), int(row["stop"])
        top[start:stop] = row["top"][: stop - start]
    return classification_result(spec, dataset, top, batch_size=batch_size, bootstrap=bootstrap, **common)


def shard_ranges(n: int, unit: int, workers: int) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges covering ``range(n)``, each a whole number of ``unit``-image batches (the last may be short).

    About :data:`SHARDS_PER_WORKER` per worker, at most :data:`MAX_SHARD_IMAGES` images (rounded up to a batch).
    """
    batches = math.ceil(n / unit)
    wanted = max(workers * SHARDS_PER_WORKER, math.ceil(n / MAX_SHARD_IMAGES))
    size = max(1, math.ceil(batches / wanted)) * unit
    return [(start, min(start + size, n)) for start in range(0, n, size)]


class ShardScorer:
    """A Ray Data actor: the model loaded once, scoring batches of shards ``{"start": (b,), "stop": (b,)}``.

    Every output row has the same columns and shapes (per-image arrays padded to
    ``padded_images`` rows); a :class:`~cvcore.errors.CvlensError`, raised while loading or
    scoring, fills ``error``/``error_type`` instead of ending the actor with a Ray traceback.
    """

    def __init__(self, *, model_name, dataset, batch_size, top_k, padded_images, device, threads, loader):
        import torch

        from cvcore.device import describe_device, model_device
        from cvcore.registry import get_spec

        torch.set_num_threads(threads)
        self.dataset, self.batch_size, self.top_k, self.padded = dataset, batch_size, top_k, padded_images
        self.segmentation = isinstance(dataset, SegmentationDataset)
        self.error: CvlensError | None = None
        self.device, self.device_type = "", ""
        try:
            self.spec = get_spec(model_name)
            self.model = loader(self.spec, device)
            where = model_device(self.model)
            self.device, self.device_type = describe_device(where), where.type
        except CvlensError as exc:  # reported with every shard: a constructor cannot return it
            self.error = exc

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = [self._score(int(start), int(stop)) for start, stop in zip(batch["start"], batch["stop"])]
        return {key: np.stack([row[key] for row in rows]) for key in rows[0]}

    def _score(self, start: int, stop: int) -> dict[str, np.ndarray]:
        row = {"start": np.int64(start), "stop": np.int64(stop), **self._empty()}
        error = self.error
        if error is None:
            try:
                row.update(self._counts(start, stop))
            except CvlensError as exc:
                error = exc
        kind = type(error)
        row["device"], row["device_type"] = np.str_(self.device), np.str_(self.device_type)
        row["error"] = np.str_("" if error is None else str(error))
        row["error_type"] = np.str_("" if error is None else f"{kind.__module__}:{kind.__qualname__}")
        return row

    def _empty(self) -> dict[str, np.ndarray]:
        if self.segmentation:
            k = len(self.dataset.class_names)
            return {"confusion": np.zeros((k, k), np.int64), **{c: np.zeros((self.padded, k), np.int64) for c in COUNT_COLUMNS}}
        return {"top": np.zeros((self.padded, self.top_k), np.int64)}

    def _counts(self, start: int, stop: int) -> dict[str, np.ndarray]:
        m = stop - start
        if self.segmentation:
            counts = score_images(self.model, self.spec, self.dataset, range(start, stop))
            row = self._empty()
            row["confusion"] = counts.confusion
            for column in COUNT_COLUMNS:
                row[column][:m] = getattr(counts, column)
            return row
        samples = self.dataset.samples[start:stop]
        row = self._empty()
        row["top"][:m] = predict_top_k(self.model, self.spec, samples, self.batch_size, self.top_k, None)
        return row


def _collect(scored, n: int, progress: Progress | None) -> list[dict]:
    """Every shard's row, as they finish; the first shard's user error is raised as itself."""
    rows, done = [], 0
    for row in scored.iter_rows():
        if str(row["error"]):
            raise _remote_error(str(row["error_type"]), str(row["error"]))
        rows.append(row)
        done += int(row["stop"]) - int(row["start"])
        if progress:
            progress(done, n)
    return rows


def _remote_error(error_type: str, message: str) -> CvlensError:
    """The node's error as an instance of its own class (its custom ``__init__`` skipped), else a plain CvlensError."""
    module, _, name = error_type.partition(":")
    try:
        kind = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        kind = CvlensError
    if not (isinstance(kind, type) and issubclass(kind, CvlensError)):
        kind = CvlensError
    error = kind.__new__(kind)
    error.args = (message,)
    return error


def _pixel_counts(rows: list[dict], n: int, k: int) -> PixelCounts:
    confusion = np.zeros((k, k), dtype=np.int64)
    per_image = {column: np.zeros((n, k), dtype=np.int64) for column in COUNT_COLUMNS}
    for row in rows:
        start, stop = int(row["start"]), int(row["stop"])
        confusion += row["confusion"]
        for column in COUNT_COLUMNS:
            per_image[column][start:stop] = row[column][: stop - start]
    return PixelCounts(confusion, **per_image)


def _uses_gpu(device: str | None, resources: dict) -> bool:
    gpus = int(resources.get("GPU", 0))
    if device is not None and device.startswith("cuda"):
        if not gpus:
            raise InvalidInputError(f"--device {device} was asked for, but the Ray cluster has no GPU.")
        return True
    return device is None and gpus > 0


def _default_workers(resources: dict, gpu: bool, threads: int) -> int:
    if gpu:
        return int(resources["GPU"])
    return max(1, int(resources.get("CPU", 0)) // threads - 1)


def _check_fits(workers: int, resources: dict, gpu: bool, threads: int) -> None:
    """Refuse a pool the cluster cannot place (Ray Data would wait for its actors for ever)."""
    cpus, gpus = int(resources.get("CPU", 0)), int(resources.get("GPU", 0))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidInputError(f"Ray workers must be a positive integer; got {workers!r}.")
    need_cpus = workers * (1 if gpu else threads)
    if need_cpus > cpus or (gpu and workers > gpus):
        have = f"{cpus} CPUs" + (f" and {gpus} GPUs" if gpu else "")
        want = f"{workers} workers of {'1 GPU and 1 CPU' if gpu else f'{threads} CPUs'}"
        raise InvalidInputError(f"The Ray cluster has {have}: it cannot place {want}.")
