"""The attribution methods cvlens offers: one registry, name -> what it is and how it runs.

Each entry names the Captum class that does the work, its default settings (passed to
``attribute()`` unless the caller overrides them), a cost class for the UI, and how its
map is read (:class:`Sign`). Adding a method means one entry here and one runner in
:mod:`cvcore.attribution.core`; a test checks that the two stay in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

from captum.attr import (
    GradientShap,
    GuidedBackprop,
    GuidedGradCam,
    IntegratedGradients,
    LayerGradCam,
    NoiseTunnel,
    Occlusion,
    Saliency,
)

from cvcore.errors import InvalidInputError


class Cost(str, Enum):
    """Rough price of one map, in forward+backward passes of the model."""

    FAST = "fast"  # one pass
    MODERATE = "moderate"  # tens of passes, batched
    SLOW = "slow"  # a hundred or more passes


class Sign(str, Enum):
    """How to read a map: which values mean "important"."""

    ABSOLUTE = "absolute"  # magnitudes only (gradient saliency)
    POSITIVE = "positive"  # non-negative by construction (Grad-CAM keeps the ReLU)
    SIGNED = "signed"  # positive = evidence for the target, negative = against


@dataclass(frozen=True)
class Method:
    name: str
    display_name: str
    captum_class: type
    defaults: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    cost: Cost = Cost.FAST
    sign: Sign = Sign.SIGNED
    needs_layer: bool = False  # works on a convolutional layer (Grad-CAM family)
    reports_progress: bool = False  # long enough that the UI shows a progress bar
    paper: str = ""
    summary: str = ""

    def settings(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """Defaults updated with ``overrides``; an unknown setting is an error, not ignored."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            raise InvalidInputError(
                f"{self.display_name} has no setting {', '.join(unknown)}; it takes {sorted(self.defaults) or 'none'}."
            )
        return {**self.defaults, **overrides}


def _frozen(**kwargs: Any) -> MappingProxyType:
    return MappingProxyType(kwargs)


_METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "saliency",
            "Saliency",
            Saliency,
            _frozen(abs=True),
            Cost.FAST,
            Sign.ABSOLUTE,
            paper="Simonyan et al. 2014, arXiv:1312.6034",
            summary="|d score / d pixel|: which pixels would change the score fastest.",
        ),
        Method(
            "integrated_gradients",
            "Integrated Gradients",
            IntegratedGradients,
            # Baseline: 0 in normalised space, i.e. the dataset's mean colour. At most 64 steps: 4 pieces of 8 first,
            # then halving the worst piece (core._run_integrated_gradients). On EfficientNet-Lite0 and the 4 bundled
            # photos this meets completeness (|convergence delta| <= 5% of f(x) - f(0)) where Captum's plain IG at
            # 32 or 64 equal steps misses by 12-37% (chelsea); see the slow test in tests/cvcore/attribution.
            _frozen(n_steps=64, segments=4, adaptive=True, method="gausslegendre", internal_batch_size=16),
            Cost.MODERATE,
            Sign.SIGNED,
            reports_progress=True,
            paper="Sundararajan et al. 2017, arXiv:1703.01365",
            summary="Gradients averaged along the straight path from a mean-colour image to the photo, times (photo - baseline); "
            "more steps where the path's integral is hardest, until the map adds up to the score difference.",
        ),
        Method(
            "smoothgrad",
            "SmoothGrad",
            NoiseTunnel,
            # noise_level: the noise's standard deviation as a fraction of the input's value range (paper: 10-20 %).
            _frozen(nt_samples=16, nt_samples_batch_size=8, noise_level=0.15, seed=0),
            Cost.MODERATE,
            Sign.ABSOLUTE,
            reports_progress=True,
            paper="Smilkov et al. 2017, arXiv:1706.03825",
            summary="Saliency averaged over noisy copies of the photo: less speckle.",
        ),
        Method(
            "gradient_shap",
            "Gradient SHAP",
            GradientShap,
            # Baselines drawn from {mean-colour image, blurred photo}; stdevs in normalised units.
            _frozen(n_samples=16, stdevs=0.1, seed=0),
            Cost.MODERATE,
            Sign.SIGNED,
            reports_progress=True,
            paper="Lundberg & Lee 2017, arXiv:1705.07874",
            summary="Expected gradients x (input - baseline) over random baselines and random points on the path.",
        ),
        Method(
            "guided_backprop",
            "Guided Backprop",
            GuidedBackprop,
            _frozen(),
            Cost.FAST,
            Sign.SIGNED,
            paper="Springenberg et al. 2015, arXiv:1412.6806",
            summary="Gradient where every ReLU/ReLU6 also blocks negative gradients: sharp edges, weakly class-specific.",
        ),
        Method(
            "grad_cam",
            "Grad-CAM",
            LayerGradCam,
            _frozen(interpolate_mode="bilinear"),
            Cost.FAST,
            Sign.POSITIVE,
            needs_layer=True,
            paper="Selvaraju et al. 2017, arXiv:1610.02391",
            summary="Last conv stage's channels weighted by their mean gradient, ReLU, upsampled to the photo.",
        ),
        Method(
            "guided_grad_cam",
            "Guided Grad-CAM",
            GuidedGradCam,
            _frozen(interpolate_mode="bilinear"),
            Cost.FAST,
            Sign.SIGNED,
            needs_layer=True,
            paper="Selvaraju et al. 2017, arXiv:1610.02391",
            summary="Guided Backprop multiplied by the upsampled Grad-CAM: sharp and class-specific.",
        ),
        Method(
            "occlusion",
            "Occlusion",
            Occlusion,
            # Window and stride in pixels (clipped to the input); occluded with 0 = the mean colour.
            _frozen(window=32, stride=16, perturbations_per_eval=16),
            Cost.SLOW,
            Sign.SIGNED,
            reports_progress=True,
            paper="Zeiler & Fergus 2014, arXiv:1311.2901",
            summary="Score drop when a grey square hides each part of the photo.",
        ),
    )
}


def list_methods() -> list[Method]:
    return list(_METHODS.values())


def method_names() -> list[str]:
    return list(_METHODS)


def get_method(name: str) -> Method:
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    by_display = {m.display_name.lower().replace("-", "_").replace(" ", "_"): m for m in _METHODS.values()}
    method = _METHODS.get(key) or by_display.get(key)
    if method is None:
        raise InvalidInputError(f"Unknown attribution method {name!r}; choose one of {', '.join(_METHODS)}.")
    return method
