"""VOC-style ground truth: masks from palette/RGB PNGs, folders, evaluation against per-image scoring."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from cvcore.errors import ImageDecodeError, InvalidInputError
from cvcore.metrics import confusion_matrix, metrics_from_confusion
from cvcore.registry import build_model
from cvcore.segmentation import segment, voc_palette
from cvcore.voc import evaluate, fit_mask, open_voc, read_label_mask, score

LRASPP = "lraspp_mobilenet_v3_large"


def palette_png(labels: np.ndarray) -> bytes:
    image = Image.fromarray(labels.astype(np.uint8), mode="P")
    image.putpalette(voc_palette(256).reshape(-1).tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def rgb_png(labels: np.ndarray) -> bytes:
    colours = voc_palette(256)[labels]
    colours[labels == 255] = (224, 224, 192)
    buffer = io.BytesIO()
    Image.fromarray(colours).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def labels() -> np.ndarray:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 21, size=(24, 32))
    labels[0, :] = 255  # a VOC border
    return labels


def test_palette_and_rgb_masks_read_the_same(labels):
    assert np.array_equal(read_label_mask(palette_png(labels), 21), labels)
    assert np.array_equal(read_label_mask(rgb_png(labels), 21), labels)


def test_masks_with_foreign_labels_or_colours_are_refused(labels):
    labels[3, 3] = 40
    with pytest.raises(InvalidInputError, match="label 40"):
        read_label_mask(palette_png(labels), 21)
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[1, 1] = (1, 2, 3)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    with pytest.raises(InvalidInputError, match=r"\(1, 2, 3\)"):
        read_label_mask(buffer.getvalue(), 21)
    with pytest.raises(ImageDecodeError):
        read_label_mask(b"not an image", 21)


def test_fit_mask_resizes_same_aspect_and_refuses_others(labels):
    assert fit_mask(labels, (16, 12)).shape == (12, 16)
    with pytest.raises(InvalidInputError, match="do not belong together"):
        fit_mask(labels, (30, 30))


def make_voc(root, count=2, size=(40, 30)) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    (root / "JPEGImages").mkdir(parents=True)
    (root / "SegmentationClass").mkdir()
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    masks = []
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, size=(size[1], size[0], 3), dtype=np.uint8)).save(
            root / "JPEGImages" / f"img{i}.jpg"
        )
        mask = rng.integers(0, 3, size=(size[1], size[0]))
        (root / "SegmentationClass" / f"img{i}.png").write_bytes(palette_png(mask))
        masks.append(mask)
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("".join(f"img{i}\n" for i in range(count)))
    return masks


def test_open_voc_names_what_is_missing(tmp_path):
    with pytest.raises(InvalidInputError, match="JPEGImages"):
        open_voc(tmp_path)
    make_voc(tmp_path / "voc")
    assert open_voc(tmp_path / "voc").ids == ("img0", "img1")


def test_evaluate_accumulates_one_confusion_over_the_folder(tmp_path):
    masks = make_voc(tmp_path)
    torch.manual_seed(0)
    model = build_model(LRASPP)
    seen = []
    ev = evaluate(LRASPP, tmp_path, model=model, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 2), (2, 2)] and ev.images == 2
    confusion = sum(
        confusion_matrix(
            mask, segment(Image.open(tmp_path / "JPEGImages" / f"img{i}.jpg").convert("RGB"), LRASPP, model=model).labels, 21
        )
        for i, mask in enumerate(masks)
    )
    expected = metrics_from_confusion(confusion)
    assert ev.metrics.pixels == 2 * 40 * 30
    assert ev.metrics.pixel_accuracy == pytest.approx(expected.pixel_accuracy)
    assert ev.metrics.mean_iou == pytest.approx(expected.mean_iou, nan_ok=True)


def test_coarse_maps_cannot_be_scored_against_voc(tmp_path):
    make_voc(tmp_path)
    with pytest.raises(InvalidInputError, match="ImageNet"):
        evaluate("efficientnet_lite0", tmp_path)


def test_score_one_result(labels):
    torch.manual_seed(0)
    photo = Image.new("RGB", (32, 24), (120, 80, 40))
    result = segment(photo, LRASPP, model=build_model(LRASPP))
    metrics = score(result, labels)
    assert metrics.pixels == (labels != 255).sum()
    assert 0 <= metrics.pixel_accuracy <= 1
