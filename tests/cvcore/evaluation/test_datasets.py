"""Folder layouts, class matching (names, WordNet ids from real mapping sources), labels files, fingerprints."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from PIL import Image

from cvcore.errors import InvalidInputError
from cvcore.evaluation.datasets import (
    detect_layout,
    fingerprint,
    match_classes,
    open_image_folder,
    open_labelled_folder,
    read_labels_file,
    read_wnid_mapping,
)
from cvcore.registry import get_spec

IMAGENET = get_spec("resnet18", metadata_only=True).categories


def image(path, colour=(10, 20, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(path)


def test_detect_layout(tmp_path):
    with pytest.raises(InvalidInputError, match="not a folder"):
        detect_layout(tmp_path / "missing")
    with pytest.raises(InvalidInputError, match="holds no images"):
        detect_layout(tmp_path)
    image(tmp_path / "flat" / "a.png")
    with pytest.raises(InvalidInputError, match="--labels"):
        detect_layout(tmp_path / "flat")
    assert detect_layout(tmp_path / "flat", labels="x.txt") == "labels"
    image(tmp_path / "tree" / "tabby" / "sub" / "a.png")
    assert detect_layout(tmp_path / "tree") == "imagefolder"
    (tmp_path / "seg" / "images").mkdir(parents=True)
    (tmp_path / "seg" / "masks").mkdir()
    assert detect_layout(tmp_path / "seg") == "images+masks"
    for folder in ("JPEGImages", "SegmentationClass"):
        (tmp_path / "devkit" / "VOCdevkit" / "VOC2012" / folder).mkdir(parents=True)
    assert detect_layout(tmp_path / "devkit") == "voc"


def test_names_match_ignoring_case_underscores_and_spaces():
    match = match_classes(
        ["Tiger_Cat", "great-white shark", "GOLDFISH", "Cardigan", "cardigan", "CARDIGAN", "zebra_crossing"], IMAGENET
    )
    assert match.indices == {
        "Tiger_Cat": IMAGENET.index("tiger cat"), "great-white shark": IMAGENET.index("great white shark"),
        "GOLDFISH": IMAGENET.index("goldfish"), "Cardigan": IMAGENET.index("Cardigan"), "cardigan": IMAGENET.index("cardigan"),
    }  # fmt: skip
    assert "ambiguous" in match.unmatched["CARDIGAN"]  # Pembroke's Cardigan (dog) or the cardigan (sweater)
    assert "no category" in match.unmatched["zebra_crossing"]


def test_wordnet_ids_need_a_real_mapping(tmp_path):
    match = match_classes(["n01440764", "n09999999"], IMAGENET)
    assert not match.indices and "no WordNet-id mapping" in match.unmatched["n01440764"]
    # The Kaggle release's LOC_synset_mapping.txt: line i is class i.
    loc = tmp_path / "LOC_synset_mapping.txt"
    loc.write_text("n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n")
    assert read_wnid_mapping(loc) == {"n01440764": 0, "n01443537": 1}
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("n01443537 1\nn01440764 0\n")
    assert read_wnid_mapping(pairs) == {"n01443537": 1, "n01440764": 0}
    keras = tmp_path / "imagenet_class_index.json"
    keras.write_text(json.dumps({"0": ["n01440764", "tench"], "1": ["n01443537", "goldfish"]}))
    assert read_wnid_mapping(keras) == {"n01440764": 0, "n01443537": 1}
    bad = tmp_path / "bad.txt"
    bad.write_text("tench 0\n")
    with pytest.raises(InvalidInputError, match="not a WordNet id"):
        read_wnid_mapping(bad)
    match = match_classes(["n01443537", "n09999999"], IMAGENET, read_wnid_mapping(loc), "mapping file LOC_synset_mapping.txt")
    assert match.indices == {"n01443537": 1} and "does not list" in match.unmatched["n09999999"]
    assert match.how == "by WordNet id (mapping file LOC_synset_mapping.txt)"


def test_torchvision_meta_bin_gives_the_sorted_wordnet_order(tmp_path):
    """torchvision.datasets.ImageNet writes meta.bin from the devkit; its 1000 ids in sorted order are the class indices."""
    wnids = [f"n{9_000_000 + 7 * i:08d}" for i in range(1000)]
    torch.save(({w: (f"class {i}",) for i, w in enumerate(reversed(wnids))}, []), tmp_path / "meta.bin")
    image(tmp_path / "val" / wnids[3] / "a.png")
    image(tmp_path / "val" / wnids[998] / "a.png")
    dataset = open_image_folder(tmp_path / "val", IMAGENET)
    assert dataset.classes == {wnids[3]: 3, wnids[998]: 998}
    assert "meta.bin" in dataset.matched_how


def test_labels_file_formats(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text(
        "filename,label\nILSVRC2012_val_00000001.JPEG 65\n\n# a comment\nb.png\ttiger cat\nc.png,Great_White_Shark\n"
    )
    assert read_labels_file(labels) == [
        ("ILSVRC2012_val_00000001.JPEG", "65"),
        ("b.png", "tiger cat"),
        ("c.png", "Great_White_Shark"),
    ]
    labels.write_text("only_a_name\n")
    with pytest.raises(InvalidInputError, match="line 1: expected 'filename label'"):
        read_labels_file(labels)


def test_labelled_folder_reports_what_matched_nothing(tmp_path):
    for name in ("a.png", "b.png", "c.png", "d.png"):
        image(tmp_path / name)
    labels = tmp_path / "labels.txt"
    labels.write_text("a.png 281\nb.png tiger_cat\nc.png 4000\nd.png unicorn\n")
    dataset = open_labelled_folder(tmp_path, labels, IMAGENET)
    assert [s.target for s in dataset.samples] == [281, IMAGENET.index("tiger cat")]
    assert dataset.skipped_images == 2 and set(dataset.unmatched) == {"4000", "unicorn"}
    assert "out of range" in dataset.unmatched["4000"]
    labels.write_text("a.png unicorn\nb.png dragon\n")
    with pytest.raises(InvalidInputError, match="None of the 2 classes .* matches the model's 1000 categories"):
        open_labelled_folder(tmp_path, labels, IMAGENET)
    labels.write_text("a.png 1\nmissing.png 2\n")
    with pytest.raises(InvalidInputError, match="1 of the 2 images .* not in"):
        open_labelled_folder(tmp_path, labels, IMAGENET)
    labels.write_text("../a.png 1\n")
    with pytest.raises(InvalidInputError, match="without '..'"):
        open_labelled_folder(tmp_path, labels, IMAGENET)


def test_fingerprint_is_the_sorted_file_list_with_sizes(tmp_path):
    image(tmp_path / "b" / "2.png")
    image(tmp_path / "a" / "1.png", (200, 0, 0))
    files = [tmp_path / "b" / "2.png", tmp_path / "a" / "1.png"]
    fp = fingerprint(tmp_path, "imagefolder", files)
    lines = sorted(f"{p.relative_to(tmp_path).as_posix()}\t{p.stat().st_size}" for p in files)
    assert fp.sha256 == hashlib.sha256("\n".join(lines).encode()).hexdigest()
    assert fp.files == 2 and fp.total_bytes == sum(p.stat().st_size for p in files)
    assert fingerprint(tmp_path, "imagefolder", files[::-1]) == fp  # order of listing does not matter
    image(tmp_path / "a" / "1.png", (1, 2, 3))  # same name, other content, other size
    (tmp_path / "a" / "1.png").write_bytes((tmp_path / "a" / "1.png").read_bytes() + b"\0")
    assert fingerprint(tmp_path, "imagefolder", files).sha256 != fp.sha256


def test_an_empty_class_folder_tree_is_refused(tmp_path):
    (tmp_path / "tabby").mkdir()
    (tmp_path / "tabby" / "notes.txt").write_text("no images here")
    with pytest.raises(InvalidInputError, match="holds no images"):
        detect_layout(tmp_path)
