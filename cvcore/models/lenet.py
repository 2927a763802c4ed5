"""LeNet-5 (LeCun et al. 1998, "Gradient-Based Learning Applied to Document Recognition").

As described in Sec. II-B of the paper, on a 32x32 grayscale input:

* C1: 6 maps, 5x5 conv -> 28x28;  S2: 2x2 subsampling -> 14x14;
* C3: 16 maps, 5x5 conv, each map connected to a subset of S2's maps (Table I) -> 10x10;
* S4: 2x2 subsampling -> 5x5;  C5: 120 maps, 5x5 conv -> 1x1;  F6: 84 units;
* output: 10 Euclidean RBF units with fixed (non-trained) parameter vectors.

Subsampling adds the 4 inputs, multiplies by a trainable coefficient and adds a
trainable bias; squashing is the scaled tanh ``1.7159 tanh(2x/3)``. The paper's RBF
targets are hand-drawn 7x12 character bitmaps, not available here: fixed random +-1
codes stand in for them. RGB input is averaged to one channel so the catalogue's
RGB tooling works. No trained weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cvcore.registry import NO_WEIGHTS_ID, Architecture, Paper, Task, Weights, WeightsKind, register_architecture

# --- blocks -------------------------------------------------------------------------


class ScaledTanh(nn.Module):
    """The paper's squashing function f(a) = A tanh(S a), A = 1.7159, S = 2/3 (Appendix A)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.7159 * torch.tanh(x * (2 / 3))


class Subsampling(nn.Module):
    """Sum of each 2x2 neighbourhood times a trainable coefficient plus a trainable bias, per map."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        summed = F.avg_pool2d(x, 2) * 4
        return summed * self.weight[:, None, None] + self.bias[:, None, None]


# LeCun et al. 1998, Table I: the S2 maps each C3 map is connected to. The first six take
# 3 contiguous maps, the next six 4 contiguous, then 3 take 4 non-contiguous, the last all 6.
C3_CONNECTIONS = (
    *(tuple((j + k) % 6 for k in range(3)) for j in range(6)),
    *(tuple((j + k) % 6 for k in range(4)) for j in range(6)),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


class PartialConv(nn.Module):
    """C3: one 5x5 conv per output map over only its connected input maps (breaks symmetry, saves weights)."""

    def __init__(self, connections: tuple[tuple[int, ...], ...], kernel: int = 5):
        super().__init__()
        self.connections = connections
        self.convs = nn.ModuleList(nn.Conv2d(len(c), 1, kernel) for c in connections)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([conv(x[:, list(c)]) for c, conv in zip(self.connections, self.convs)], dim=1)


class EuclideanRBF(nn.Module):
    """Output layer: y_i = sum_j (x_j - w_ij)^2 with fixed w; returned negated so argmax is the class."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        codes = torch.randint(0, 2, (num_classes, in_features), generator=torch.Generator().manual_seed(0)) * 2 - 1
        self.register_buffer("codes", codes.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -((x[:, None, :] - self.codes[None]) ** 2).sum(-1)


# --- the module ---------------------------------------------------------------------


class LeNet5(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.s2 = Subsampling(6)
        self.c3 = PartialConv(C3_CONNECTIONS)
        self.s4 = Subsampling(16)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.act = ScaledTanh()
        self.output = EuclideanRBF(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 3:
            x = x.mean(dim=1, keepdim=True)  # RGB -> one channel; the paper's digits are grayscale
        x = self.act(self.s2(self.c1(x)))
        x = self.act(self.s4(self.c3(x)))
        x = self.act(self.c5(x)).flatten(1)
        return self.output(self.act(self.f6(x)))


# --- builders -----------------------------------------------------------------------


def lenet5(*, num_classes: int = 10) -> LeNet5:
    return LeNet5(num_classes)


# --- catalogue entries --------------------------------------------------------------

PAPER = Paper("Gradient-Based Learning Applied to Document Recognition", 1998, None, "http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf")

register_architecture(
    Architecture(
        name="lenet5",
        display_name="LeNet-5",
        task=Task.CLASSIFICATION,
        family="LeNet",
        paper=PAPER,
        builder=lenet5,
        notes="Digits 0-9 on 32x32 grayscale; C3 follows the paper's connection table; fixed random RBF codes "
        "stand in for the paper's character bitmaps. Architecture only.",
    ),
    [
        Weights(
            id=NO_WEIGHTS_ID,
            kind=WeightsKind.NONE,
            categories=tuple(str(d) for d in range(10)),
            input_size=(32, 32),
        )
    ],
)
