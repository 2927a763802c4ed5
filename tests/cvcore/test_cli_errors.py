"""Every `python -m cvcore` subcommand, given bad input, prints one clear line, exits non-zero, and leaves no file.

Bad input: a missing file, a folder, a file that is not an image or a checkpoint, an
unknown model, sizes 0 / negative / 100000, an unknown device, an output folder that is
missing or unwritable, a full disk (ENOSPC from the file system, mocked; and a real 16 KB
tmpfs where this machine lets tests mount one), and empty or inconsistent dataset folders.
"""

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cvcore.cli import SUBCOMMAND_MODULES, main
from cvcore.samples import get_sample
from tests.cvcore.benchmark.conftest import store_results
from tests.cvcore.test_voc import make_voc

ROOT = Path(__file__).resolve().parents[2]
PHOTO = str(get_sample("chelsea").path)
LITE = "efficientnet_lite0"
LRASPP = "lraspp_mobilenet_v3_large"
UNWRITABLE = "/sys"  # sysfs refuses new files, for root too (a chmod would not stop root)
FAST_EXPLAIN = ["--method", "saliency", "--steps", "2", "--random-maps", "0"]


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Files and folders the cases refer to, and an empty torch.hub cache and cvlens home."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    (tmp_path / "folder").mkdir()
    (tmp_path / "notimage.png").write_text("name,score\nalice,3\n")
    (tmp_path / "resnet18-f37072fd.pth").write_text("not a checkpoint")
    (tmp_path / "out").mkdir()
    (tmp_path / "emptyvoc").mkdir()
    make_voc(tmp_path / "voc", count=1)
    make_voc(tmp_path / "badvoc", count=2)
    store_results("stored", extra_paths=[tmp_path / "results.jsonl"])  # batch sizes 1 and 4, modes fp32 and bf16
    (tmp_path / "badvoc" / "SegmentationClass" / "img1.png").unlink()  # one photo without its mask
    return {
        "photo": PHOTO, "missing": str(tmp_path / "absent.png"), "folder": str(tmp_path / "folder"),
        "notimage": str(tmp_path / "notimage.png"), "badweights": str(tmp_path / "resnet18-f37072fd.pth"),
        "out": str(tmp_path / "out"), "nofolder": str(tmp_path / "no" / "such"), "emptyvoc": str(tmp_path / "emptyvoc"),
        "voc": str(tmp_path / "voc"), "badvoc": str(tmp_path / "badvoc"), "unwritable": UNWRITABLE,
        "results": str(tmp_path / "results.jsonl"),
    }  # fmt: skip


