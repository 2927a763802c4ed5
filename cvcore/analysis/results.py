"""What an analysis returns: plain dataclasses, importable without torch or fvcore.

The precomputed results in ``assets/`` are read into these by pages that never trace a
model (Models, Compare), so this module must stay free of heavy imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OperatorCount:
    """One operator type counted by both tools, in GMACs (torch's FLOPs halved)."""

    operator: str
    fvcore_gmacs: float
    torch_gmacs: float
    fvcore_ops: tuple[str, ...]
    torch_ops: tuple[str, ...]
    note: str
    in_papers_convention: bool = False  # counted in the headline ``gmacs`` (else only in ``gmacs_all_ops``)

    @property
    def delta_gmacs(self) -> float:
        return self.fvcore_gmacs - self.torch_gmacs


@dataclass(frozen=True)
class Complexity:
    name: str
    input_size: tuple[int, int]
    params: int
    trainable_params: int
    gmacs: float  # papers' convention (cvcore.analysis.conventions): conv, linear, matmul, attention; 1 multiply-add = 1
    gmacs_all_ops: float  # fvcore's all-operator total: also normalisation, pooling, upsampling
    torch_gflops: float  # torch.utils.flop_counter: 2 FLOPs per multiply-add
    uncounted_ops: dict[str, int]  # fvcore's unsupported_ops(): op -> number of calls
    by_operator: tuple[OperatorCount, ...] = field(default=())

    @property
    def torch_gmacs(self) -> float:
        return self.torch_gflops / 2

    @property
    def mparams(self) -> float:
        return self.params / 1e6
