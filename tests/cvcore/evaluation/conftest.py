"""Deterministic colour models and generated folders for the evaluation tests (CPU, small images, fixed seeds).

The colour models are reliable by construction on the generated data: an image (or a
pixel) whose colour is closest to class c's prototype is predicted as c. Mixing a second
prototype into some images makes a known share of them wrong, so metrics are not trivial.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cvcore.registry import get_spec
from cvcore.segmentation import voc_palette

CLASSIFIER = "resnet18"  # any catalogue classifier: its spec gives the preprocessing and ImageNet's 1000 categories
SEGMENTER = "lraspp_mobilenet_v3_large"  # any VOC segmenter: 21 classes, its own preprocessing
# Folder names as students write them: case, underscores and spaces differ from the categories.
FOLDERS = ("Tabby", "tiger_cat", "goldfish", "Great_White_Shark", "espresso", "n01440764")  # the last: tench's WordNet id
CATEGORIES = ("tabby", "tiger cat", "goldfish", "great white shark", "espresso", "tench")
PROTOTYPES = (
    np.array([[230, 40, 40], [40, 200, 40], [40, 40, 220], [220, 220, 40], [40, 210, 210], [210, 40, 210]], dtype=np.float64)
    / 255
)


def _unnormalize(batch: torch.Tensor, spec) -> torch.Tensor:
    mean = torch.tensor(spec.preprocessing.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.preprocessing.std).view(1, 3, 1, 1)
    return batch * std + mean


class ColourClassifier(nn.Module):
    """Logits over the spec's 1000 classes: minus the squared distance of the image's mean colour to each prototype.

    Classes without a prototype get a low logit that decreases with the index (a fixed
    order, so top-5 is defined when fewer than five prototypes are near).
    """

    def __init__(self, spec, class_indices, prototypes=PROTOTYPES):
        super().__init__()
        self.spec = spec
        self.register_buffer("prototypes", torch.tensor(prototypes, dtype=torch.float32))
        self.register_buffer("indices", torch.tensor(list(class_indices)))
        self.num_classes = len(spec.categories)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        colour = _unnormalize(x, self.spec).mean(dim=(2, 3))  # (B, 3)
        distance = ((colour[:, None, :] - self.prototypes[None]) ** 2).sum(-1)  # (B, P)
        logits = -100 - 1e-3 * torch.arange(self.num_classes, dtype=torch.float32).expand(len(x), -1).clone()
        logits[:, self.indices] = -distance
        return logits


class ColourSegmenter(nn.Module):
    """(B, 21, H/8, W/8) logits, a stride-8 grid as torchvision's segmenters give: minus each cell's squared
    distance to the prototype of classes 1..P; background where no prototype is near."""

    def __init__(self, spec, prototypes=PROTOTYPES):
        super().__init__()
        self.spec = spec
        self.register_buffer("prototypes", torch.tensor(prototypes, dtype=torch.float32))
        self.num_classes = len(spec.categories)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        pixels = nn.functional.avg_pool2d(_unnormalize(x, self.spec), 8)  # (B, 3, H/8, W/8)
        distance = ((pixels[:, None] - self.prototypes[None, :, :, None, None]) ** 2).sum(2)  # (B, P, H, W)
        logits = torch.full((len(x), self.num_classes, *pixels.shape[-2:]), -10.0)
        logits[:, 0] = -0.5  # background wins where no prototype is near
        logits[:, 1 : 1 + len(self.prototypes)] = -distance
        return {"out": logits}


@pytest.fixture(scope="session")
def classifier_spec():
    return get_spec(CLASSIFIER)


@pytest.fixture(scope="session")
def segmenter_spec():
    return get_spec(SEGMENTER)


def class_indices(spec) -> list[int]:
    return [spec.categories.index(c) for c in CATEGORIES]


def colour_image(rng: np.random.Generator, label: int, mix: float, size=(40, 32)) -> Image.Image:
    """An image of prototype ``label``'s colour, mixed with a random other prototype at weight ``mix``, plus mild noise."""
    other = rng.choice([k for k in range(len(PROTOTYPES)) if k != label])
    colour = (1 - mix) * PROTOTYPES[label] + mix * PROTOTYPES[other]
    pixels = colour[None, None, :] + rng.normal(0, 0.03, (size[1], size[0], 3))
    return Image.fromarray(np.clip(255 * pixels, 0, 255).astype(np.uint8))


