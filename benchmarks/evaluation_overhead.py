"""What the error bars cost: the bootstrap against the inference it is added to, and the evaluation loop against the bare forward.

    python benchmarks/evaluation_overhead.py [--images 64] [--resamples 1000] [--repeats 3]

(a) Classification at ImageNet-val scale: 1000 bootstrap resamples of 50 000 images over
    1000 classes (top-1, top-5, mean per-class accuracy), against 50 000 x the per-image
    forward of EfficientNet-Lite0 (bundled weights) at batch 32. Goal: <= 1 %.
(b) Segmentation at VOC-val scale: 1000 resamples of 1 449 images' per-class counts
    (pixel accuracy, mIoU from summed counts), against 1 449 x the per-image forward of
    LR-ASPP (random init: speed does not depend on the values) at 520 px. Goal: <= 1 %.
(c) The evaluation loop (decode + preprocess in threads, batched forward, top-k) on a
    generated folder of ``--images`` photos, against the bare forward on tensors prepared
    beforehand: the share of time outside the network.

Each pair is measured interleaved in one run, so load from other processes hits both alike:
(a) and (b) print the medians of ``--repeats`` and their ratio, (c) the median of the
per-pair ratios (each pair adjacent in time, alternating which runs first).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cvcore.evaluation import BootstrapSettings, evaluate_classification, open_dataset  # noqa: E402
from cvcore.evaluation.bootstrap import estimates  # noqa: E402
from cvcore.evaluation.results import classification_statistic, segmentation_statistic  # noqa: E402
from cvcore.preprocess import transform_for  # noqa: E402
from cvcore.registry import build_model, get_spec  # noqa: E402
from cvcore.samples import get_sample  # noqa: E402
from cvcore.weights import load_model  # noqa: E402

GOAL_BOOTSTRAP_SHARE = 0.01


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def forward_per_image(model, batch: torch.Tensor) -> float:
    with torch.inference_mode():
        return timed(lambda: model(batch)) / len(batch)


def classification_bootstrap(resamples: int) -> float:
    rng = np.random.default_rng(0)
    n = 50_000
    targets = rng.integers(0, 1000, n)
    top1 = rng.random(n) < 0.76
    statistic = classification_statistic(top1, top1 | (rng.random(n) < 0.8), targets)
    return timed(lambda: estimates(n, statistic, BootstrapSettings(resamples)))


def segmentation_bootstrap(resamples: int) -> float:
    rng = np.random.default_rng(0)
    n, k = 1449, 21
    tp = rng.integers(0, 50_000, (n, k))
    statistic = segmentation_statistic(tp, tp + rng.integers(0, 5_000, (n, k)), tp + rng.integers(0, 5_000, (n, k)))
    return timed(lambda: estimates(n, statistic, BootstrapSettings(resamples)))


def photo_folder(root: Path, count: int) -> None:
    from PIL import Image

    photo = Image.open(get_sample("chelsea").path).convert("RGB")
    w, h = photo.size
    (root / "tabby").mkdir()
    for i in range(count):
        x, y = (i * 7) % (w // 3), (i * 5) % (h // 3)
        photo.crop((x, y, x + 2 * w // 3, y + 2 * h // 3)).save(root / "tabby" / f"{i:04d}.jpg", quality=90)


def report(label: str, ours: list[float], base: list[float], goal: float | None) -> None:
    a, b = statistics.median(ours), statistics.median(base)
    verdict = "" if goal is None else (" (goal <= {:.0%}: {})".format(goal, "met" if a / b <= goal else "NOT met"))
    print(f"{label}: {a:.3f} s vs {b:.1f} s -> {a / b:.2%}{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    classifier, cls_spec = load_model("efficientnet_lite0"), get_spec("efficientnet_lite0")
    segmenter = build_model("lraspp_mobilenet_v3_large")
    cls_batch = torch.randn(32, 3, 224, 224)
    seg_batch = torch.randn(1, 3, 520, 693)
    forward_per_image(classifier, cls_batch[:4])  # warm-up
    forward_per_image(segmenter, seg_batch)

    boot_cls, inf_cls, boot_seg, inf_seg = [], [], [], []
    for _ in range(args.repeats):
        boot_cls.append(classification_bootstrap(args.resamples))
        inf_cls.append(50_000 * forward_per_image(classifier, cls_batch))
        boot_seg.append(segmentation_bootstrap(args.resamples))
        inf_seg.append(1449 * forward_per_image(segmenter, seg_batch))
    report(
        f"(a) bootstrap x{args.resamples}, 50 000 images vs their EfficientNet-Lite0 forwards",
        boot_cls,
        inf_cls,
        GOAL_BOOTSTRAP_SHARE,
    )
    report(f"(b) bootstrap x{args.resamples}, 1 449 images vs their LR-ASPP forwards", boot_seg, inf_seg, GOAL_BOOTSTRAP_SHARE)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        photo_folder(root, args.images)
        dataset = open_dataset(root, cls_spec)
        transform = transform_for(cls_spec)
        from PIL import Image

        prepared = torch.stack([transform(Image.open(s.path).convert("RGB")) for s in dataset.samples])
        ratios = []
        for repeat in range(args.repeats):  # adjacent pairs, alternating which goes first: a ratio per pair
            loop = lambda: evaluate_classification(classifier, cls_spec, dataset, bootstrap=BootstrapSettings(0))  # noqa: E731
            bare = lambda: [classifier(prepared[i : i + 32]) for i in range(0, len(prepared), 32)]  # noqa: E731
            with torch.inference_mode():
                first, second = (loop, bare) if repeat % 2 == 0 else (bare, loop)
                t_first, t_second = timed(first), timed(second)
            t_loop, t_bare = (t_first, t_second) if repeat % 2 == 0 else (t_second, t_first)
            ratios.append(t_loop / t_bare)
        spread = ", ".join(f"{r:.2f}" for r in ratios)
        print(
            f"(c) evaluation loop on {args.images} photos vs bare forward: median ratio {statistics.median(ratios):.2f} "
            f"(pairs: {spread}); > 1 is time outside the network"
        )
    print(f"torch threads: {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
