"""Ray evaluation (cvcore.evaluation.distributed) on a local Ray gives the local evaluation's result, integers exactly.

One local Ray for the module (``ray.init(num_cpus=2)``: one scoring actor, a CPU left for
Ray Data and the driver), shut down afterwards; every test has a hard timeout so that a hang
fails instead of blocking CI. Local runs use one torch thread, as each Ray actor does. Each
Ray run costs ~10 s (a fresh actor imports torch), so the default suite has two (the CLI on a
real CNN, a segmentation); the actor's error reporting is tested in-process, and on Ray in the slow suite.
"""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest
import torch

from cvcore.errors import ImageDecodeError, WeightsMissingError
from cvcore.evaluation import BootstrapSettings, evaluate, load_evaluation, open_dataset
from cvcore.evaluation.classification import predict_top_k
from cvcore.evaluation.distributed import ShardScorer, _collect, ray_evaluate, shard_ranges
from tests.cvcore.evaluation.conftest import (
    ColourClassifier,
    ColourSegmenter,
    class_indices,
    colour_classifier_loader,
    colour_segmenter_loader,
    make_image_folder,
    make_mask_folder,
)

pytestmark = pytest.mark.timeout(240)
RAY_ONLY = ("seconds", "date_utc", "notes")  # what a Ray run's protocol may differ in


@contextlib.contextmanager
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def without_timing(data: dict) -> dict:
    """A result's JSON without what a Ray run may differ in: its duration, date and the note saying it ran on Ray."""
    protocol = {k: v for k, v in data["protocol"].items() if k not in RAY_ONLY}
    return {**{k: v for k, v in data.items() if k != "seconds"}, "protocol": protocol}


def test_shards_are_whole_batches_covering_every_image():
    for n, unit, workers in ((18, 4, 1), (5, 1, 1), (1000, 32, 3), (7, 8, 2), (100_000, 1, 1)):
        shards = shard_ranges(n, unit, workers)
        assert [i for a, b in shards for i in range(a, b)] == list(range(n))
        assert all(a % unit == 0 for a, _ in shards) and max(b - a for a, b in shards) <= max(512, unit)