# (id, argv with {placeholders}, words the one line must contain)
CASES = [
    # models
    ("models-unknown-family", "models --family Nope", "Unknown family 'Nope'"),
    ("models-years-reversed", "models --years 2020 2010", "FROM <= TO"),
    ("models-unknown-task", "models --task detection", "invalid choice"),
    ("models-unknown-device", "--device quantum models", "Unknown device 'quantum'"),
    # compare
    ("compare-unknown-model", "compare resnet5", "Unknown model 'resnet5'"),
    ("compare-missing-folder", "compare --html {nofolder}/c.html", "does not exist"),
    ("compare-unwritable", "compare --html {unwritable}/c.html", "permission denied"),
    ("compare-into-a-folder", "compare --html {folder}", "it is a folder"),
    ("compare-unknown-device", "--device gpu7 compare", "Unknown device 'gpu7'"),
    ("compare-measured-axis-alone", "compare --x throughput", "name the stored sweep with --benchmark"),
    ("compare-benchmark-missing", "compare --x latency --benchmark {missing} --batch 1", "No stored sweep"),
    ("compare-benchmark-not-results", "compare --x latency --benchmark {notimage} --batch 1", "holds no benchmark rows"),
    ("compare-benchmark-batch-absent", "compare --x memory --benchmark {results} --batch 8", "its batch sizes: 1, 4"),
    ("compare-benchmark-no-batch", "compare --x memory --benchmark stored", "needs --batch N; stored.jsonl holds batch"),
    ("compare-benchmark-batch-0", "compare --x memory --benchmark stored --batch 0", "--batch: must be from 1 to 256, got 0"),
    ("compare-benchmark-mode-absent", "compare --x memory --benchmark stored --batch 4 --mode fp16", "no mode 'fp16'"),
    ("compare-benchmark-unknown-mode", "compare --x memory --benchmark stored --batch 4 --mode fp8", "Unknown runtime mode"),
    ("compare-benchmark-machine", "compare --benchmark stored --batch 4 --machine nope", "no machine 'nope'; it has: lab-laptop"),
    # analyze
    ("analyze-no-model", "analyze", "Name a model"),
    ("analyze-unknown-model", "analyze resnet5", "Unknown model 'resnet5'"),
    ("analyze-size-0", "analyze resnet18 --input-size 0 0", "16 and 4096, got (0, 0)"),
    ("analyze-size-negative", "analyze resnet18 --input-size -5 224", "16 and 4096, got (-5, 224)"),
    ("analyze-size-100000", "analyze resnet18 --input-size 100000 100000", "16 and 4096, got (100000, 100000)"),
    ("analyze-size-vit", "analyze vit_b_16 --input-size 100 100", "accepts only 224x224"),
    ("analyze-size-text", "analyze resnet18 --input-size a b", "invalid int value"),
    ("analyze-unknown-device", "--device cuda:x analyze resnet18", "Unknown device 'cuda:x'"),
    # weights
    ("weights-import-missing", "weights import {missing}", "No such file"),
    ("weights-import-folder", "weights import {folder}", "is a folder"),
    ("weights-import-not-a-checkpoint", "weights import {badweights}", "torchvision's file is 44.7 MB"),
    ("weights-fetch-unknown-model", "weights fetch resnet5", "Unknown model 'resnet5'"),
    ("weights-fetch-unknown-set", "weights fetch --set nope", "Unknown weight set"),
    ("weights-status-unknown-device", "--device tpu weights status", "Unknown device 'tpu'"),
    # segment
    ("segment-missing-file", "segment {missing} -m " + LITE, "No such image file"),
    ("segment-folder", "segment {folder} -m " + LITE, "is a folder, not an image file"),
    ("segment-not-an-image", "segment {notimage} -m " + LITE, "not an image cvlens can read"),
    ("segment-unknown-model", "segment {photo} -m resnet5", "Unknown model 'resnet5'"),
    ("segment-no-weights", "segment {photo} -m " + LRASPP, "not on this machine"),
    ("segment-top-0", "segment {photo} -m " + LITE + " --top 0", "--top: must be from 1 to 1000, got 0"),
    ("segment-top-negative", "segment {photo} -m " + LITE + " --top -1", "--top: must be from 1 to 1000, got -1"),
    ("segment-top-100000", "segment {photo} -m " + LITE + " --top 100000", "--top: must be from 1 to 1000"),
    ("segment-opacity", "segment {photo} -m " + LITE + " --opacity 3", "--opacity: must be from 0 to 1"),
    ("segment-unknown-device", "--device quantum segment {photo} -m " + LITE, "Unknown device 'quantum'"),
    ("segment-out-missing-folder", "segment {photo} -m " + LITE + " --out {nofolder}/o.png", "does not exist"),
    ("segment-mask-unwritable", "segment {photo} -m " + LITE + " --mask-out {unwritable}/m.png", "permission denied"),
    ("segment-table-unknown", "segment {photo} -m " + LITE + " --table areas", "invalid choice"),
    ("segment-table-two-models", "segment {photo} -m " + LITE + " -m efficientnet_lite1 --table classes", "takes 1 --model; got 2"),
    ("segment-disagreement-one-model", "segment {photo} -m " + LITE + " --table disagreement", "takes 2 --model; got 1"),
    ("segment-scores-no-mask", "segment {photo} -m " + LITE + " --table scores", "--mask goes with --table scores"),
    ("segment-scores-coarse", "segment {photo} -m " + LITE + " --table scores --mask {photo}", "coarse"),
    ("segment-table-json", "segment {photo} -m " + LITE + " --table classes --format json", "use --format table or csv"),
    # evaluate
    ("evaluate-limit-negative", "evaluate -m " + LRASPP + " --data {voc} --limit -1", "--limit: must be from 1"),
    ("evaluate-limit-0", "evaluate -m " + LRASPP + " --data {voc} --limit 0", "--limit: must be from 1"),
    ("evaluate-limit-10000000", "evaluate -m " + LRASPP + " --data {voc} --limit 10000000", "--limit: must be from 1 to"),
    ("evaluate-empty-folder", "evaluate -m " + LRASPP + " --data {emptyvoc}", "holds no images: expected one folder per class"),
    ("evaluate-inconsistent-folder", "evaluate -m " + LRASPP + " --data {badvoc}", "inconsistent: 1 of the 2 listed images"),
    ("evaluate-missing-folder", "evaluate -m " + LRASPP + " --data {nofolder}", "does not exist"),
    ("evaluate-data-is-a-file", "evaluate -m " + LRASPP + " --data {photo}", "it is a file"),
    ("evaluate-unknown-model", "evaluate -m resnet5 --data {voc}", "Unknown model 'resnet5'"),
    ("evaluate-coarse-model", "evaluate -m " + LITE + " --data {voc}", "is a classification model (1000 classes) but"),
    ("evaluate-no-weights", "evaluate -m " + LRASPP + " --data {voc}", "not on this machine"),
    ("evaluate-unknown-device", "--device quantum evaluate -m " + LRASPP + " --data {voc}", "Unknown device"),
    ("evaluate-ray-unreachable", "evaluate -m " + LRASPP + " --data {voc} --ray 127.0.0.1:1", "Cannot reach the Ray cluster at"),
    ("evaluate-ray-bad-address", "evaluate -m " + LRASPP + " --data {voc} --ray host:port", "is not a cluster address"),
    # explain
    ("explain-missing-file", "explain {missing}", "No such image file"),
    ("explain-folder", "explain {folder}", "is a folder, not an image file"),
    ("explain-not-an-image", "explain {notimage}", "not an image cvlens can read"),
    ("explain-unknown-model", "explain {photo} --model resnet5", "Unknown model 'resnet5'"),
    ("explain-not-a-classifier", "explain {photo} --model " + LRASPP, "not a classifier"),
    ("explain-steps-0", "explain {photo} --steps 0", "--steps: must be from 1 to 1000, got 0"),
    ("explain-steps-negative", "explain {photo} --steps -3", "--steps: must be from 1 to 1000, got -3"),
    ("explain-steps-100000", "explain {photo} --steps 100000", "--steps: must be from 1 to 1000"),
    ("explain-maps-100000", "explain {photo} --random-maps 100000", "--random-maps: must be from 0 to 99"),
    ("explain-target", "explain {photo} --target 100000", "out of range"),
    ("explain-grad-cam-layer", "explain {photo} --layer classifier " + " ".join(FAST_EXPLAIN[2:]), "not a spatial map"),
    ("explain-out-missing-folder", "explain {photo} --out {nofolder}/m.png", "does not exist"),
    ("explain-curves-unwritable", "explain {photo} --curves-html {unwritable}/c.html", "permission denied"),
    ("explain-unknown-device", "--device quantum explain {photo}", "Unknown device"),
    ("explain-several-methods", "explain {photo} --method saliency --method grad_cam", "go with --faithfulness"),
    ("explain-csv-without-scores", "explain {photo} --format csv", "go with --faithfulness"),
    ("explain-scores-json", "explain {photo} --faithfulness --format json", "prints a table"),
    ("explain-scores-out", "explain {photo} --faithfulness --out {out}/m.png", "drop --faithfulness"),
    ("explain-scores-unknown-method", "explain {photo} --method saliency --method nope --faithfulness", "nope"),
    # papers
    ("graph-unknown-model", "graph resnet5", "Unknown model 'resnet5'"),
    ("graph-out-missing-folder", "graph resnet18 --out {nofolder}/g.svg", "does not exist"),
    ("import-model-missing", "import-model {missing} --arch resnet18 --name mine", "No such file"),
    ("import-model-not-a-checkpoint", "import-model {notimage} --arch resnet18 --name mine", "cannot be read as a PyTorch"),
    ("import-model-unknown-arch", "import-model {missing} --arch resnet5 --name mine", "resnet5"),
    ("papers-unknown-paper", "papers nope", "Unknown paper 'nope'"),
    ("papers-unknown-table", "papers resnet --table 'Table 99'", "resnet has no 'Table 99'; its tables are: Table 1"),
    ("papers-unknown-format", "papers resnet --format docx", "invalid choice"),
    ("papers-explorer-other-paper", "papers resnet --width 0.5", "the MobileNet explorer's"),
    ("papers-explorer-width-0", "papers mobilenet --width 0", "Width multiplier must be in (0, 4]"),
    ("papers-explorer-width-text", "papers mobilenet --width wide", "invalid float value"),
    ("papers-explorer-resolution-100000", "papers mobilenet --resolution 100000", "resolution in [32, 1024]"),
    ("papers-explorer-html-missing-folder", "papers mobilenet --width 0.5 --html {nofolder}/f.html", "does not exist"),
    # benchmark
    ("benchmark-unknown-model", "benchmark resnet5 --batch 1", "Unknown model 'resnet5'"),
    ("benchmark-batch-0", "benchmark resnet18 --batch 0", "--batch: must be from 1 to 256, got 0"),
    ("benchmark-batch-negative", "benchmark resnet18 --batch -4", "--batch: must be from 1 to 256, got -4"),
    ("benchmark-batch-100000", "benchmark resnet18 --batch 100000", "--batch: must be from 1 to 256, got 100000"),
    ("benchmark-repeats-0", "benchmark resnet18 --repeats 0", "--repeats: must be from 1 to 200, got 0"),
    ("benchmark-unknown-mode", "benchmark resnet18 --mode fp8", "Unknown runtime mode 'fp8'"),
    ("benchmark-size-0", "benchmark resnet18 --input-size 0 0", "16 and 4096, got (0, 0)"),
    ("benchmark-too-many-pixels", "benchmark resnet18 --batch 256 --input-size 1024 1024", "pixels per forward pass"),
    ("benchmark-unknown-device", "benchmark resnet18 --device quantum", "Unknown device 'quantum'"),
    ("benchmark-out-missing-folder", "benchmark resnet18 --out {nofolder}/r.jsonl", "does not exist"),
    ("benchmark-out-unwritable", "benchmark resnet18 --out {unwritable}/r.jsonl", "permission denied"),
    ("benchmark-show-unknown", "benchmark show nope", "No stored sweep 'nope'"),
    ("benchmark-list-with-models", "benchmark list resnet18", "takes no model names"),
    # report
    ("report-show-unknown", "report show nope", "There is no report 'nope'"),
    ("report-show-bad-name", "report show ../etc", "is not allowed"),
    ("report-export-unknown", "report export nope --html {out}/r.html", "There is no report 'nope'"),
    ("report-export-nothing", "report export nope", "give --html FILE and/or --zip FILE"),
    ("report-export-missing-folder", "report export nope --zip {nofolder}/r.zip", "does not exist"),
    ("report-export-unwritable", "report export nope --html {unwritable}/r.html", "permission denied"),
    ("report-unknown-action", "report publish", "invalid choice"),
]


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def split(command: str, places: dict) -> list[str]:
    import shlex

    return shlex.split(command.format(**places))


