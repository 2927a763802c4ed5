"""Evaluation folders: find the layout, list the images with their labels, fingerprint the files.

Four layouts (:func:`detect_layout`):

- ``voc``: a PASCAL VOC devkit folder (``JPEGImages/``, ``SegmentationClass/``,
  ``ImageSets/Segmentation/<split>.txt``; see :mod:`cvcore.voc`);
- ``images+masks``: ``images/`` and ``masks/`` with the same relative names (``masks/a/b.png``
  for ``images/a/b.jpg``), masks single-channel PNGs of class indices (CamVid/Cityscapes
  exports), plus a class file;
- ``labels``: a flat folder of images plus a labels file (:func:`read_labels_file`);
- ``imagefolder``: one sub-folder per class (torchvision's ImageFolder), named after the
  model's categories or by WordNet id (ImageNet's ``n01440764``).

Class names match a model's categories ignoring case, ``_``, ``-`` and spaces
(``tiger_cat`` is ``tiger cat``); a name two categories share that way (ImageNet's
``Cardigan`` and ``cardigan``) must be spelt exactly. WordNet ids need a real mapping to
class indices: torchvision ships none for ImageNet's 1000 classes, so they come from a
mapping file the user gives (:func:`read_wnid_mapping`), else torchvision's ``meta.bin``
(written from the official devkit by ``torchvision.datasets.ImageNet``) beside the data,
else torchvision's Imagenette table (10 classes, matched by name).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from cvcore.errors import InvalidInputError
from cvcore.metrics import IGNORE_INDEX

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff")  # lossless only: a JPEG mask has wrong labels at every edge
# ImageNet val is 50 000 images; a folder beyond this is evaluated with a limit.
MAX_IMAGES = 100_000
MAX_CLASSES = 100_000
MAX_TEXT_FILE_BYTES = 64 * 2**20
WNID_PATTERN = re.compile(r"^n\d{8}$")
LAYOUTS = ("voc", "images+masks", "labels", "imagefolder")


# --- fingerprint ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetFingerprint:
    """What identifies the data: the sorted relative file list with sizes, hashed."""

    root: str
    layout: str
    files: int  # images, masks and label files the layout reads
    total_bytes: int
    sha256: str  # of the lines "relative/path<TAB>size", sorted; label files also add their content's sha256

    @property
    def short(self) -> str:
        return self.sha256[:12]


def fingerprint(root: Path, layout: str, files: Sequence[Path], text_files: Sequence[Path] = ()) -> DatasetFingerprint:
    """Hash of the sorted relative paths and sizes of ``files``; ``text_files`` (labels, classes) add their content hash."""
    lines, total = [], 0
    for path in files:
        size = path.stat().st_size
        total += size
        lines.append(f"{_relative(path, root)}\t{size}")
    for path in text_files:
        data = path.read_bytes()
        total += len(data)
        lines.append(f"{_relative(path, root)}\t{len(data)}\t{hashlib.sha256(data).hexdigest()}")
    digest = hashlib.sha256("\n".join(sorted(lines)).encode("utf-8")).hexdigest()
    return DatasetFingerprint(str(root), layout, len(lines), total, digest)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:  # a labels file kept outside the data folder: its name only
        return f"<outside>/{path.name}"


# --- class names ----------------------------------------------------------------------------------


def normalize_name(name: str) -> str:
    """``Tiger_Cat`` -> ``tigercat``: case, ``_``, ``-`` and whitespace ignored."""
    return re.sub(r"[\s_\-]+", "", name).casefold()


def is_wnid(name: str) -> bool:
    return bool(WNID_PATTERN.match(name))


@dataclass(frozen=True)
class ClassMatch:
    indices: dict[str, int]  # dataset class -> model class index
    unmatched: dict[str, str]  # dataset class -> why it matched nothing
    how: str  # "by name", "by WordNet id (...)"


def match_classes(
    names: Sequence[str], categories: Sequence[str], wnids: Mapping[str, int] | None = None, wnid_source: str = ""
) -> ClassMatch:
    """Map dataset class names (folders, labels) to model class indices, by name or by WordNet id."""
    exact = {c.replace("_", " "): i for i, c in enumerate(categories)}
    loose: dict[str, list[int]] = {}
    for i, c in enumerate(categories):
        loose.setdefault(normalize_name(c), []).append(i)
    indices, unmatched = {}, {}
    used_wnids = False
    for name in names:
        if is_wnid(name):
            if wnids is None:
                unmatched[name] = "a WordNet id, but no WordNet-id mapping was given (see --wnids)"
            elif name in wnids and 0 <= wnids[name] < len(categories):
                indices[name] = wnids[name]
                used_wnids = True
            else:
                unmatched[name] = f"a WordNet id the mapping{f' ({wnid_source})' if wnid_source else ''} does not list"
            continue
        spelt = name.replace("_", " ")
        candidates = loose.get(normalize_name(name), [])
        if spelt in exact:
            indices[name] = exact[spelt]
        elif len(candidates) == 1:
            indices[name] = candidates[0]
        elif candidates:
            options = " or ".join(repr(categories[i]) for i in candidates)
            unmatched[name] = f"ambiguous: {options}; spell it exactly"
        else:
            unmatched[name] = "no category of the model has this name"
    how = "by name" if not used_wnids else f"by WordNet id ({wnid_source})" if wnid_source else "by WordNet id"
    return ClassMatch(indices, unmatched, how)


def read_class_file(path: str | Path) -> tuple[str, ...]:
    """One class name per line, in class-index order (blank lines and ``#`` comments skipped)."""
    lines = _text_lines(path, "class file")
    names = tuple(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))
    if not names:
        raise InvalidInputError(f"The class file {path} lists no classes.")
    if len(names) > MAX_CLASSES:
        raise InvalidInputError(f"The class file {path} lists {len(names):,} classes; at most {MAX_CLASSES:,} are accepted.")
    return names


