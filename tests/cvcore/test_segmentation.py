"""Segmentation on CPU with small inputs: the coarse map of a real classifier, segmenters with random init."""

import dataclasses
import io
import pickle
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from cvcore import segmentation
from cvcore.errors import InvalidInputError
from cvcore.images import decode_image
from cvcore.registry import Task, WeightsKind, build_model, get_spec, list_models
from cvcore.samples import get_sample
from cvcore.segmentation import (
    COARSE_KIND,
    DEFAULT_MODELS,
    SEGMENTER_KIND,
    colorize,
    disagreement,
    disagreement_image,
    grid_logits,
    is_coarse,
    label_mask_png,
    legend,
    model_choices,
    overlay,
    segment,
    voc_palette,
    wipe,
)
from cvcore.weights import load_model
from tests.cvcore.test_label_maps import near_ties

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
    assert all(0 < mean <= 1 for mean in coarse_cat.class_confidence().values())


def test_timings_are_measured_per_stage(coarse_cat):
    t = coarse_cat.timings_ms
    assert t.preprocess_ms > 0 and t.forward_ms > 0 and t.postprocess_ms > 0
    assert t.total_ms == pytest.approx(t.decode_ms + t.preprocess_ms + t.forward_ms + t.postprocess_ms)
    summary = coarse_cat.summary()
    assert {"model", "size", "classes", "timings_ms"} <= set(summary)
    assert set(summary["timings_ms"]) == {
        "decode_ms",
        "preprocess_ms",
        "forward_ms",
        "postprocess_ms",
        "total_ms",
        "confidence_ms",
    }
    assert summary["timings_ms"]["confidence_ms"] == coarse_cat.confidence_ms > 0  # the summary needed the map
    assert summary["evaluated_fraction"] is None  # coarse maps are nearest-upsampled: nothing to evaluate


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


def smallest_torchvision_segmenter(family: str) -> str:
    specs = [s for s in list_models(Task.SEGMENTATION, family=family) if s.weights.kind is WeightsKind.TORCHVISION]
    return min(specs, key=lambda s: s.num_params.value).name


def reduced_transform(monkeypatch, short_side: int):
    """The weights' own transform with a smaller resize, so that ResNet-50 segmenters stay fast in a unit test."""
    from torchvision.transforms import v2 as T

    def transform_for(spec, resize_size=None, crop=None):  # the recipe's resize_size (520) is what gets replaced
        p = spec.preprocessing
        return T.Compose(
            [T.ToImage(), T.Resize(short_side, antialias=True), T.ToDtype(torch.float32, scale=True), T.Normalize(p.mean, p.std)]
        )

    monkeypatch.setattr(segmentation, "transform_for", transform_for)
    return transform_for


