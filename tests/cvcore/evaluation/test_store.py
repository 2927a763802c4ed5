"""Results to JSON and back, stored under the cvlens home atomically, listed per model; damaged files reported."""

from __future__ import annotations

import errno
import json
import os

import pytest

from cvcore.errors import InvalidInputError
from cvcore.evaluation import (
    BootstrapSettings,
    compare_evaluations,
    evaluate_classification,
    evaluate_segmentation,
    evaluated_models,
    evaluation_from_dict,
    list_evaluations,
    load_evaluation,
    open_dataset,
    save_evaluation,
)
from cvcore.evaluation.results import SCHEMA
from cvcore.storage import StorageError
from tests.cvcore.evaluation.conftest import ColourClassifier, ColourSegmenter, class_indices, make_image_folder, make_mask_folder


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def results(tmp_path_factory, classifier_spec, segmenter_spec):
    root = tmp_path_factory.mktemp("store")
    make_image_folder(root / "cls", per_class=3)
    make_mask_folder(root / "seg", count=3)
    classification = evaluate_classification(
        ColourClassifier(classifier_spec, class_indices(classifier_spec)).eval(), classifier_spec,
        open_dataset(root / "cls", classifier_spec), limit=10, bootstrap=BootstrapSettings(100, seed=2),
    )  # fmt: skip
    segmentation = evaluate_segmentation(
        ColourSegmenter(segmenter_spec).eval(),
        segmenter_spec,
        open_dataset(root / "seg", segmenter_spec),
        bootstrap=BootstrapSettings(100),
    )
    return classification, segmentation


def test_json_round_trip_keeps_everything(results):
    for ev in results:
        data = json.loads(json.dumps(ev.to_dict(), allow_nan=False))  # valid JSON: NaN became null
        back = evaluation_from_dict(data)
        assert type(back) is type(ev) and back.to_dict() == data
        assert back.headline() == ev.headline() and back.protocol == ev.protocol and back.model == ev.model
        assert back.files == ev.files
        # The per-image numbers are enough to redo the paired test from stored results.
        assert compare_evaluations(back, ev).differences[0].difference.value == 0


def test_protocol_records_how_the_numbers_were_made(results, classifier_spec, segmenter_spec):
    classification, segmentation = results
    p = classification.protocol
    assert p.images == 10 and p.limit == 10 and p.single_scale
    assert (p.resize_size, p.crop_size) == (classifier_spec.preprocessing.resize_size, classifier_spec.preprocessing.crop_size)
    assert p.device == "CPU" and p.precision == "fp32" and p.bootstrap == BootstrapSettings(100, seed=2)
    assert set(p.versions) >= {"cvlens", "torch", "torchvision", "numpy"} and p.date_utc.endswith("+00:00")
    assert p.dataset.layout == "imagefolder" and p.dataset.files == 6 * 3 + 1 and len(p.dataset.sha256) == 64
    assert classification.model.name == "resnet18" and classification.model.weights_ref == "ResNet18_Weights.IMAGENET1K_V1"
    assert classification.model.arch == (getattr(classifier_spec, "arch", None) or "resnet18")
    assert segmentation.protocol.crop_size is None and segmentation.protocol.dataset.files == 2 * 3
    data = segmentation.to_dict()
    assert data["schema"] == SCHEMA and data["task"] == "segmentation" and set(data["ci"]) == {"pixel_accuracy", "mean_iou"}
    assert data["per_class_iou"][segmenter_spec.categories[-1]] is None  # absent class: NaN in Python, null in JSON


def test_save_list_load(home, results):
    classification, segmentation = results
    first = save_evaluation(classification)
    second = save_evaluation(classification)
    save_evaluation(segmentation)
    assert first.parent == home / "evaluations" / "resnet18" and first != second
    stored = list_evaluations("resnet18")
    assert [s.path for s in stored] == [second, first]  # newest first
    assert all(s.error is None and s.evaluation.top1 == classification.top1 for s in stored)
    assert load_evaluation(first).to_dict() == classification.to_dict()
    assert evaluated_models() == ["lraspp_mobilenet_v3_large", "resnet18"]
    assert list_evaluations("never_evaluated") == []


def test_damaged_files_are_listed_with_their_error(home, results):
    path = save_evaluation(results[0])
    damaged = path.with_name("20000101T000000.000000Z.json")
    damaged.write_text('{"schema": "cvlens.evaluation/1", "task": "classification"')  # truncated
    foreign = path.with_name("19990101T000000.000000Z.json")
    foreign.write_text('{"hello": 1}')
    stored = list_evaluations(results[0].model.name)
    assert [s.path for s in stored] == [path, damaged, foreign]
    assert stored[1].evaluation is None and "damaged" in stored[1].error
    assert stored[2].evaluation is None and "Not a cvlens evaluation" in stored[2].error
    with pytest.raises(StorageError):
        load_evaluation(damaged)


def test_a_failed_write_leaves_nothing_half_written(home, results, monkeypatch):
    path = save_evaluation(results[0])
    before = sorted(p.name for p in path.parent.iterdir())

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(StorageError, match="the disk is full"):
        save_evaluation(results[0])
    assert sorted(p.name for p in path.parent.iterdir()) == before  # no partial file, no temporary left
    assert load_evaluation(path).top1 == results[0].top1


def test_any_model_name_gets_its_own_folder_inside_the_home(home, results):
    from dataclasses import replace

    for name in ("../escape", "..", ".hidden", "my resnet/18", "resnet50.IMAGENET1K_V2"):
        path = save_evaluation(replace(results[0], model=replace(results[0].model, name=name)))
        assert path.parent.parent == home / "evaluations"
        assert [s.evaluation.model.name for s in list_evaluations(name)] == [name]
    assert evaluated_models() == ["..", "../escape", ".hidden", "my resnet/18", "resnet50.IMAGENET1K_V2"]
    assert not (home / "escape").exists() and sorted(p.name for p in home.iterdir()) == ["evaluations"]
    for bad in ("", "x" * 300):
        with pytest.raises(InvalidInputError, match="cannot name a results folder"):
            save_evaluation(replace(results[0], model=replace(results[0].model, name=bad)))