def read_wnid_mapping(path: str | Path) -> dict[str, int]:
    """WordNet id -> class index from a user's file. Accepted:

    - one WordNet id per line, first on the line, in class-index order (``LOC_synset_mapping.txt``
      of the Kaggle ImageNet release: ``n01440764 tench, Tinca tinca``; ``synsets.txt``);
    - ``n01440764 0`` lines (an id and its index);
    - Keras' ``imagenet_class_index.json``: ``{"0": ["n01440764", "tench"], ...}``.
    """
    path = Path(path).expanduser()
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_bytes()[:MAX_TEXT_FILE_BYTES])
            mapping = {str(v[0]): int(k) for k, v in data.items()}
        except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise InvalidInputError(f"{path} is not an imagenet_class_index.json-style mapping ({exc}).") from exc
    else:
        rows = [line.split() for line in _text_lines(path, "WordNet-id mapping") if line.strip() and not line.startswith("#")]
        if rows and all(len(r) == 2 and r[1].isdigit() for r in rows):
            mapping = {r[0]: int(r[1]) for r in rows}
        else:
            mapping = {r[0]: i for i, r in enumerate(rows)}
    bad = [w for w in mapping if not is_wnid(w)]
    if not mapping or bad:
        raise InvalidInputError(
            f"{path} is not a WordNet-id mapping: {f'{bad[0]!r} is not a WordNet id (n + 8 digits)' if bad else 'it is empty'}."
        )
    return mapping


