"""Segmentation evaluation (images/ + masks/, VOC) against torchmetrics; mIoU's interval against scipy over per-image confusions."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch
from PIL import Image
from torchmetrics.classification import MulticlassConfusionMatrix, MulticlassJaccardIndex

from cvcore.errors import InvalidInputError
from cvcore.evaluation import BootstrapSettings, evaluate_segmentation, open_dataset
from cvcore.registry import get_spec
from cvcore.segmentation import segment
from tests.cvcore.evaluation.conftest import ColourSegmenter, make_mask_folder, palette_mask

IGNORE = 255


@pytest.fixture(scope="module")
def mask_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("masks")
    masks = make_mask_folder(root, count=6)
    return root, masks


@pytest.fixture(scope="module")
def model(segmenter_spec):
    return ColourSegmenter(segmenter_spec).eval()


@pytest.fixture(scope="module")
def evaluation(mask_folder, segmenter_spec, model):
    root, _ = mask_folder
    dataset = open_dataset(root, segmenter_spec, classes=root / "classes.txt")
    return evaluate_segmentation(model, segmenter_spec, dataset, bootstrap=BootstrapSettings(400, seed=1))


@pytest.fixture(scope="module")
def independent(mask_folder, segmenter_spec, model, evaluation):
    root, masks = mask_folder
    return per_image_confusions(root, evaluation.files, masks, segmenter_spec, model)


def per_image_confusions(root, files, masks, spec, model) -> tuple[np.ndarray, list[torch.Tensor], list[torch.Tensor]]:
    """(n, K, K) confusion of each image by torchmetrics, from the model's labels on the photo opened with PIL."""
    k = len(spec.categories)
    predictions = [
        torch.from_numpy(segment(Image.open(root / f).convert("RGB"), spec, model=model).labels.astype(np.int64)) for f in files
    ]
    truths = [torch.from_numpy(m) for m in masks]
    confusions = np.stack([MulticlassConfusionMatrix(k, ignore_index=IGNORE)(p, t).numpy() for p, t in zip(predictions, truths)])
    return confusions, predictions, truths


def miou_of(confusion: np.ndarray) -> float:
    tp = np.diag(confusion).astype(float)
    union = confusion.sum(0) + confusion.sum(1) - tp
    return float(np.mean(tp[union > 0] / union[union > 0]))


def test_numbers_equal_torchmetrics(evaluation, independent):
    ev = evaluation
    assert ev.files == tuple(f"images/{i:03d}.png" for i in range(6)) and ev.class_names[3] == "class_3"
    confusions, predictions, truths = independent
    np.testing.assert_array_equal(ev.confusion, confusions.sum(0))
    np.testing.assert_array_equal(ev.true_positives, np.diagonal(confusions, axis1=1, axis2=2))
    truth, prediction = torch.cat([t.reshape(-1) for t in truths]), torch.cat([p.reshape(-1) for p in predictions])
    iou = MulticlassJaccardIndex(21, average="none", ignore_index=IGNORE)(prediction, truth).double().numpy()
    present = ev.confusion.sum(0) + ev.confusion.sum(1) > 0
    assert ev.mean_iou.value == pytest.approx(iou[present].mean(), abs=1e-6)
    kept = truth != IGNORE
    assert ev.pixel_accuracy.value == pytest.approx((prediction[kept] == truth[kept]).double().mean().item(), abs=1e-12)
    assert ev.pixels == int(kept.sum()) == 6 * 29 * 40  # the ignored top row is not scored
    assert 0.3 < ev.mean_iou.value < 0.95  # the blended blocks make it non-trivial


def test_miou_interval_equals_scipy_over_per_image_confusions(evaluation, independent):
    ev = evaluation
    confusions, _, _ = independent
    settings = ev.protocol.bootstrap

    def statistic(indices):  # one redraw of images: sum their confusion matrices, then IoU (dataset-level)
        summed = confusions[indices].sum(0)
        return miou_of(summed), np.trace(summed) / summed.sum()

    res = scipy.stats.bootstrap(
        (np.arange(ev.images),), statistic, n_resamples=settings.resamples, method="percentile",
        rng=np.random.default_rng(settings.seed), vectorized=False,
    )  # fmt: skip
    (miou_low, acc_low), (miou_high, acc_high) = res.confidence_interval
    assert (ev.mean_iou.low, ev.mean_iou.high) == pytest.approx((miou_low, miou_high), abs=1e-12)
    assert (ev.pixel_accuracy.low, ev.pixel_accuracy.high) == pytest.approx((acc_low, acc_high), abs=1e-12)
    assert ev.mean_iou.low < ev.mean_iou.value < ev.mean_iou.high
    # Dataset-level, not the mean of per-image mIoUs (which weighs a small image like a big one).
    assert ev.mean_iou.value == pytest.approx(miou_of(confusions.sum(0)))
    assert ev.mean_iou.value != pytest.approx(np.mean([miou_of(c) for c in confusions]))


