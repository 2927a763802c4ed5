"""Segmentation on CPU with small inputs: the coarse map of a real classifier, segmenters with random init."""

import dataclasses
import io
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from cvcore.errors import InvalidInputError
from cvcore.images import decode_image
from cvcore.registry import build_model
from cvcore.samples import get_sample
from cvcore.segmentation import (
    COARSE_KIND,
    DEFAULT_MODELS,
    SEGMENTER_KIND,
    colorize,
    disagreement,
    disagreement_image,
    is_coarse,
    label_mask_png,
    legend,
    model_choices,
    overlay,
    segment,
    top_class,
    top_class_parallel,
    voc_palette,
    wipe,
)
from cvcore.weights import load_model

LRASPP = "lraspp_mobilenet_v3_large"
CAT_CLASSES = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}  # ImageNet 281-285


@pytest.fixture(scope="module")
def cat_photo() -> Image.Image:
    return decode_image(get_sample("chelsea").path).image


@pytest.fixture(scope="module")
def lite0():
    return load_model("efficientnet_lite0", device="cpu")


@pytest.fixture(scope="module")
def coarse_cat(cat_photo, lite0):
    return segment(cat_photo, "efficientnet_lite0", model=lite0, coarse_short_side=224)


@pytest.fixture(scope="module")
def lraspp_random():
    torch.manual_seed(0)
    return build_model(LRASPP)


@pytest.fixture(scope="module")
def small_photo(cat_photo) -> Image.Image:
    return cat_photo.resize((90, 60))


def test_coarse_map_of_the_cat_photo_is_mostly_cat(coarse_cat):
    assert coarse_cat.kind == COARSE_KIND and coarse_cat.is_coarse
    assert "not a trained segmenter" in coarse_cat.kind
    assert coarse_cat.classes[0].name in CAT_CLASSES
    cat_share = sum(c.share for c in coarse_cat.classes if c.name in CAT_CLASSES)
    assert cat_share > 0.5
    # EfficientNet-Lite has stride 32: a 224 px short side gives a 7-row grid.
    assert coarse_cat.output_grid[0] == 7


def test_result_has_the_photo_size_and_consistent_shares(coarse_cat, cat_photo):
    width, height = cat_photo.size
    assert coarse_cat.size == (width, height)
    assert coarse_cat.labels.shape == coarse_cat.confidence.shape == (height, width)
    assert sum(c.share for c in coarse_cat.classes) == pytest.approx(1.0)
    assert sum(c.pixels for c in coarse_cat.classes) == width * height
    shares = [c.share for c in coarse_cat.classes]
    assert shares == sorted(shares, reverse=True)
    assert 0 <= coarse_cat.confidence.min() and coarse_cat.confidence.max() <= 1
    assert all(0 < c.mean_confidence <= 1 for c in coarse_cat.classes)


def test_timings_are_measured_per_stage(coarse_cat):
    t = coarse_cat.timings_ms
    assert t.preprocess_ms > 0 and t.forward_ms > 0 and t.postprocess_ms > 0
    assert t.total_ms == pytest.approx(t.decode_ms + t.preprocess_ms + t.forward_ms + t.postprocess_ms)
    summary = coarse_cat.summary()
    assert {"model", "size", "classes", "timings_ms"} <= set(summary)
    assert set(summary["timings_ms"]) == {"decode_ms", "preprocess_ms", "forward_ms", "postprocess_ms", "total_ms"}


def test_segmenter_output_is_resized_back_to_the_photo(small_photo, lraspp_random):
    result = segment(small_photo, LRASPP, model=lraspp_random)
    assert result.kind == SEGMENTER_KIND and not result.is_coarse
    assert result.labels.shape == (60, 90)
    # The weights' own transform: short side to 520 px, aspect kept.
    assert result.input_size == (520, 780)
    assert len(result.categories) == 21 and result.categories[0] == "__background__"
    assert sum(c.share for c in result.classes) == pytest.approx(1.0)


def test_classifiers_other_than_the_coarse_family_are_refused(small_photo):
    with pytest.raises(InvalidInputError, match="cannot produce a label map"):
        segment(small_photo, "resnet18", model=torch.nn.Linear(1, 1))


def test_model_choices_and_defaults():
    choices = model_choices()
    assert set(DEFAULT_MODELS) <= set(choices)
    assert {"fcn_resnet50", "deeplabv3_resnet50", LRASPP, "efficientnet_lite0"} <= set(choices)
    assert "unet" not in choices and "resnet50" not in choices  # no trained weights / no coarse head
    assert is_coarse("efficientnet_lite0") and not is_coarse(LRASPP)


def test_voc_palette_matches_the_dataset():
    palette = voc_palette(21)
    # PASCAL VOC: background black, aeroplane (128,0,0), ... person (192,128,128), tvmonitor (0,64,128)
    assert palette[0].tolist() == [0, 0, 0] and palette[1].tolist() == [128, 0, 0]
    assert palette[15].tolist() == [192, 128, 128] and palette[20].tolist() == [0, 64, 128]
    assert len({tuple(c) for c in voc_palette(1000).tolist()}) == 1000  # ImageNet colours stay distinct


