"""Paired comparison of two models on the same images: the bootstrap of the difference and McNemar against scipy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from cvcore.errors import InvalidInputError
from cvcore.evaluation import BootstrapSettings, compare_evaluations, evaluate_classification, evaluate_segmentation, open_dataset
from tests.cvcore.evaluation.conftest import (
    PROTOTYPES,
    ColourClassifier,
    ColourSegmenter,
    class_indices,
    make_image_folder,
    make_mask_folder,
)

SETTINGS = BootstrapSettings(800, seed=9)


def blurred(prototypes: np.ndarray, amount: float) -> np.ndarray:
    """Prototypes pulled towards grey: a worse model on the same images."""
    return (1 - amount) * prototypes + amount * 0.5


@pytest.fixture(scope="module")
def pair(tmp_path_factory, classifier_spec):
    root = tmp_path_factory.mktemp("pair")
    make_image_folder(root, per_class=10, seed=4, hard_share=0.4, extra_folder=False)
    dataset = open_dataset(root, classifier_spec)
    indices = class_indices(classifier_spec)
    a = evaluate_classification(ColourClassifier(classifier_spec, indices).eval(), classifier_spec, dataset, bootstrap=SETTINGS)
    worse = ColourClassifier(classifier_spec, indices, blurred(PROTOTYPES, 0.2)[[0, 1, 2, 3, 5, 4]]).eval()  # two swapped
    b = evaluate_classification(worse, classifier_spec, dataset, bootstrap=SETTINGS)
    return a, b


def test_paired_classification_difference_equals_scipy(pair):
    a, b = pair
    comparison = compare_evaluations(a, b)
    top1 = comparison.differences[0]
    assert top1.metric == "top1" and top1.a == a.top1.value and top1.b == b.top1.value
    assert top1.difference.value == pytest.approx(a.top1.value - b.top1.value)
    res = scipy.stats.bootstrap(
        (a.correct_top1.astype(float), b.correct_top1.astype(float)), lambda x, y, axis: x.mean(axis) - y.mean(axis),
        paired=True, n_resamples=SETTINGS.resamples, method="percentile", rng=np.random.default_rng(SETTINGS.seed),
    )  # fmt: skip
    assert (top1.difference.low, top1.difference.high) == pytest.approx(tuple(res.confidence_interval), abs=1e-12)
    # Pairing: the difference's interval is narrower than the two models' intervals side by side.
    assert top1.difference.half_width < a.top1.half_width + b.top1.half_width


def test_mcnemar_on_top1_equals_scipy_binomial_test(pair):
    a, b = pair
    top1 = compare_evaluations(a, b).differences[0]
    only_a = int((a.correct_top1 & ~b.correct_top1).sum())
    only_b = int((~a.correct_top1 & b.correct_top1).sum())
    assert (top1.mcnemar.only_a, top1.mcnemar.only_b) == (only_a, only_b) and only_a > only_b
    assert top1.mcnemar.p_value == pytest.approx(scipy.stats.binomtest(only_a, only_a + only_b, 0.5).pvalue, rel=1e-9)
    assert top1.significant == (top1.mcnemar.p_value < 0.05)


def test_a_model_against_itself_differs_by_nothing(pair):
    a, _ = pair
    comparison = compare_evaluations(a, a)
    for d in comparison.differences:
        assert d.difference.value == 0 and (d.difference.low, d.difference.high) == (0, 0)
        assert d.significant is False
    assert comparison.to_dict()["differences"][0]["mcnemar"] == {"only_a": 0, "only_b": 0, "p_value": 1.0}


def test_paired_segmentation_difference_equals_scipy(tmp_path, segmenter_spec):
    make_mask_folder(tmp_path, count=5, seed=3)
    dataset = open_dataset(tmp_path, segmenter_spec)
    a = evaluate_segmentation(ColourSegmenter(segmenter_spec).eval(), segmenter_spec, dataset, bootstrap=SETTINGS)
    swapped = ColourSegmenter(segmenter_spec, PROTOTYPES[[0, 1, 2, 4, 3, 5]]).eval()  # classes 4 and 5 confused
    b = evaluate_segmentation(swapped, segmenter_spec, dataset, bootstrap=SETTINGS)
    d = compare_evaluations(a, b).differences[1]
    assert d.metric == "mean_iou" and d.mcnemar is None and d.difference.value > 0.05

    def miou(tp, truth, predicted):  # from one redraw's summed counts
        union = truth + predicted - tp
        return np.mean(tp[union > 0] / union[union > 0])

    def statistic(indices):
        return miou(*(x[indices].sum(0) for x in (a.true_positives, a.truth_pixels, a.predicted_pixels))) - miou(
            *(x[indices].sum(0) for x in (b.true_positives, b.truth_pixels, b.predicted_pixels))
        )

    res = scipy.stats.bootstrap(
        (np.arange(5),),
        statistic,
        n_resamples=SETTINGS.resamples,
        method="percentile",
        rng=np.random.default_rng(SETTINGS.seed),
        vectorized=False,
    )
    assert d.difference.value == pytest.approx(a.mean_iou.value - b.mean_iou.value)
    assert (d.difference.low, d.difference.high) == pytest.approx(tuple(res.confidence_interval), abs=1e-12)


def test_different_images_cannot_be_paired(pair, tmp_path, classifier_spec):
    a, _ = pair
    make_image_folder(tmp_path, per_class=2, extra_folder=False)
    other = evaluate_classification(
        ColourClassifier(classifier_spec, class_indices(classifier_spec)).eval(),
        classifier_spec,
        open_dataset(tmp_path, classifier_spec),
        bootstrap=BootstrapSettings(0),
    )
    with pytest.raises(InvalidInputError, match="not evaluated on the same images"):
        compare_evaluations(a, other)