def test_voc_folder_gives_the_same_numbers(mask_folder, segmenter_spec, model, evaluation, tmp_path):
    root, masks = mask_folder
    (tmp_path / "JPEGImages").mkdir()
    (tmp_path / "SegmentationClass").mkdir()
    (tmp_path / "ImageSets" / "Segmentation").mkdir(parents=True)
    for i, mask in enumerate(masks):
        Image.open(root / "images" / f"{i:03d}.png").save(tmp_path / "JPEGImages" / f"{i:03d}.png")
        palette_mask(mask).save(tmp_path / "SegmentationClass" / f"{i:03d}.png")
    (tmp_path / "ImageSets" / "Segmentation" / "val.txt").write_text("".join(f"{i:03d}\n" for i in range(len(masks))))
    dataset = open_dataset(tmp_path, segmenter_spec)
    assert dataset.layout == "voc" and dataset.class_names == segmenter_spec.categories
    ev = evaluate_segmentation(model, segmenter_spec, dataset, bootstrap=BootstrapSettings(400, seed=1))
    np.testing.assert_array_equal(ev.confusion, evaluation.confusion)
    assert ev.mean_iou == evaluation.mean_iou and ev.protocol.split == "val"
    assert ev.per_class_iou["aeroplane"] == pytest.approx(evaluation.per_class_iou["class_1"])


def test_ignore_index_is_configurable(tmp_path, segmenter_spec, model):
    masks = make_mask_folder(tmp_path, count=2)
    for i, mask in enumerate(masks):  # CamVid-style: void is 11 here, and 255 is not used
        mask = np.where(mask == 255, 11, mask)
        Image.fromarray(mask.astype(np.uint8), mode="L").save(tmp_path / "masks" / f"{i:03d}.png")
    ev = evaluate_segmentation(
        model, segmenter_spec, open_dataset(tmp_path, segmenter_spec, ignore_index=11), bootstrap=BootstrapSettings(0)
    )
    assert ev.ignore_index == 11 and ev.pixels == 2 * 29 * 40 and ev.confusion[11].sum() == 0


def test_bad_folders_are_one_line_errors(tmp_path, segmenter_spec, model):
    make_mask_folder(tmp_path / "a", count=2, num_classes=12)
    with pytest.raises(InvalidInputError, match="lists 12 classes but .* head has 21 outputs"):
        open_dataset(tmp_path / "a", segmenter_spec, classes=tmp_path / "a" / "classes.txt")

    make_mask_folder(tmp_path / "b", count=2)
    Image.new("L", (20, 15)).save(tmp_path / "b" / "masks" / "001.png")
    with pytest.raises(InvalidInputError, match=r"masks/001.png is 20x15 but its image images/001.png is 40x30"):
        evaluate_segmentation(model, segmenter_spec, open_dataset(tmp_path / "b", segmenter_spec))

    make_mask_folder(tmp_path / "c", count=2)
    Image.new("RGB", (40, 30)).save(tmp_path / "c" / "masks" / "000.png")
    with pytest.raises(InvalidInputError, match="single-channel"):
        evaluate_segmentation(model, segmenter_spec, open_dataset(tmp_path / "c", segmenter_spec))

    make_mask_folder(tmp_path / "d", count=2)
    Image.fromarray(np.full((30, 40), 40, dtype=np.uint8), mode="L").save(tmp_path / "d" / "masks" / "000.png")
    with pytest.raises(InvalidInputError, match="images/000.png: .*label 40"):
        evaluate_segmentation(model, segmenter_spec, open_dataset(tmp_path / "d", segmenter_spec))

    make_mask_folder(tmp_path / "e", count=2)
    (tmp_path / "e" / "masks" / "001.png").unlink()
    with pytest.raises(InvalidInputError, match="1 of 2 images have no mask"):
        open_dataset(tmp_path / "e", segmenter_spec)

    with pytest.raises(InvalidInputError, match="classification model"):
        open_dataset(tmp_path / "e", get_spec("resnet18"))
    with pytest.raises(InvalidInputError, match="no preprocessing recipe"):
        evaluate_segmentation(model, get_spec("fcn8s_vgg16"), open_dataset(tmp_path / "b", get_spec("fcn8s_vgg16")))