def test_legend_and_colours(coarse_cat):
    rows = legend(coarse_cat)
    assert rows[0]["class"] == coarse_cat.classes[0].name
    assert rows[0]["color"] == "#{:02x}{:02x}{:02x}".format(*coarse_cat.palette[coarse_cat.classes[0].index])
    assert sum(r["share_pct"] for r in rows) == pytest.approx(100)
    colours = colorize(coarse_cat)
    y, x = np.argwhere(coarse_cat.labels == coarse_cat.classes[0].index)[0]
    assert tuple(colours[y, x]) == coarse_cat.classes[0].color


def test_overlay_blends_with_opacity(coarse_cat, cat_photo):
    photo = np.asarray(cat_photo)
    assert np.array_equal(overlay(cat_photo, coarse_cat, 0.0), photo)
    assert np.array_equal(overlay(cat_photo, coarse_cat, 1.0), colorize(coarse_cat))
    half = overlay(cat_photo, coarse_cat, 0.5).astype(int)
    expected = (photo.astype(float) + colorize(coarse_cat)) / 2
    assert np.abs(half - expected).max() <= 1
    with pytest.raises(InvalidInputError):
        overlay(cat_photo, coarse_cat, 1.5)


def test_overlay_leaves_voc_background_uncoloured(small_photo, lraspp_random):
    labels = np.zeros((60, 90), dtype=np.uint16)
    labels[:10, :10] = 8  # cat
    result = dataclasses.replace(segment(small_photo, LRASPP, model=lraspp_random), labels=labels)
    blended = overlay(small_photo, result, 0.6)
    assert np.array_equal(blended[20:, 20:], np.asarray(small_photo)[20:, 20:])
    assert not np.array_equal(blended[:10, :10], np.asarray(small_photo)[:10, :10])


def test_results_are_read_only(coarse_cat):
    with pytest.raises(ValueError):
        coarse_cat.labels[0, 0] = 1


def test_top_class_matches_softmax_argmax():
    torch.manual_seed(0)
    logits = torch.randn(21, 40, 50)
    logits[:, 0, 0] = 1.0  # a tie: argmax takes the lowest index
    labels, confidence = top_class(logits.numpy())
    probabilities, expected = logits.softmax(0).max(0)
    assert np.array_equal(labels, expected.numpy()) and labels[0, 0] == 0
    np.testing.assert_allclose(confidence, probabilities.numpy(), atol=1e-6)


def test_banded_top_class_equals_the_single_pass():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((21, 301, 37)).astype(np.float32)  # bands of unequal height
    serial, banded = top_class(logits), top_class_parallel(logits)
    assert np.array_equal(serial[0], banded[0]) and np.array_equal(serial[1], banded[1])


def test_label_mask_png_round_trips(coarse_cat, small_photo, lraspp_random):
    imagenet = Image.open(io.BytesIO(label_mask_png(coarse_cat)))
    assert np.array_equal(np.asarray(imagenet).astype(np.int64), coarse_cat.labels)  # 16-bit: 1000 classes
    voc_result = segment(small_photo, LRASPP, model=lraspp_random)
    voc = Image.open(io.BytesIO(label_mask_png(voc_result)))
    assert voc.mode == "P" and np.array_equal(np.asarray(voc), voc_result.labels)
    assert voc.getpalette()[:6] == [0, 0, 0, 128, 0, 0]


def test_disagreement_between_two_results(small_photo, lraspp_random, coarse_cat):
    a = segment(small_photo, LRASPP, model=lraspp_random)
    torch.manual_seed(1)
    b = segment(small_photo, LRASPP, model=build_model(LRASPP))
    d = disagreement(a, b)
    assert d.fraction == pytest.approx(float((a.labels != b.labels).mean()))
    assert disagreement(a, a).fraction == 0
    picture = disagreement_image(small_photo, d)
    assert picture.shape == (60, 90, 3)
    if d.mask.any():
        y, x = np.argwhere(d.mask)[0]
        assert tuple(picture[y, x]) == (230, 25, 75)
    with pytest.raises(InvalidInputError, match="different"):
        disagreement(a, coarse_cat)


def test_shared_model_gives_serial_results_from_four_threads(cat_photo, lite0):
    """One cached instance serves every browser session: concurrent calls must not interfere."""
    photos = [
        cat_photo,
        cat_photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        cat_photo.resize((300, 200)),
        cat_photo.rotate(90, expand=True),
    ]
    serial = [segment(p, "efficientnet_lite0", model=lite0, coarse_short_side=160) for p in photos]
    parallel: list = [None] * 4
    errors: list = []

    def work(i: int) -> None:
        try:
            parallel[i] = segment(photos[i], "efficientnet_lite0", model=lite0, coarse_short_side=160)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for s, p in zip(serial, parallel):
        assert np.array_equal(s.labels, p.labels)
        np.testing.assert_allclose(s.confidence, p.confidence, atol=1e-5)
    assert not lite0.training and all(not m._forward_hooks for m in lite0.modules())


def test_wipe_puts_after_left_and_before_right(coarse_cat, cat_photo):
    after = overlay(cat_photo, coarse_cat, 1.0)
    photo = np.asarray(cat_photo)
    picture = wipe(cat_photo, after, 0.5)
    split = round(0.5 * photo.shape[1])
    assert np.array_equal(picture[:, : split - 1], after[:, : split - 1])
    assert np.array_equal(picture[:, split + 1 :], photo[:, split + 1 :])
    assert (picture[:, split] == 255).all()
    assert np.array_equal(wipe(cat_photo, after, 0.0), photo) and np.array_equal(wipe(cat_photo, after, 1.0), after)
