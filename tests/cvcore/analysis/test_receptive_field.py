import torch
from torch import nn

from cvcore.analysis import GLOBAL, analyze_layers, receptive_fields


def dilated_stack() -> nn.Sequential:
    # Yu & Koltun 2016, Table 1: 3x3 convolutions with dilation 1, 1, 2, 4, 8, 16, 1.
    return nn.Sequential(
        *[nn.Conv2d(3 if i == 0 else 4, 4, 3, padding=d, dilation=d) for i, d in enumerate([1, 1, 2, 4, 8, 16, 1])]
    )


def test_dilated_context_network_receptive_fields():
    fields = receptive_fields(dilated_stack(), (64, 64))
    assert [fields[str(i)].rf for i in range(7)] == [(r, r) for r in (3, 5, 9, 17, 33, 65, 67)]
    assert all(fields[str(i)].jump == (1.0, 1.0) for i in range(7))


def test_stride_multiplies_the_jump_and_pooling_grows_the_field():
    model = nn.Sequential(nn.Conv2d(3, 4, 7, stride=2, padding=3), nn.MaxPool2d(3, 2, 1), nn.Conv2d(4, 4, 3, padding=1))
    fields = receptive_fields(model, (64, 64))
    assert fields["0"].rf == (7, 7) and fields["0"].jump == (2, 2)
    assert fields["1"].rf == (11, 11) and fields["1"].jump == (4, 4)  # 7 + (3-1)*2
    assert fields["2"].rf == (19, 19)  # 11 + (3-1)*4, as in ResNet's first block


def test_asymmetric_kernels_and_global_pooling():
    model = nn.Sequential(
        nn.Conv2d(3, 4, (5, 1), padding=(2, 0)), nn.Conv2d(4, 4, (1, 5), padding=(0, 2)), nn.AdaptiveAvgPool2d(1)
    )
    fields = receptive_fields(model, (32, 32))
    assert fields["0"].rf == (5, 1) and fields["1"].rf == (5, 5)
    assert fields["2"].rf == (GLOBAL, GLOBAL)


class TwoBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.small = nn.Conv2d(3, 4, 3, padding=1)
        self.large = nn.Conv2d(3, 4, 5, padding=2)

    def forward(self, x):
        return self.small(x) + self.large(x)  # a merge takes the larger field


def test_functional_merge_takes_the_largest_field_and_leaves_no_hooks():
    model = TwoBranch()
    rows = analyze_layers(model, input_size=(16, 16), device="cpu")
    assert {r.name: r.receptive_field for r in rows} == {"small": (3, 3), "large": (5, 5)}
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert not hasattr(torch.zeros(1), "_cvlens_field")


class SqueezeExcite(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.fc = nn.Conv2d(4, 4, 1)
        self.down = nn.Conv2d(4, 4, 3, stride=2, padding=1)

    def forward(self, x):
        x = self.conv(x)
        x = x * torch.sigmoid(self.fc(x.mean((2, 3), keepdim=True)))  # the gate sees the whole input
        return self.down(x)


def test_strides_after_a_global_gate_still_multiply_the_jump():
    fields = receptive_fields(SqueezeExcite(), (32, 32))
    assert fields["conv"].jump == (2, 2)
    assert fields["down"].rf == (GLOBAL, GLOBAL) and fields["down"].jump == (4, 4)


def test_efficientnet_last_feature_map_has_the_network_stride():
    from cvcore.registry import build_model

    fields = receptive_fields(build_model("efficientnet_b0"), (224, 224))
    assert fields["features.8"].jump == (32, 32)  # 224 px in, 7x7 out


def test_flattening_into_features_makes_the_field_global():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.Flatten(), nn.Linear(4 * 8 * 8, 10))
    fields = receptive_fields(model, (16, 16))
    assert fields["0"].rf == (3, 3) and fields["2"].rf == (GLOBAL, GLOBAL)


def test_adaptive_pooling_to_the_input_size_is_an_identity():
    from cvcore.registry import build_model

    # VGG-16 and AlexNet at 224: pool5 is already 7x7 / 6x6, so avgpool (7x7 / 6x6 output) passes it through.
    # Their pool5 fields: VGG-16 212 (Simonyan & Zisserman's conv stack), AlexNet 195.
    for name, pool5 in (("vgg16", 212), ("alexnet", 195)):
        fields = receptive_fields(build_model(name), (224, 224))
        assert fields["features"].rf == fields["avgpool"].rf == (pool5, pool5), name
        assert fields["avgpool"].jump == (32, 32)


def test_adaptive_pooling_to_one_pixel_is_global_and_uneven_windows_take_the_widest():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d((None, 3)), nn.AdaptiveAvgPool2d((4, 3)), nn.AdaptiveMaxPool2d(1)
    )
    fields = receptive_fields(model, (8, 7))
    # Width 7 -> 3: windows [0, 3), [2, 5), [4, 7): three columns wide, 7/3 apart; height kept.
    assert fields["1"].rf == (3, 5) and fields["1"].jump == (1, 7 / 3)
    # Height 8 -> 4 divides evenly: a 2x2-style pool (window 2, stride 2); the width is already 3: kept.
    assert fields["2"].rf == (4, 5) and fields["2"].jump == (2, 7 / 3)
    assert fields["3"].rf == (GLOBAL, GLOBAL)