def make_image_folder(root, per_class: int = 8, seed: int = 0, hard_share: float = 0.3, extra_folder: bool = True) -> list[int]:
    """One folder per class of :data:`FOLDERS`; ``hard_share`` of the images mix in another colour past the midpoint.

    Returns the true prototype of each image in sorted-path order (folders, then files).
    """
    rng = np.random.default_rng(seed)
    labels = {}
    for k, folder in enumerate(FOLDERS):
        (root / folder).mkdir(parents=True)
        for i in range(per_class):
            mix = rng.uniform(0.55, 0.8) if rng.random() < hard_share else rng.uniform(0, 0.35)
            colour_image(rng, k, mix).save(root / folder / f"{i:03d}.png")
            labels[f"{folder}/{i:03d}.png"] = k
    if extra_folder:
        (root / "not_a_class").mkdir()
        colour_image(rng, 0, 0.0).save(root / "not_a_class" / "x.png")
    return [labels[key] for key in sorted(labels)]


def make_labelled_folder(root, count: int = 60, seed: int = 0, shuffle: bool = False) -> tuple[list[str], list[int]]:
    """A flat folder of pure-colour images and ``labels.txt`` (class names, or a random permutation of them)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    truth = [k % len(FOLDERS) for k in range(count)]
    names = []
    for i, k in enumerate(truth):
        colour_image(rng, k, rng.uniform(0, 0.3)).save(root / f"img_{i:04d}.png")
        names.append(f"img_{i:04d}.png")
    given = list(rng.permutation(truth)) if shuffle else truth
    (root / "labels.txt").write_text("".join(f"{n}\t{CATEGORIES[k]}\n" for n, k in zip(names, given)))
    return names, [int(k) for k in given]


def block_image(rng: np.random.Generator, size=(40, 30), blocks=(2, 2)) -> tuple[Image.Image, np.ndarray]:
    """A photo of colour blocks and its mask (VOC indices: prototype p is class p + 1); some blocks blend in another colour."""
    width, height = size
    pixels = np.zeros((height, width, 3))
    mask = np.zeros((height, width), dtype=np.int64)
    for by in range(blocks[1]):
        for bx in range(blocks[0]):
            ys = slice(by * height // blocks[1], (by + 1) * height // blocks[1])
            xs = slice(bx * width // blocks[0], (bx + 1) * width // blocks[0])
            label = int(rng.integers(0, len(PROTOTYPES)))
            other = int(rng.integers(0, len(PROTOTYPES)))
            mix = rng.uniform(0.55, 0.75) if rng.random() < 0.25 else rng.uniform(0, 0.3)
            pixels[ys, xs] = (1 - mix) * PROTOTYPES[label] + mix * PROTOTYPES[other]
            mask[ys, xs] = label + 1
    mask[0, :] = 255  # an ignored border row, as VOC draws around objects
    photo = Image.fromarray(np.clip(255 * (pixels + rng.normal(0, 0.02, pixels.shape)), 0, 255).astype(np.uint8))
    return photo, mask


def make_mask_folder(root, count: int = 5, seed: int = 0, num_classes: int = 21) -> list[np.ndarray]:
    """``images/`` (PNG photos) + ``masks/`` (greyscale PNGs of class indices) + ``classes.txt``."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    masks = []
    for i in range(count):
        photo, mask = block_image(rng)
        photo.save(root / "images" / f"{i:03d}.png")
        Image.fromarray(mask.astype(np.uint8), mode="L").save(root / "masks" / f"{i:03d}.png")
        masks.append(mask)
    (root / "classes.txt").write_text("".join(f"class_{k}\n" for k in range(num_classes)))
    return masks


def palette_mask(mask: np.ndarray) -> Image.Image:
    image = Image.fromarray(mask.astype(np.uint8), mode="P")
    image.putpalette(voc_palette(256).reshape(-1).tolist())
    return image


def colour_classifier_loader(spec, device):
    """:class:`ColourClassifier` for ``spec``, built where it runs (a Ray actor's ``loader``: importable, so picklable)."""
    return ColourClassifier(spec, class_indices(spec)).eval()


def colour_segmenter_loader(spec, device):
    return ColourSegmenter(spec).eval()