def assert_one_clear_line(code: int, err: str, words: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code not in (0, None), err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and words in lines[0], err


def files_under(folder: str) -> list[str]:
    return sorted(str(p) for p in Path(folder).rglob("*"))


def test_the_cases_cover_every_subcommand():
    assert {case[1].replace("--device ", "").split()[0].replace("-", "_") for case in CASES} | {"quantum", "gpu7", "cuda:x", "tpu"} >= set(
        SUBCOMMAND_MODULES
    )


@pytest.mark.parametrize(("command", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_a_nonzero_exit_and_no_file(places, capsys, command, words):
    before = files_under(places["out"]) + files_under(str(Path(places["voc"]).parent / "torch"))
    code, _, err = run_cli(split(command, places), capsys)
    assert_one_clear_line(code, err, words)
    assert files_under(places["out"]) + files_under(str(Path(places["voc"]).parent / "torch")) == before


WRITES = [
    ("segment-out", f"segment {{photo}} -m {LITE} --out {{out}}/overlay.png"),
    ("segment-mask-out", f"segment {{photo}} -m {LITE} --mask-out {{out}}/mask.png"),
    ("explain-out", f"explain {{photo}} {' '.join(FAST_EXPLAIN)} --out {{out}}/map.png"),
    ("explain-curves-html", f"explain {{photo}} {' '.join(FAST_EXPLAIN)} --curves-html {{out}}/curves.html"),
    ("compare-html", "compare resnet18 resnet50 --html {out}/chart.html"),
]


@pytest.mark.parametrize("command", [w[1] for w in WRITES], ids=[w[0] for w in WRITES])
def test_a_full_disk_is_one_line_and_leaves_no_file(places, capsys, monkeypatch, command):
    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("cvcore.storage.os.fsync", disk_full)  # the data reached the file system, which is full
    code, _, err = run_cli(split(command, places), capsys)
    assert_one_clear_line(code, err, "the disk is full; nothing was written")
    assert files_under(places["out"]) == []


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A real 16 KB tmpfs (skipped where this machine does not let the tests mount one)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount_point)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def test_a_really_full_file_system_leaves_nothing_either(places, capsys, tiny_filesystem):
    code, _, err = run_cli(["segment", PHOTO, "-m", LITE, "--out", str(tiny_filesystem / "overlay.png")], capsys)
    assert_one_clear_line(code, err, "the disk is full")
    assert list(tiny_filesystem.iterdir()) == []


def test_a_fresh_process_prints_no_traceback_either(places):
    """In-process runs could hide output written by something else: one real `python -m cvcore` run."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "cvcore", "segment", places["folder"], "-m", LITE, "--top", "-1"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and done.stdout == ""
