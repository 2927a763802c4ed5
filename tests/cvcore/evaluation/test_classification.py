"""Classification evaluation against torchmetrics and scipy on generated folders; shuffled labels give chance."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch
from PIL import Image
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from cvcore.errors import ImageDecodeError, InvalidInputError
from cvcore.evaluation import BootstrapSettings, evaluate_classification, open_dataset
from cvcore.evaluation.datasets import open_labelled_folder
from cvcore.preprocess import transform_for
from cvcore.registry import get_spec
from cvcore.samples import get_sample
from tests.cvcore.evaluation.conftest import (
    CATEGORIES,
    ColourClassifier,
    class_indices,
    make_image_folder,
    make_labelled_folder,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("imagefolder")
    make_image_folder(root)
    return root


@pytest.fixture(scope="module")
def evaluation(folder, classifier_spec):
    model = ColourClassifier(classifier_spec, class_indices(classifier_spec)).eval()
    seen = []
    dataset = open_dataset(folder, classifier_spec)
    ev = evaluate_classification(
        model,
        classifier_spec,
        dataset,
        batch_size=5,
        bootstrap=BootstrapSettings(500, seed=3),
        progress=lambda d, n: seen.append((d, n)),
    )
    return ev, model, seen


def independent_logits(folder, files, spec, model) -> torch.Tensor:
    """The model on each image, opened with PIL directly (no cvlens decoding, no batching)."""
    transform = transform_for(spec)
    with torch.inference_mode():
        return torch.cat([model(transform(Image.open(folder / f).convert("RGB"))[None]) for f in files])


def test_folders_match_categories_by_name_and_wordnet_id(folder, classifier_spec):
    dataset = open_dataset(folder, classifier_spec)
    assert dataset.layout == "imagefolder"
    assert dataset.classes == dict(zip(["Great_White_Shark", "Tabby", "espresso", "goldfish", "n01440764", "tiger_cat"],
                                       [classifier_spec.categories.index(c) for c in ("great white shark", "tabby", "espresso", "goldfish", "tench", "tiger cat")]))  # fmt: skip
    assert "Imagenette" in dataset.matched_how  # the WordNet id came from torchvision's table
    assert list(dataset.unmatched) == ["not_a_class"] and dataset.skipped_images == 1
    assert len(dataset.categories_without_images) == 1000 - 6
    report = " ".join(dataset.report())
    assert "not_a_class" in report and "994 of the model's categories have no image" in report


def test_numbers_equal_torchmetrics(folder, classifier_spec, evaluation):
    ev, model, seen = evaluation
    assert seen[-1] == (48, 48) and [d for d, _ in seen] == [5, 10, 15, 20, 25, 30, 35, 40, 45, 48]
    logits = independent_logits(folder, ev.files, classifier_spec, model)
    targets = torch.from_numpy(ev.targets)
    k = len(classifier_spec.categories)
    top1 = MulticlassAccuracy(k, top_k=1, average="micro")(logits, targets).item()
    top5 = MulticlassAccuracy(k, top_k=5, average="micro")(logits, targets).item()
    assert ev.top1.value == pytest.approx(top1, abs=1e-6) and ev.top5.value == pytest.approx(top5, abs=1e-6)
    assert 0.5 < ev.top1.value < 0.95  # the mixed images make it non-trivial
    per_class = MulticlassAccuracy(k, average=None)(logits, targets).numpy()
    for c in ev.classes:
        assert c.accuracy == pytest.approx(per_class[c.index], abs=1e-6) and c.images == 8
    assert ev.mean_class_accuracy.value == pytest.approx(per_class[sorted(set(ev.targets.tolist()))].mean(), abs=1e-6)
    confusion = MulticlassConfusionMatrix(k)(logits, targets).numpy()
    np.testing.assert_array_equal(ev.confusion(), confusion)
    assert sorted(ev.confusion_entries()) == sorted(
        (int(i), int(j), int(confusion[i, j])) for i, j in zip(*np.nonzero(confusion))
    )


def test_intervals_equal_scipy_bootstrap(evaluation):
    ev, _, _ = evaluation
    settings = ev.protocol.bootstrap
    n = ev.images

    def scipy_ci(data, statistic, **kw):
        res = scipy.stats.bootstrap(
            data, statistic, n_resamples=settings.resamples, method="percentile", rng=np.random.default_rng(settings.seed),
            batch=settings.batch_size(n), **kw,
        )  # fmt: skip
        return res.confidence_interval.low, res.confidence_interval.high

    for estimate, correct in ((ev.top1, ev.correct_top1), (ev.top5, ev.correct_topk)):
        low, high = scipy_ci((correct.astype(float),), np.mean, axis=-1)
        assert (estimate.low, estimate.high) == pytest.approx((low, high), abs=1e-12)
        assert estimate.low < estimate.value < estimate.high

    def mean_class_accuracy(correct, targets):  # one redraw at a time, written out
        return np.mean([correct[targets == c].mean() for c in np.unique(targets)])

    low, high = scipy_ci((ev.correct_top1.astype(float), ev.targets), mean_class_accuracy, paired=True, vectorized=False)
    assert (ev.mean_class_accuracy.low, ev.mean_class_accuracy.high) == pytest.approx((low, high), abs=1e-12)


def test_same_seed_same_interval_other_seed_other_draws(folder, classifier_spec, evaluation):
    ev, model, _ = evaluation
    dataset = open_dataset(folder, classifier_spec)
    again = evaluate_classification(model, classifier_spec, dataset, bootstrap=BootstrapSettings(500, seed=3))
    other = evaluate_classification(model, classifier_spec, dataset, bootstrap=BootstrapSettings(500, seed=4))
    assert again.top1 == ev.top1
    assert other.top1.value == ev.top1.value and (other.top1.low, other.top1.high) != (ev.top1.low, ev.top1.high)
    none = evaluate_classification(model, classifier_spec, dataset, bootstrap=BootstrapSettings(0))
    assert none.top1.value == ev.top1.value and not none.top1.has_interval


def test_shuffled_labels_give_chance_accuracy(tmp_path, classifier_spec):
    model = ColourClassifier(classifier_spec, class_indices(classifier_spec)).eval()
    settings = BootstrapSettings(1000, seed=0)
    make_labelled_folder(tmp_path / "true", count=120, seed=1)
    true = evaluate_classification(
        model,
        classifier_spec,
        open_labelled_folder(tmp_path / "true", tmp_path / "true" / "labels.txt", classifier_spec.categories),
        bootstrap=settings,
    )
    assert true.top1.value == 1.0  # the model is reliable on these images
    make_labelled_folder(tmp_path / "shuffled", count=120, seed=1, shuffle=True)
    shuffled = evaluate_classification(
        model,
        classifier_spec,
        open_labelled_folder(tmp_path / "shuffled", tmp_path / "shuffled" / "labels.txt", classifier_spec.categories),
        bootstrap=settings,
    )
    chance = 1 / len(CATEGORIES)
    assert shuffled.top1.contains(chance) and shuffled.top1.high < 0.35
    # the same images, the same predictions: only the labels moved
    np.testing.assert_array_equal(true.top_predictions, shuffled.top_predictions)


def test_efficientnet_on_crops_of_the_samples_equals_torchmetrics(tmp_path):
    """A real model on real photos: crops of the bundled samples in folders named after ImageNet classes."""
    from cvcore.weights import load_model

    spec = get_spec("efficientnet_lite0")
    for folder, sample in (("tabby", "chelsea"), ("espresso", "coffee")):
        (tmp_path / folder).mkdir()
        photo = Image.open(get_sample(sample).path).convert("RGB")
        w, h = photo.size
        for i in range(3):
            photo.crop((i * w // 8, i * h // 10, i * w // 8 + w // 2, i * h // 10 + h // 2)).save(
                tmp_path / folder / f"{i}.jpg", quality=95
            )
    model = load_model("efficientnet_lite0")
    ev = evaluate_classification(model, spec, open_dataset(tmp_path, spec), bootstrap=BootstrapSettings(200))
    logits = independent_logits(tmp_path, ev.files, spec, model)
    targets = torch.from_numpy(ev.targets)
    assert ev.top1.value == pytest.approx(MulticlassAccuracy(1000, top_k=1, average="micro")(logits, targets).item(), abs=1e-6)
    assert ev.top5.value == pytest.approx(MulticlassAccuracy(1000, top_k=5, average="micro")(logits, targets).item(), abs=1e-6)
    espresso = next(c for c in ev.classes if c.name == "espresso")
    assert espresso.accuracy == 1.0  # the sample is recorded as ImageNet's "espresso"
    assert ev.top5.value >= 5 / 6  # the cat crops are a cat class among the top 5 (tabby, tiger cat, Egyptian cat)


def test_limit_takes_every_class_in_turn(folder, classifier_spec, evaluation):
    _, model, _ = evaluation
    ev = evaluate_classification(
        model, classifier_spec, open_dataset(folder, classifier_spec), limit=12, bootstrap=BootstrapSettings(0)
    )
    assert ev.images == 12 and ev.protocol.limit == 12
    assert sorted(np.bincount(ev.targets)[sorted(set(ev.targets.tolist()))].tolist()) == [2] * 6


def test_bad_inputs_are_one_line_errors(folder, classifier_spec, segmenter_spec, tmp_path, evaluation):
    _, model, _ = evaluation
    dataset = open_dataset(folder, classifier_spec)
    with pytest.raises(InvalidInputError, match="batch size"):
        evaluate_classification(model, classifier_spec, dataset, batch_size=10_000)
    with pytest.raises(InvalidInputError, match="segmentation model"):
        evaluate_classification(model, segmenter_spec, dataset)
    with pytest.raises(InvalidInputError, match="resamples"):
        BootstrapSettings(10**6)
    with pytest.raises(InvalidInputError, match="outputs of shape"):
        evaluate_classification(
            torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 10)),
            classifier_spec,
            dataset,
            bootstrap=BootstrapSettings(0),
        )
    (tmp_path / "tabby").mkdir()
    (tmp_path / "tabby" / "broken.jpg").write_bytes(b"not an image")
    with pytest.raises(ImageDecodeError, match="tabby/broken.jpg"):
        evaluate_classification(model, classifier_spec, open_dataset(tmp_path, classifier_spec))
