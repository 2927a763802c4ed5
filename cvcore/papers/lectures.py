"""Parameter counts quoted in the course's lecture slides, against torchvision's models."""

from __future__ import annotations

import functools

from cvcore.papers.claims import Claim, Measurement, Tolerance
from cvcore.papers.published import LECTURE_PARAMS, LECTURE_SEEDS

KEY = "lectures"
SOURCE = f"course lecture 'Сверточные нейронные сети: практическое применение'; {LECTURE_SEEDS}"
# The slides say "~60M": one or two significant digits, so 10%.
TOLERANCE = Tolerance(relative_pct=10)
_NOTES = {
    "vgg16": "The slide's '~130M' is low: VGG-16 has 138.4 M (MobileNet Table 8 quotes 138 M), VGG-19 143.7 M.",
    "googlenet": "torchvision's GoogLeNet (no auxiliary heads) has 6.6 M; the GoogLeNet paper's total is 6.8 M (MobileNet Table 8).",
}


def _measure(name: str) -> Measurement:
    from cvcore.papers.measure import parameter_count
    from cvcore.registry import get_spec

    return Measurement(
        round(parameter_count(get_spec(name).builder) / 1e6, 3), f"parameters of torchvision's {name} (catalogue builder)"
    )


def claims() -> tuple[Claim, ...]:
    return tuple(
        Claim(
            KEY,
            "lecture slide",
            f"parameters, {label}",
            mparams,
            "million parameters",
            SOURCE,
            functools.partial(_measure, name),
            TOLERANCE,
            _NOTES.get(name, "The slide rounds."),
        )  # fmt: skip
        for label, (name, mparams) in LECTURE_PARAMS.items()
    )