def builtin_wnid_mapping(categories: Sequence[str], data_root: Path) -> tuple[dict[str, int], str] | None:
    """A WordNet-id mapping that needs no file from the user, with its source; None when there is none.

    torchvision's ``meta.bin`` (in the data folder or its parent) lists ImageNet's 1000 ids;
    their sorted order is the class order of torchvision's ImageNet weights (ImageFolder sorts
    the training folders). Otherwise torchvision's Imagenette table gives 10 ids whose names
    are matched to ``categories``.
    """
    if len(categories) == 1000:
        for folder in (data_root, data_root.parent):
            if (folder / "meta.bin").is_file():
                from torchvision.datasets.imagenet import load_meta_file  # torch.load(weights_only=True)

                try:
                    wnid_to_classes = load_meta_file(str(folder))[0]
                except (RuntimeError, OSError, ValueError) as exc:
                    raise InvalidInputError(f"{folder / 'meta.bin'} cannot be read ({exc}).") from exc
                if len(wnid_to_classes) == 1000:
                    return {w: i for i, w in enumerate(sorted(wnid_to_classes))}, f"torchvision meta.bin in {folder}"
    try:
        from torchvision.datasets.imagenette import Imagenette

        table = dict(Imagenette._WNID_TO_CLASS)  # private, so read defensively
    except (ImportError, AttributeError):
        return None
    exact = {c: i for i, c in enumerate(categories)}
    mapping = {w: exact[names[0]] for w, names in table.items() if names and names[0] in exact}
    return (mapping, "torchvision's Imagenette table (10 classes)") if mapping else None


def _text_lines(path: str | Path, what: str) -> list[str]:
    path = Path(path).expanduser()
    try:
        if path.stat().st_size > MAX_TEXT_FILE_BYTES:
            raise InvalidInputError(f"The {what} {path} is over {MAX_TEXT_FILE_BYTES // 2**20} MB.")
        return path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise InvalidInputError(f"No {what} at {path}.") from None
    except IsADirectoryError:
        raise InvalidInputError(f"The {what} {path} is a folder, not a file.") from None
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"The {what} {path} is not UTF-8 text ({exc.reason}).") from None
    except OSError as exc:
        raise InvalidInputError(f"Cannot read the {what} {path}: {exc.strerror or exc}.") from None


# --- layouts ----------------------------------------------------------------------------------------


def _images_in(folder: Path, *, recursive: bool) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    return sorted(
        p for p in folder.glob(pattern) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.name.startswith(".")
    )


def voc_root(root: Path) -> Path | None:
    """The VOC folder at ``root`` or inside a devkit (``VOC2012/``, ``VOCdevkit/VOC2012/``)."""
    candidates = [root, root / "VOC2012", root / "VOCdevkit" / "VOC2012"]
    for candidate in candidates:
        if (candidate / "JPEGImages").is_dir() and (candidate / "SegmentationClass").is_dir():
            return candidate
    return None