@pytest.mark.slow
def test_ray_classification_equals_local(local_ray, tmp_path, classifier_spec):
    make_image_folder(tmp_path, per_class=3)
    dataset = open_dataset(tmp_path, classifier_spec)
    settings = BootstrapSettings(200, seed=4)
    with one_torch_thread():
        local = evaluate(ColourClassifier(classifier_spec, class_indices(classifier_spec)).eval(), classifier_spec, dataset,
                         batch_size=4, bootstrap=settings)  # fmt: skip
    seen = []
    remote = ray_evaluate(
        classifier_spec, dataset, batch_size=4, bootstrap=settings, loader=colour_classifier_loader,
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert np.array_equal(remote.top_predictions, local.top_predictions) and np.array_equal(remote.targets, local.targets)
    assert remote.files == local.files and remote.classes == local.classes
    assert (remote.top1, remote.top5, remote.mean_class_accuracy) == (local.top1, local.top5, local.mean_class_accuracy)
    assert 0 < local.top1.value < 1 and local.top1.low < local.top1.high  # not a trivial result
    assert without_timing(remote.to_dict()) == without_timing(local.to_dict())
    # 18 images in batches of 4, one worker: shards of 8, 8 and 2 images, the last padded on the worker
    assert remote.protocol.notes[-1].startswith("Scored on Ray: 3 shards of up to 8 images, 1 worker, 1 torch thread")
    assert [total for _, total in seen] == [18] * 3 and seen[-1] == (18, 18)  # shards finish in any order


def test_ray_segmentation_sums_shard_confusions_to_the_local_one(local_ray, tmp_path, segmenter_spec):
    make_mask_folder(tmp_path, count=5)
    dataset = open_dataset(tmp_path, segmenter_spec)
    settings = BootstrapSettings(200, seed=5)
    with one_torch_thread():
        local = evaluate(ColourSegmenter(segmenter_spec).eval(), segmenter_spec, dataset, bootstrap=settings)
    remote = ray_evaluate(segmenter_spec, dataset, bootstrap=settings, loader=colour_segmenter_loader)
    assert np.array_equal(remote.confusion, local.confusion) and remote.confusion.sum() > 0
    for counts in ("true_positives", "truth_pixels", "predicted_pixels"):
        assert np.array_equal(getattr(remote, counts), getattr(local, counts))
    assert (remote.pixel_accuracy, remote.mean_iou) == (local.pixel_accuracy, local.mean_iou)
    assert without_timing(remote.to_dict()) == without_timing(local.to_dict())
    assert "3 shards" in remote.protocol.notes[-1]


def broken_folder(root, spec):
    make_image_folder(root, per_class=1, extra_folder=False)
    (root / "espresso" / "broken.png").write_bytes(b"not a png")
    return open_dataset(root, spec)


def test_the_scorer_returns_a_user_error_as_data_and_the_driver_raises_it_as_itself(tmp_path, classifier_spec):
    """In-process (no Ray): the actor's rows carry the error; the driver re-raises it with its type and message."""
    dataset = broken_folder(tmp_path, classifier_spec)
    with pytest.raises(ImageDecodeError) as local:
        evaluate(ColourClassifier(classifier_spec, class_indices(classifier_spec)), classifier_spec, dataset)
    scorer = ShardScorer(
        model_name=classifier_spec.name, dataset=dataset, batch_size=4, top_k=5, padded_images=4, device="cpu", threads=1,
        loader=colour_classifier_loader,
    )  # fmt: skip
    assert dataset.samples[3].relative == "espresso/broken.png"
    rows = scorer({"start": np.array([0, 4]), "stop": np.array([4, 7])})  # the second shard is 3 images, padded to 4
    assert rows["top"].shape == (2, 4, 5) and list(rows["error"]) == [str(local.value), ""]
    assert np.array_equal(rows["top"][1][:3], local_top5(classifier_spec, dataset, 4, 7)) and not rows["top"][1][3].any()
    with pytest.raises(ImageDecodeError) as remote:
        _collect(_Rows(rows), 7, None)
    assert str(remote.value) == str(local.value) and str(local.value).startswith("espresso/broken.png: ")

    unloadable = ShardScorer(
        model_name="resnet18", dataset=dataset, batch_size=4, top_k=5, padded_images=4, device="cpu", threads=1,
        loader=_missing_weights,
    )  # fmt: skip
    row = unloadable({"start": np.array([0]), "stop": np.array([4])})
    assert row["error_type"][0] == "cvcore.errors:WeightsMissingError" and row["error"][0] == "no weights here"


class _Rows:
    """What ``Dataset.iter_rows`` gives, from one batch of scorer output."""

    def __init__(self, batch):
        self.batch = batch

    def iter_rows(self):
        for i in range(len(self.batch["start"])):
            yield {key: values[i] for key, values in self.batch.items()}


def _missing_weights(spec, device):
    raise WeightsMissingError("no weights here")


def local_top5(spec, dataset, start, stop):
    model = ColourClassifier(spec, class_indices(spec)).eval()
    return predict_top_k(model, spec, dataset.samples[start:stop], 4, 5, None)


@pytest.mark.slow
def test_a_user_error_on_a_worker_is_raised_here_as_itself(local_ray, tmp_path, classifier_spec):
    dataset = broken_folder(tmp_path, classifier_spec)
    with pytest.raises(ImageDecodeError) as local:
        evaluate(ColourClassifier(classifier_spec, class_indices(classifier_spec)), classifier_spec, dataset)
    with pytest.raises(ImageDecodeError) as remote:
        ray_evaluate(classifier_spec, dataset, loader=colour_classifier_loader)
    assert str(remote.value) == str(local.value) and str(local.value).startswith("espresso/broken.png: ")


def test_cli_evaluate_ray_gives_the_local_numbers(local_ray, tmp_path, monkeypatch, capsys):
    """The CLI end to end: the actor loads EfficientNet-Lite0 (bundled weights) by name; stored per-image numbers agree."""
    from cvcore.cli import main

    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "home"))
    make_image_folder(tmp_path / "data", per_class=1)
    args = ["evaluate", "-m", "efficientnet_lite0", "--data", str(tmp_path / "data"), "--batch-size", "4", "--save",
            "--format", "json", "--bootstrap", "100"]  # fmt: skip
    outputs = []
    for extra in ([], ["--ray", "auto"]):
        with one_torch_thread():
            code = main([*args, *extra])
        out, err = capsys.readouterr()
        assert code == 0, err
        outputs.append(json.loads(out))
    local, remote = outputs
    stored = [load_evaluation(data.pop("saved")[0]) for data in (local, remote)]
    assert without_timing(remote) == without_timing(local) and local["images"] == 6
    assert np.array_equal(stored[0].top_predictions, stored[1].top_predictions)
