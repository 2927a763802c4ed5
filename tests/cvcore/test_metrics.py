"""Metrics against hand-computed values and against torchmetrics (to 1e-6) on random label maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix, MulticlassJaccardIndex

from cvcore.errors import CvlensError, InvalidInputError
from cvcore.metrics import IGNORE_INDEX, NoLabelledPixelsError, confusion_matrix, metrics_from_confusion, segmentation_metrics


def random_maps(seed: int, num_classes: int, shape=(37, 53), ignore_share=0.1, agreement=0.6):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, num_classes, shape)
    prediction = np.where(rng.random(shape) < agreement, truth, rng.integers(0, num_classes, shape))
    truth[rng.random(shape) < ignore_share] = IGNORE_INDEX
    return truth, prediction


def test_hand_computed_example():
    truth = np.array([[0, 0, 1, 1], [2, 2, 255, 255]])
    prediction = np.array([[0, 1, 1, 1], [2, 0, 3, 0]])
    m = segmentation_metrics(truth, prediction, 4, ["bg", "a", "b", "never"])
    # counted: 6 pixels, 4 correct. IoU bg = 1/3 (tp 1; truth {0,1}, pred {0,5}); a = 2/3; b = 1/2; "never" in neither.
    assert m.pixels == 6 and m.pixel_accuracy == pytest.approx(4 / 6)
    assert m.per_class_iou["bg"] == pytest.approx(1 / 3)
    assert m.per_class_iou["a"] == pytest.approx(2 / 3)
    assert m.per_class_iou["b"] == pytest.approx(1 / 2)
    assert np.isnan(m.per_class_iou["never"])
    assert m.mean_iou == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert m.present_classes == ["bg", "a", "b"]
    assert [r["class"] for r in m.rows()] == ["bg", "a", "b"]


def test_class_only_predicted_counts_in_the_mean_with_iou_zero():
    m = segmentation_metrics(np.array([0, 0, 0]), np.array([0, 0, 1]), 3)
    assert m.per_class_iou["1"] == 0.0 and np.isnan(m.per_class_iou["2"])
    assert m.mean_iou == pytest.approx((2 / 3 + 0) / 2)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("num_classes", [2, 21])
def test_matches_torchmetrics(seed, num_classes):
    truth, prediction = random_maps(seed, num_classes)
    ours = segmentation_metrics(truth, prediction, num_classes)
    t, p = torch.from_numpy(truth), torch.from_numpy(prediction)

    cm = MulticlassConfusionMatrix(num_classes, ignore_index=IGNORE_INDEX)(p, t).numpy()
    np.testing.assert_array_equal(ours.confusion, cm)

    accuracy = MulticlassAccuracy(num_classes, average="micro", ignore_index=IGNORE_INDEX)(p, t).item()
    assert abs(ours.pixel_accuracy - accuracy) < 1e-6

    iou = MulticlassJaccardIndex(num_classes, average="none", ignore_index=IGNORE_INDEX)(p, t).double().numpy()
    present = ~np.isnan(np.array(list(ours.per_class_iou.values())))
    np.testing.assert_allclose(np.array(list(ours.per_class_iou.values()))[present], iou[present], atol=1e-6)
    assert abs(ours.mean_iou - iou[present].mean()) < 1e-6


def test_matches_torchmetrics_when_classes_are_missing():
    # Only classes 0..4 of 21 occur: torchmetrics' macro average counts the absent ones as 0, ours leaves them out.
    truth, prediction = random_maps(7, 5)
    ours = segmentation_metrics(truth, prediction, 21)
    iou = (
        MulticlassJaccardIndex(21, average="none", ignore_index=IGNORE_INDEX)(
            torch.from_numpy(prediction), torch.from_numpy(truth)
        )
        .double()
        .numpy()
    )
    assert ours.present_classes == [str(i) for i in range(5)]
    assert abs(ours.mean_iou - iou[:5].mean()) < 1e-6


def test_confusion_matrices_add_up_over_images():
    maps = [random_maps(s, 21) for s in range(3)]
    summed = sum(confusion_matrix(t, p, 21) for t, p in maps)
    stacked = segmentation_metrics(np.stack([t for t, _ in maps]), np.stack([p for _, p in maps]), 21)
    np.testing.assert_array_equal(summed, stacked.confusion)
    assert metrics_from_confusion(summed).mean_iou == pytest.approx(stacked.mean_iou)


def test_bad_inputs_are_typed_errors():
    with pytest.raises(InvalidInputError, match="shape"):
        confusion_matrix(np.zeros((2, 2)), np.zeros((2, 3)), 3)
    with pytest.raises(InvalidInputError, match="label 7"):
        confusion_matrix(np.zeros(4), np.array([0, 1, 7, 0]), 3)
    with pytest.raises(InvalidInputError, match="class names"):
        metrics_from_confusion(np.eye(3), ["a", "b"])


def test_an_all_ignore_mask_says_no_labelled_pixels_instead_of_nan():
    with pytest.raises(NoLabelledPixelsError, match="No labelled pixels"):
        segmentation_metrics(np.full((2, 2), IGNORE_INDEX), np.zeros((2, 2)), 3)
    with pytest.raises(NoLabelledPixelsError):
        metrics_from_confusion(np.zeros((3, 3), dtype=np.int64))
    assert issubclass(NoLabelledPixelsError, CvlensError)


@pytest.mark.parametrize(
    ("truth", "prediction", "message"),
    [
        (np.array([[0.0, 1.7]]), np.array([[0, 1]]), "ground truth contains 1.7 at position 0, 1"),  # was truncated to 1
        (np.array([[0, 1]]), np.array([[np.nan, 1.0]]), "prediction contains NaN at position 0, 0"),  # was label -2**63
        (np.array([[0, 1]]), np.array([[np.inf, 1.0]]), "prediction contains inf"),
        (np.array(["0", "1"]), np.array([0, 1]), "integer class labels"),
    ],
)
def test_non_integer_labels_are_refused_not_truncated(truth, prediction, message):
    with pytest.raises(InvalidInputError, match=message):
        segmentation_metrics(truth, prediction, 3)


def test_whole_number_floats_are_labels():
    # A float map that holds only whole numbers (a mask read as float) scores like its integer twin.
    truth, prediction = random_maps(3, 21)
    as_float = segmentation_metrics(truth.astype(np.float32), prediction.astype(np.float64), 21)
    np.testing.assert_array_equal(as_float.confusion, segmentation_metrics(truth, prediction, 21).confusion)
