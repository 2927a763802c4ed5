"""What a multiply-add figure counts: the papers' convention, or fvcore's all-operator total.

The papers (He et al. 2015's "FLOPs (multiply-adds)", Howard et al. 2017's "Mult-Adds") and
torchvision's published ``_ops`` count the multiply-adds of the weighted layers and of the
products between activations: convolutions, linear layers, matrix products and attention
(QKᵀ and AV). That is cvlens' headline figure, ``gmacs``. fvcore's default total also counts
batch norm, layer norm, adaptive pooling and upsampling, about one per element: cvlens
reports it as a second figure, ``gmacs_all_ops``. Both are fvcore counts, 1 multiply-add = 1.

Pure data, importable without torch: tables, captions and the CLI's JSON take their words
from here, so every figure says which convention it is in.
"""

from __future__ import annotations

# Operator types (as cvcore.analysis.complexity groups fvcore's and torch's ops) in the headline figure.
PAPERS_OPERATOR_TYPES = ("convolution", "matrix multiply", "attention (SDPA)")

GMACS_LABEL = "GMACs (papers' convention)"
GMACS_ALL_OPS_LABEL = "GMACs (all ops, fvcore)"
GMACS_TORCH_LABEL = "GMACs (torch counter ÷ 2)"
# Column headers in print (LaTeX), where every character of width counts; the caption (CAPTION) says the rest.
GMACS_PRINT_LABEL = "GMACs (papers)"
GMACS_ALL_OPS_PRINT_LABEL = "GMACs (all ops)"

PAPERS_CONVENTION = (
    "papers' convention: multiply-adds of convolutions, linear layers, matrix products and attention (QKᵀ, AV), "
    "1 multiply-add = 1, counted by fvcore with cvcore's attention handler; as the papers and torchvision's _ops count"
)
ALL_OPS_CONVENTION = (
    "fvcore's all-operator total: the papers' convention plus batch/layer/group norm, adaptive pooling and upsampling "
    "(about one per element)"
)
TORCH_CONVENTION = (
    "torch.utils.flop_counter.FlopCounterMode's FLOPs halved (2 FLOPs per multiply-add); convolutions, matrix products "
    "and attention only"
)

# Field name -> what it counts; the CLI's JSON and the stored analysis carry this next to the numbers.
CONVENTIONS = {"gmacs": PAPERS_CONVENTION, "gmacs_all_ops": ALL_OPS_CONVENTION, "torch_gmacs": TORCH_CONVENTION}

# One sentence for captions under tables and charts that show both figures.
CAPTION = (
    "GMACs in the papers' convention count convolutions, linear layers, matrix products and attention "
    "(1 multiply-add = 1, as the papers and torchvision's _ops); 'all ops' is fvcore's total, which also counts "
    "normalisation, pooling and upsampling."
)
