"""U-Net against Ronneberger et al. 2015, Fig. 1: valid convs 572 -> 388, copy-and-crop skips."""

import pytest
import torch

from cvcore.models.unet import CHANNELS, UNet, center_crop, unet, unet_padded, valid_output_size
from cvcore.papers.measure import build_on_meta, output_shapes

# Fig. 1 of the paper: the side length after each level's two 3x3 valid convs (572 input tile).
FIG1_DOWN = {"down.0": 568, "down.1": 280, "down.2": 136, "down.3": 64, "down.4": 28}
FIG1_UP = {"up.0": 52, "up.1": 100, "up.2": 196, "up.3": 388}


def test_valid_variant_matches_figure_1():
    model = build_on_meta(unet)
    shapes = output_shapes(model, (572, 572), [*FIG1_DOWN, *FIG1_UP, "head"])
    for name, side in {**FIG1_DOWN, **FIG1_UP}.items():
        assert shapes[name][1:] == (side, side), name
    assert [shapes[n][0] for n in FIG1_DOWN] == list(CHANNELS)  # 64 .. 1024
    assert [shapes[n][0] for n in FIG1_UP] == [512, 256, 128, 64]
    assert shapes["head"] == (2, 388, 388)


def test_valid_output_size_formula_agrees_and_rejects_uneven_tiles():
    assert valid_output_size(572) == 388
    with pytest.raises(ValueError, match="odd size"):
        valid_output_size(570)


def test_padded_variant_keeps_the_input_size():
    torch.manual_seed(0)
    model = unet_padded(num_classes=3).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 48, 64))
    assert out.shape == (1, 3, 48, 64) and torch.isfinite(out).all()


def test_four_down_four_up_and_no_batch_norm():
    model = UNet()
    assert len(model.down) == 5 and len(model.up) == 4  # 4 poolings, 4 up-convolutions
    assert not any("BatchNorm" in type(m).__name__ for m in model.modules())  # 2015: no batch norm
    assert all(up.upconv.kernel_size == (2, 2) and up.upconv.stride == (2, 2) for up in model.up)


def test_copy_and_crop_takes_the_centre():
    x = torch.arange(36.0).reshape(1, 1, 6, 6)
    assert center_crop(x, 2, 2).flatten().tolist() == [14.0, 15.0, 20.0, 21.0]