@pytest.mark.parametrize("family", ["FCN", "DeepLabV3", "LR-ASPP"])
def test_grid_forward_gives_the_labels_and_confidence_of_the_full_model(family, cat_photo, monkeypatch):
    name = smallest_torchvision_segmenter(family)
    torch.manual_seed(0)
    model = build_model(name)
    photo = cat_photo.resize((150, 100))
    transform = reduced_transform(monkeypatch, 120)  # 120 x 180 input
    result = segment(photo, name, model=model)
    with torch.inference_mode():
        x = transform(get_spec(name))(photo)[None]
        full = model(x)["out"][0]  # (21, 120, 180)
        grid = grid_logits(model, x)
    assert result.input_size == (120, 180) and result.output_grid == tuple(grid.shape[-2:])
    assert grid.shape[-1] in (180 // 8 + 1, 180 // 16 + 1)  # the model's own stride-8 (16 for MobileNet's DeepLabV3) grid
    # Labels: the full model's argmax, resized back to the photo as before (nearest), except at float ties.
    resize = lambda a: np.asarray(Image.fromarray(a).resize(photo.size, Image.Resampling.NEAREST))  # noqa: E731
    expected = resize(full.argmax(0).numpy().astype(np.uint16))
    ties = resize(near_ties(full).astype(np.uint8)).astype(bool)
    assert not ((result.labels != expected) & ~ties).any() and ties.mean() < 1e-3
    if family == "FCN":  # this random-init FCN has class boundaries (20% of pixels): the per-cell path ran
        assert 0.05 < result.evaluated_fraction < 0.5
    # Confidence (on demand): softmax probability of the top class of the full-resolution logits, resized bilinearly.
    assert result.confidence_ms is None
    probability = full.softmax(0).max(0).values.numpy()
    expected_confidence = np.clip(
        np.asarray(Image.fromarray(probability, mode="F").resize(photo.size, Image.Resampling.BILINEAR)), 0, 1
    )
    np.testing.assert_allclose(result.confidence, expected_confidence, atol=1e-6)
    assert result.confidence_ms > 0 and not result.confidence.flags.writeable
    assert all(not m._forward_hooks for m in model.modules()) and not model.training


def test_lraspp_at_its_own_size_matches_the_full_model(small_photo, lraspp_random):
    result = segment(small_photo, LRASPP, model=lraspp_random)
    x = segmentation.transform_for(get_spec(LRASPP))(small_photo)[None]
    with torch.inference_mode():
        full = lraspp_random(x)["out"][0]
    expected = np.asarray(Image.fromarray(full.argmax(0).numpy().astype(np.uint16)).resize((90, 60), Image.Resampling.NEAREST))
    assert np.array_equal(result.labels, expected)
    assert result.output_grid == (65, 98) and 0 <= result.evaluated_fraction <= 1
    assert any("logit grid" in note for note in result.notes)


class Wrapped(torch.nn.Module):
    """A segmenter cvlens does not know: it must get the full-resolution path."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


def test_unknown_models_keep_the_full_resolution_path(small_photo, lraspp_random):
    wrapped = Wrapped(lraspp_random).eval()
    assert grid_logits(wrapped, torch.zeros(1, 3, 64, 64)) is None
    other, grid = segment(small_photo, LRASPP, model=wrapped), segment(small_photo, LRASPP, model=lraspp_random)
    assert other.evaluated_fraction == 1.0 and other.output_grid == other.input_size == (520, 780)
    assert np.array_equal(other.labels, grid.labels)
    np.testing.assert_allclose(other.confidence, grid.confidence, atol=1e-6)


def test_confidence_is_computed_once_for_concurrent_readers(small_photo, lraspp_random, monkeypatch):
    result = segment(small_photo, LRASPP, model=lraspp_random)
    calls = []
    original = segmentation.top_class_parallel

    def slow_top_class(logits):
        calls.append(threading.get_ident())
        barrier_passed.wait(5)  # every reader is inside the property before the first finishes
        return original(logits)

    monkeypatch.setattr(segmentation, "top_class_parallel", slow_top_class)
    barrier_passed = threading.Event()
    seen: list = [None] * 4
    threads = [threading.Thread(target=lambda i=i: seen.__setitem__(i, result.confidence)) for i in range(4)]
    for t in threads:
        t.start()
    threading.Timer(0.2, barrier_passed.set).start()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and all(s is seen[0] for s in seen) and seen[0] is result.confidence
    assert not seen[0].flags.writeable and result.confidence_ms > 0


def test_class_confidence_legend_and_pickling(small_photo, lraspp_random):
    result = segment(small_photo, LRASPP, model=lraspp_random)
    means = result.class_confidence()
    assert list(means) == [c.index for c in result.classes]
    for c in result.classes:
        assert means[c.index] == pytest.approx(float(result.confidence[result.labels == c.index].mean()), rel=1e-6)
    assert [r["mean_confidence"] for r in legend(result)] == list(means.values())
    copy = pickle.loads(pickle.dumps(result))  # session state may be serialised
    assert np.array_equal(copy.confidence, result.confidence) and copy.confidence_ms == result.confidence_ms
    assert copy.summary()["classes"] == result.summary()["classes"]


# --- inputs the architecture does not take as they are --------------------------------------------


class _RedOrGreen(torch.nn.Module):
    """Class 1 where a pixel is greener than red, else 0, read ``shift`` pixels down and right of the output pixel.

    ``shift`` > 0 is a valid (unpadded) convolution that loses ``shift`` pixels on every side,
    like U-Net's; its labels are known without running cvlens: compare R and G at each pixel.
    """

    def __init__(self, shift: int):
        super().__init__()
        k = 3 if shift else 1
        self.conv = torch.nn.Conv2d(3, 2, k, dilation=max(shift, 1), bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0, 0, k // 2, k // 2] = 1.0  # class 0 scores R
            self.conv.weight[1, 1, k // 2, k // 2] = 1.0  # class 1 scores G

    def forward(self, x):
        return self.conv(x)


def _with_preprocessing(arch: str, short_side: int):
    """The architecture-only entry as an imported model of it would be: with its own preprocessing."""
    from cvcore.registry import Preprocessing

    spec = get_spec(arch)
    weights = dataclasses.replace(spec.weights, preprocessing=Preprocessing(short_side, short_side))
    return dataclasses.replace(spec, weights=weights)


def _expected_red_or_green(spec, photo) -> np.ndarray:
    from cvcore.preprocess import transform_for

    x = transform_for(spec, crop=False)(photo)  # the model's own input, before any padding
    labels = (x[1] > x[0]).numpy().astype(np.uint8)
    return np.asarray(Image.fromarray(labels).resize(photo.size, Image.Resampling.NEAREST))


@pytest.mark.parametrize(("arch", "shift"), [("enet", 0), ("unet", 92)])
def test_padded_inputs_label_the_photos_own_pixels(cat_photo, arch, shift):
    """ENet takes multiples of 8 and U-Net (valid convolutions) loses 92 px a side: the photo is padded, the
    output cropped back, and each pixel's label is the one computed at that very pixel."""
    spec = _with_preprocessing(arch, 233)  # input sides 233 x 347: no multiple of 8
    photo = cat_photo.resize((347, 233))
    result = segment(photo, spec, model=_RedOrGreen(shift))
    assert any("Input padded from" in note for note in result.notes), result.notes
    assert result.labels.shape == (233, 347)
    expected = _expected_red_or_green(spec, photo)
    assert np.array_equal(result.labels, expected)  # a crop one pixel off leaves 0.2% of them wrong


def test_enet_runs_on_a_photo_whose_sides_it_does_not_take(cat_photo):
    torch.manual_seed(0)
    spec = _with_preprocessing("enet", 203)
    model = build_model("enet").eval()
    photo = cat_photo.resize((301, 203))
    with pytest.raises(RuntimeError):  # what the padding spares the user: torch's shape error
        with torch.inference_mode():
            model(torch.zeros(1, 3, 203, 301))
    result = segment(photo, spec, model=model)
    assert result.labels.shape == (203, 301) and result.labels.max() < len(spec.categories)
