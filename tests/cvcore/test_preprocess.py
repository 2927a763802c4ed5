"""The transform comes from the model's own recipe; overrides change only what they name."""

import torch
from PIL import Image

from cvcore.preprocess import denormalize, to_batch, transform_for
from cvcore.registry import get_spec

PHOTO = Image.new("RGB", (400, 300), (200, 120, 40))  # landscape: width 400, height 300


def test_classifiers_are_resized_and_centre_cropped():
    spec = get_spec("resnet50")
    batch = to_batch(PHOTO, spec)
    assert batch.shape == (1, 3, spec.preprocessing.crop_size, spec.preprocessing.crop_size)


def test_segmenters_keep_the_whole_photo():
    spec = get_spec("lraspp_mobilenet_v3_large")
    short = spec.preprocessing.resize_size
    assert transform_for(spec)(PHOTO).shape == (3, short, int(short * 400 / 300))


def test_overrides_resize_and_crop_only():
    spec = get_spec("efficientnet_lite0")
    x = transform_for(spec, resize_size=320, crop=False)(PHOTO)
    assert x.shape == (3, 320, int(320 * 400 / 300))  # the coarse-map view: no crop (torchvision truncates the long side)
    default = transform_for(spec)(PHOTO)
    # Same normalisation either way: a flat colour maps to the same normalised value.
    assert torch.allclose(x[:, 5, 5], default[:, 5, 5], atol=1e-5)
    # And the recipe's own interpolation (bicubic for EfficientNet-Lite) in both.
    resizes = [[t for t in tr.transforms if type(t).__name__ == "Resize"][0] for tr in (transform_for(spec, crop=False), transform_for(spec))]
    assert {r.interpolation.value for r in resizes} == {spec.preprocessing.interpolation}


def test_denormalize_inverts_the_normalisation():
    spec = get_spec("efficientnet_lite0")  # TF's mean/std, not ImageNet's
    batch = to_batch(PHOTO, spec)
    pixels = denormalize(batch, spec)[0, :, 0, 0]
    assert torch.allclose(pixels, torch.tensor([200, 120, 40]) / 255, atol=2e-3)
