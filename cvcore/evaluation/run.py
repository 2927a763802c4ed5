"""One entry point for pages and the CLI: open a data folder for a model, evaluate it."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from cvcore.errors import InvalidInputError
from cvcore.evaluation.bootstrap import BootstrapSettings
from cvcore.evaluation.classification import DEFAULT_BATCH_SIZE, Progress, evaluate_classification
from cvcore.evaluation.datasets import (
    ClassificationDataset,
    SegmentationDataset,
    detect_layout,
    open_image_folder,
    open_labelled_folder,
    open_mask_folder,
    open_voc_folder,
    read_class_file,
)
from cvcore.evaluation.results import Evaluation
from cvcore.evaluation.segmentation import evaluate_segmentation
from cvcore.metrics import IGNORE_INDEX
from cvcore.registry import ModelSpec, Task

SEGMENTATION_LAYOUTS = ("voc", "images+masks")

Dataset = ClassificationDataset | SegmentationDataset


def open_dataset(
    root: str | Path,
    spec: ModelSpec,
    *,
    labels: str | Path | None = None,
    classes: str | Path | None = None,
    wnids: str | Path | None = None,
    split: str = "val",
    ignore_index: int = IGNORE_INDEX,
) -> Dataset:
    """The folder ``root`` read for ``spec``'s categories, in the layout :func:`detect_layout` finds.

    ``labels``: a labels file for a flat folder of images; ``classes``: the class file of an
    ``images/`` + ``masks/`` folder (default: the model's own categories); ``wnids``: a
    WordNet-id mapping for ImageNet-style folder names; ``split``: VOC's split;
    ``ignore_index``: the mask value not scored in ``images/`` + ``masks/`` folders (VOC: 255).
    """
    layout = detect_layout(root, labels=labels)
    _check_task(layout, spec, root)
    if layout == "voc":
        return open_voc_folder(root, spec.categories, split=split)
    if layout == "images+masks":
        names = read_class_file(classes) if classes is not None else tuple(spec.categories)
        if classes is not None and len(names) != len(spec.categories):
            raise InvalidInputError(
                f"The class file {Path(classes).name} lists {len(names)} classes but {spec.display_name}'s head has "
                f"{len(spec.categories)} outputs."
            )
        return open_mask_folder(root, names, ignore_index=ignore_index)
    if layout == "labels":
        return open_labelled_folder(root, labels, spec.categories, wnids_file=wnids)
    return open_image_folder(root, spec.categories, wnids_file=wnids)


def _check_task(layout: str, spec: ModelSpec, root: str | Path) -> None:
    wanted = Task.SEGMENTATION if layout in SEGMENTATION_LAYOUTS else Task.CLASSIFICATION
    if spec.task is not wanted:
        raise InvalidInputError(
            f"{spec.display_name} is a {spec.task.value} model ({len(spec.categories)} classes) but {root} is a "
            f"{layout} folder, which needs a {wanted.value} model."
        )


def evaluate(
    model: nn.Module,
    spec: ModelSpec,
    dataset: Dataset,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    limit: int | None = None,
    bootstrap: BootstrapSettings = BootstrapSettings(),
    progress: Progress | None = None,
) -> Evaluation:
    """Classification or segmentation evaluation, as ``dataset`` calls for."""
    if isinstance(dataset, SegmentationDataset):
        return evaluate_segmentation(model, spec, dataset, limit=limit, bootstrap=bootstrap, progress=progress)
    return evaluate_classification(
        model, spec, dataset, batch_size=batch_size, limit=limit, bootstrap=bootstrap, progress=progress
    )