def detect_layout(root: str | Path, *, labels: str | Path | None = None) -> str:
    """Which of :data:`LAYOUTS` ``root`` is; a one-line error for a missing or empty folder."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InvalidInputError(f"{root} is not a folder" + (": it is a file." if root.exists() else ": it does not exist."))
    if labels is not None:
        return "labels"
    if voc_root(root) is not None:
        return "voc"
    if (root / "images").is_dir() and (root / "masks").is_dir():
        return "images+masks"
    if any(p.is_dir() and not p.name.startswith(".") and _images_in(p, recursive=True) for p in root.iterdir()):
        return "imagefolder"
    if _images_in(root, recursive=False):
        raise InvalidInputError(
            f"{root} holds images but no class folders: give a labels file (--labels FILE, lines 'filename label') "
            "or sort the images into one folder per class."
        )
    raise InvalidInputError(
        f"{root} holds no images: expected one folder per class, images/ + masks/, a VOC folder, or images with --labels."
    )


# --- classification ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    relative: str  # the image's id in results: its path relative to the data folder
    target: int  # model class index


@dataclass(frozen=True)
class ClassificationDataset:
    root: Path
    layout: str  # "imagefolder" or "labels"
    samples: tuple[LabelledImage, ...]
    classes: dict[str, int]  # dataset class (folder or label) -> model class index, the classes evaluated
    unmatched: dict[str, str]  # dataset classes that matched no category -> why
    skipped_images: int  # images of unmatched classes, left out
    categories_without_images: tuple[str, ...]  # model categories no evaluated image has
    matched_how: str
    fingerprint: DatasetFingerprint
    limit: int | None = None

    def limited(self, limit: int | None) -> ClassificationDataset:
        """The first ``limit`` images, taken round-robin over classes so that a limit keeps every class."""
        if limit is None or limit >= len(self.samples):
            return self
        if limit < 1:
            raise InvalidInputError(f"The image limit must be at least 1; got {limit}.")
        if self.layout == "labels":
            chosen = self.samples[:limit]  # the labels file's own order (ImageNet's val order is already mixed)
        else:
            chosen = _round_robin(self.samples, limit)
        return replace(self, samples=tuple(chosen), limit=limit)

    def report(self) -> list[str]:
        """What the user must know about the matching, one line each."""
        lines = [f"{_count(len(self.classes), 'class')} matched {self.matched_how}."]
        if self.unmatched:
            listed = "; ".join(f"{name!r}: {why}" for name, why in list(self.unmatched.items())[:10])
            more = f" (and {len(self.unmatched) - 10} more)" if len(self.unmatched) > 10 else ""
            lines.append(
                f"{_count(len(self.unmatched), 'class')} matched nothing and left out "
                f"({_count(self.skipped_images, 'image')}): {listed}{more}."
            )
        if self.categories_without_images:
            lines.append(f"{len(self.categories_without_images)} of the model's categories have no image here.")
        return lines


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}es" if word.endswith("s") else f"{n} {word}s"


def _round_robin(samples: Sequence[LabelledImage], limit: int) -> list[LabelledImage]:
    by_class: dict[int, list[LabelledImage]] = {}
    for sample in samples:
        by_class.setdefault(sample.target, []).append(sample)
    queues = list(by_class.values())
    chosen: list[LabelledImage] = []
    depth = 0
    while len(chosen) < limit:
        for queue in queues:
            if depth < len(queue) and len(chosen) < limit:
                chosen.append(queue[depth])
        depth += 1
    return chosen


def _wnid_mapping(
    names: Sequence[str], categories: Sequence[str], root: Path, wnids_file: str | Path | None
) -> tuple[dict[str, int] | None, str]:
    if wnids_file is not None:
        return read_wnid_mapping(wnids_file), f"mapping file {Path(wnids_file).name}"
    if any(is_wnid(n) for n in names):
        found = builtin_wnid_mapping(categories, root)
        if found is not None:
            return found
    return None, ""


def open_image_folder(
    root: str | Path, categories: Sequence[str], *, wnids_file: str | Path | None = None
) -> ClassificationDataset:
    """An ImageFolder tree: each sub-folder a class named after a category or by WordNet id."""
    root = Path(root).expanduser()
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    images = {f.name: _images_in(f, recursive=True) for f in folders}
    images = {name: files for name, files in images.items() if files}
    if not images:
        raise InvalidInputError(f"{root} has no class folder with images in it.")
    wnids, source = _wnid_mapping(list(images), categories, root, wnids_file)
    match = match_classes(list(images), categories, wnids, source)
    _refuse_no_match(root, match, len(categories))
    samples = [
        LabelledImage(p, p.relative_to(root).as_posix(), match.indices[name])
        for name, files in images.items()
        if name in match.indices
        for p in files
    ]
    _check_count(root, len(samples))
    skipped = sum(len(files) for name, files in images.items() if name not in match.indices)
    all_files = [p for files in images.values() for p in files]
    text_files = [Path(wnids_file).expanduser()] if wnids_file is not None else []
    return ClassificationDataset(
        root, "imagefolder", tuple(samples), match.indices, match.unmatched, skipped,
        _missing_categories(categories, match.indices.values()), match.how, fingerprint(root, "imagefolder", all_files, text_files),
    )  # fmt: skip


def read_labels_file(path: str | Path) -> list[tuple[str, str]]:
    """``filename label`` lines -> (filename, label) pairs.

    The file name comes first (relative to the data folder, no spaces), then a tab, a comma
    or spaces, then the label: a class index (``0``-based, the model's order), a class
    name (matched like folder names; it may contain spaces) or a WordNet id. Blank lines,
    ``#`` comments and a ``filename,label`` / ``image label`` header are skipped.
    """
    pairs = []
    for number, line in enumerate(_text_lines(path, "labels file"), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = re.split(r"\t|,|\s+", text, maxsplit=1)
        if len(parts) != 2 or not parts[1].strip():
            raise InvalidInputError(f"{path}, line {number}: expected 'filename label', got {text[:80]!r}.")
        name, label = parts[0].strip(), parts[1].strip()
        if number == 1 and name.lower() in ("filename", "file", "image", "path", "name") and not Path(name).suffix:
            continue
        pairs.append((name, label))
    if not pairs:
        raise InvalidInputError(f"The labels file {path} lists no images.")
    return pairs


def open_labelled_folder(
    root: str | Path, labels_file: str | Path, categories: Sequence[str], *, wnids_file: str | Path | None = None
) -> ClassificationDataset:
    """A folder of images plus a labels file (:func:`read_labels_file`), e.g. ImageNet's val folder."""
    root = Path(root).expanduser()
    labels_file = Path(labels_file).expanduser()
    pairs = read_labels_file(labels_file)
    _check_count(root, len(pairs))
    outside = [name for name, _ in pairs if Path(name).is_absolute() or ".." in Path(name).parts]
    if outside:
        raise InvalidInputError(f"The labels file names {outside[0]!r}: file names must be relative to {root}, without '..'.")
    missing = [name for name, _ in pairs if not (root / name).is_file()]
    if missing:
        raise InvalidInputError(
            f"{len(missing)} of the {len(pairs)} images the labels file lists are not in {root} (first: {missing[0]!r})."
        )
    names = list(dict.fromkeys(label for _, label in pairs if not label.isdigit()))
    wnids, source = _wnid_mapping(names, categories, root, wnids_file)
    match = match_classes(names, categories, wnids, source)
    indices = dict(match.indices)
    unmatched = dict(match.unmatched)
    for label in dict.fromkeys(label for _, label in pairs if label.isdigit()):
        if int(label) < len(categories):
            indices[label] = int(label)
        else:
            unmatched[label] = f"class index out of range: the model has {len(categories)} classes (0..{len(categories) - 1})"
    _refuse_no_match(root, ClassMatch(indices, unmatched, match.how), len(categories))
    samples = [LabelledImage(root / name, name, indices[label]) for name, label in pairs if label in indices]
    text = [labels_file] + ([Path(wnids_file).expanduser()] if wnids_file is not None else [])
    return ClassificationDataset(
        root, "labels", tuple(samples), indices, unmatched, len(pairs) - len(samples),
        _missing_categories(categories, indices.values()), match.how if names else "by class index",
        fingerprint(root, "labels", [root / name for name, _ in pairs], text),
    )  # fmt: skip


def _refuse_no_match(root: Path, match: ClassMatch, num_categories: int) -> None:
    if match.indices:
        return
    examples = "; ".join(f"{name!r}: {why}" for name, why in list(match.unmatched.items())[:3])
    raise InvalidInputError(
        f"None of the {len(match.unmatched)} classes in {root} matches the model's {num_categories} categories ({examples})."
    )


def _check_count(root: Path, count: int) -> None:
    if count > MAX_IMAGES:
        raise InvalidInputError(f"{root} has {count:,} images; at most {MAX_IMAGES:,} are evaluated at once: pass a limit.")


def _missing_categories(categories: Sequence[str], used) -> tuple[str, ...]:
    present = set(used)
    return tuple(c for i, c in enumerate(categories) if i not in present)


# --- segmentation -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaskedImage:
    path: Path
    mask: Path
    relative: str  # the image's id in results


@dataclass(frozen=True)
class SegmentationDataset:
    root: Path
    layout: str  # "voc" or "images+masks"
    samples: tuple[MaskedImage, ...]
    class_names: tuple[str, ...]
    ignore_index: int
    fingerprint: DatasetFingerprint
    split: str | None = None  # VOC's ImageSets/Segmentation/<split>.txt
    mask_format: str = "indices"  # "indices" (single-channel) or "voc" (palette, greyscale or VOC-coloured RGB)
    notes: tuple[str, ...] = ()
    limit: int | None = None

    def limited(self, limit: int | None) -> SegmentationDataset:
        """The first ``limit`` images in file order."""
        if limit is None or limit >= len(self.samples):
            return self
        if limit < 1:
            raise InvalidInputError(f"The image limit must be at least 1; got {limit}.")
        return replace(self, samples=self.samples[:limit], limit=limit)


def open_mask_folder(root: str | Path, class_names: Sequence[str], *, ignore_index: int = IGNORE_INDEX) -> SegmentationDataset:
    """``images/`` + ``masks/`` with the same relative names; masks hold class indices, ``ignore_index`` not scored."""
    root = Path(root).expanduser()
    images = _images_in(root / "images", recursive=True)
    if not images:
        raise InvalidInputError(f"{root / 'images'} holds no images.")
    _check_count(root, len(images))
    masks = {
        p.relative_to(root / "masks").with_suffix("").as_posix(): p
        for p in (root / "masks").glob("**/*")
        if p.is_file() and p.suffix.lower() in MASK_SUFFIXES
    }
    samples, missing = [], []
    for image in images:
        key = image.relative_to(root / "images").with_suffix("").as_posix()
        if key in masks:
            samples.append(MaskedImage(image, masks[key], image.relative_to(root).as_posix()))
        else:
            missing.append(image.relative_to(root).as_posix())
    if missing:
        jpeg = [p for p in (root / "masks").glob("**/*") if p.suffix.lower() in (".jpg", ".jpeg")]
        hint = " (JPEG masks are not accepted: their lossy compression changes labels at every edge)" if jpeg else ""
        raise InvalidInputError(
            f"{len(missing)} of {len(images)} images have no mask in {root / 'masks'} (first: {missing[0]!r}; "
            f"expected masks/<same name>.png){hint}."
        )
    _check_ignore_index(ignore_index)
    notes = []
    extra = len(masks) - len(samples)
    if extra:
        notes.append(f"{extra} masks have no image and were not used.")
    files = [p for s in samples for p in (s.path, s.mask)]
    return SegmentationDataset(
        root,
        "images+masks",
        tuple(samples),
        tuple(class_names),
        ignore_index,
        fingerprint(root, "images+masks", files),
        notes=tuple(notes),
    )


def open_voc_folder(root: str | Path, class_names: Sequence[str], *, split: str = "val") -> SegmentationDataset:
    """A VOC folder (or a devkit holding one): the split's images and their ``SegmentationClass`` masks."""
    from cvcore.voc import open_voc

    root = Path(root).expanduser()
    folder = open_voc(voc_root(root) or root, split)
    _check_count(root, len(folder.ids))
    samples = []
    for image_id in folder.ids:
        mask = folder.mask_path(image_id)
        if not mask.is_file():
            raise InvalidInputError(f"{image_id!r} is listed in {split}.txt but has no mask {mask.relative_to(folder.root)}.")
        image = folder.image_path(image_id)
        samples.append(MaskedImage(image, mask, image.relative_to(folder.root).as_posix()))
    listing = folder.root / "ImageSets" / "Segmentation" / f"{split}.txt"
    files = [p for s in samples for p in (s.path, s.mask)]
    return SegmentationDataset(
        folder.root, "voc", tuple(samples), tuple(class_names), IGNORE_INDEX,
        fingerprint(folder.root, "voc", files, [listing]), split=split, mask_format="voc",
    )  # fmt: skip


def _check_ignore_index(ignore_index: int) -> None:
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int) or not 0 <= ignore_index <= 65535:
        raise InvalidInputError(f"The ignore index must be an integer from 0 to 65535; got {ignore_index!r}.")
