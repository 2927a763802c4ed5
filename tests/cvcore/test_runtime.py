"""Runtime modes: names, support reasons, the shared model left alone, background compilation, agreement with fp32.

torch.compile is slow on 2 cores (a cold inductor compile of even LeNet-5 costs about half
a minute of CPU), so the default suite compiles one tiny model for real and checks the
runner's mechanics with dynamo's cheap ``eager`` backend; the trained and segmentation
models compile in the slow suite.
"""

import gc
import logging
import threading
import weakref

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cvcore import runtime
from cvcore.errors import CvlensError, InvalidInputError
from cvcore.registry import build_model, get_spec
from cvcore.runtime import (
    COMPILING_NOTE,
    EXACT,
    MODE_NAMES,
    CompileState,
    ModeNotSupportedError,
    Precision,
    Runner,
    RuntimeMode,
    compile_in_this_thread,
    parse_mode,
    pixel_agreement,
    private_copy,
    runner_for,
    top1_agreement,
)
from cvcore.samples import list_samples
from cvcore.weights import load_model

LITE = "efficientnet_lite0"
EVERY_MODE = [RuntimeMode(p, cl, c) for p in Precision for cl in (False, True) for c in (False, True)]


class SmallNet(nn.Module):
    """Conv + BatchNorm + Linear: what freezing folds and channels_last converts, in a few milliseconds."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        return self.fc(self.features(x).flatten(1))


def small_net() -> SmallNet:
    torch.manual_seed(0)
    model = SmallNet().eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so that folding them matters
        model.features[1].running_mean.uniform_(-1, 1)
        model.features[1].running_var.uniform_(0.5, 2)
    return model


@pytest.fixture
def net():
    return small_net()


@pytest.fixture(scope="module")
def lite0():
    return load_model(LITE, device="cpu")


def snapshot(model: nn.Module) -> dict:
    """Everything a runner must leave as it was: tensors (values, storage, layout), flags, hooks."""
    return {
        "tensors": {
            k: (v.clone(), v.data_ptr(), v.stride(), v.requires_grad) for k, v in model.state_dict(keep_vars=True).items()
        },
        "training": [m.training for m in model.modules()],
        "hooks": [len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules()],
        "modules": [id(m) for m in model.modules()],
    }


def assert_unchanged(model: nn.Module, before: dict) -> None:
    after = snapshot(model)
    assert after["training"] == before["training"] and after["hooks"] == before["hooks"] and after["modules"] == before["modules"]
    for name, (value, pointer, stride, grad) in before["tensors"].items():
        now = after["tensors"][name]
        assert torch.equal(now[0], value) and now[1:] == (pointer, stride, grad), name


# --- modes, names, support --------------------------------------------------------------------


@pytest.mark.parametrize("mode", EVERY_MODE, ids=lambda m: m.name)
def test_every_mode_name_reads_back(mode):
    assert parse_mode(mode.name) == mode and hash(parse_mode(mode.name)) == hash(mode)
    assert mode.is_default == (mode == RuntimeMode()) and mode.approximate == (mode.precision is not Precision.FP32)


def test_named_modes_are_the_benchmark_choices():
    assert MODE_NAMES == ("fp32", "bf16", "fp16", "channels_last", "compile")
    assert [m.name for m in runtime.benchmark_modes()] == list(MODE_NAMES)
    assert parse_mode(None) is EXACT and parse_mode("BF16 + compile") == RuntimeMode("bf16", compile=True)
    assert EXACT.label == "fp32 (exact)" and RuntimeMode("bf16", compile=True).label == "bf16 autocast, torch.compile"


@pytest.mark.parametrize("text", ["fp64", "bf16+fp16", "", "fast", "compile+turbo"])
def test_bad_mode_names_are_typed_errors(text):
    with pytest.raises(InvalidInputError, match="runtime mode|precision"):
        parse_mode(text)


def test_fp32_and_channels_last_run_everywhere_torch_does():
    for mode in (EXACT, RuntimeMode(channels_last=True)):
        assert mode.supported("cpu") == (True, "")


def test_a_cpu_without_fp16_gets_a_reason_not_a_crash(monkeypatch, net):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_fp16_supported", lambda: False)
    runtime._precision_support.cache_clear()
    try:
        ok, reason = RuntimeMode("fp16").supported("cpu")
        assert not ok and "fp16" in reason and "fp32" in reason
        with pytest.raises(ModeNotSupportedError, match="cannot run here") as caught:
            Runner(net, "fp16")
        assert isinstance(caught.value, CvlensError)
    finally:
        runtime._precision_support.cache_clear()


def test_no_cpp_compiler_means_compile_is_not_supported(monkeypatch):
    import torch._inductor.cpp_builder as cpp_builder

    def no_compiler():
        raise FileNotFoundError("g++")

    monkeypatch.setattr(cpp_builder, "get_cpp_compiler", no_compiler)
    runtime._cpu_compile_support.cache_clear()
    try:
        ok, reason = RuntimeMode(compile=True).supported("cpu")
        assert not ok and "C++ compiler" in reason
    finally:
        runtime._cpu_compile_support.cache_clear()


def test_other_devices_say_what_is_offered():
    ok, reason = RuntimeMode("bf16").supported("mps")  # a device cvlens knows (an unknown one is refused earlier)
    assert not ok and "CPU and CUDA" in reason


# --- agreement --------------------------------------------------------------------------------


def test_pixel_and_top1_agreement_count_what_they_say():
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 21, size=(40, 50)).astype(np.uint16)
    labels = reference.copy()
    labels[:4, :5] = (labels[:4, :5] + 1) % 21  # 20 pixels changed
    agreement = pixel_agreement(labels, reference, RuntimeMode("bf16"), "fp32 run")
    assert (agreement.equal, agreement.total) == (40 * 50 - 20, 40 * 50) and agreement.share == pytest.approx(0.99)
    assert "99.00% of pixels" in agreement.describe() and "fp32 run" in agreement.describe()
    assert top1_agreement([3, 4, 5], [3, 4, 6], EXACT, "r").share == pytest.approx(2 / 3)
    assert "top-1 equal" in top1_agreement(7, 7, EXACT, "r").describe()
    with pytest.raises(InvalidInputError):
        pixel_agreement(labels, reference[:10], EXACT, "r")


# --- the shared model stays as it was --------------------------------------------------------


def test_private_copy_shares_storage_and_never_changes_the_original():
    net = small_net()  # not a fixture: pytest would keep it alive
    before = snapshot(net)
    copy = private_copy(net).to(memory_format=torch.channels_last)
    assert copy.features[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert copy.fc.weight.data_ptr() == net.fc.weight.data_ptr()  # 2-D weights: same storage, no memory cost
    assert copy.fc.weight is not net.fc.weight and not copy.fc.weight.requires_grad
    assert_unchanged(net, before)
    original = weakref.ref(net)
    del net
    gc.collect()
    assert original() is None  # the copy holds no reference to the original's modules


@pytest.mark.parametrize("mode", ["fp32", "bf16", "channels_last", "bf16+channels_last"])
def test_eager_modes_equal_plain_pytorch_and_leave_the_model_alone(net, mode):
    x = torch.randn(2, 3, 16, 16)
    parsed = parse_mode(mode)
    before = snapshot(net)
    out, info = Runner(net, parsed).run(x)
    assert info.path == "eager" and out.dtype == torch.float32
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=parsed.approximate):
        expected = net(x.contiguous(memory_format=torch.channels_last) if parsed.channels_last else x).float()
    if parsed.channels_last and not parsed.approximate:
        torch.testing.assert_close(out, expected)  # another conv algorithm: the same sums in another order
    else:
        assert torch.equal(out, expected)
    assert_unchanged(net, before)


def test_runners_are_kept_per_model_and_mode_and_dropped_with_the_model():
    net = small_net()  # not a fixture: pytest would keep it alive
    a = runner_for(net, "channels_last")
    assert runner_for(net, "channels_last") is a and runner_for(net, "bf16+channels_last") is not a
    assert runner_for(net, "bf16") is not runner_for(net, "bf16")  # no copy to keep: a fresh wrapper each call
    assert a in runtime.registered_runners()
    model = weakref.ref(net)
    del net
    gc.collect()
    assert model() is None and a not in runtime.registered_runners()


# --- compiling: mechanics with dynamo's cheap "eager" backend ----------------------------------


def test_compile_runs_in_the_background_while_eager_answers(net):
    x = torch.randn(1, 3, 16, 16)
    with torch.inference_mode():
        expected = net(x)
    started = threading.Event()
    release = threading.Event()

    def slow_backend(graph, example_inputs):
        started.set()
        release.wait(30)  # compiling "takes long": the caller must not wait for it
        return graph.forward

    runner = Runner(net, "compile", backend=slow_backend)
    assert runner.compile_state is CompileState.NOT_STARTED
    out, info = runner.run(x)
    assert info.path == "eager" and info.note == COMPILING_NOTE and torch.equal(out, expected)
    assert started.wait(30) and runner.compile_state is CompileState.COMPILING
    _, info = runner.run(x)  # still compiling: eager again, no second compile
    assert info.path == "eager"
    release.set()
    assert runner.wait(30) is CompileState.READY and runner.compiled_shapes() == [(1, 3, 16, 16)]
    out, info = runner.run(x)
    assert info.path == "compiled" and info.note == ""
    torch.testing.assert_close(out, expected)


def test_a_failing_compile_falls_back_to_eager_with_a_logged_note(net, caplog):
    def broken_backend(graph, example_inputs):
        raise RuntimeError("no kernel for this op")

    runner = Runner(net, "compile", backend=broken_backend)
    x = torch.randn(1, 3, 16, 16)
    with caplog.at_level(logging.WARNING, logger="cvlens.runtime"):
        runner.run(x)
        assert runner.wait(60) is CompileState.FAILED
    assert "no kernel for this op" in runner.compile_error and "torch.compile failed" in caplog.text
    out, info = runner.run(x)
    assert info.path == "eager" and "torch.compile failed here" in info.note and "no kernel" in info.note
    with torch.inference_mode():
        assert torch.equal(out, net(x))


def test_compile_in_this_thread_answers_compiled_at_once_and_shapes_are_bounded(net):
    runner = Runner(net, "compile", backend="eager", max_compiled_shapes=1)
    with compile_in_this_thread():
        _, info = runner.run(torch.randn(1, 3, 16, 16))
        assert info.path == "compiled"
        _, info = runner.run(torch.randn(2, 3, 16, 16))  # a second shape: over the bound, eager
    assert info.path == "eager" and "1 input shapes are compiled already" in info.note


def test_the_compile_cache_lives_in_the_cvlens_home_unless_the_user_chose_one(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path))
    monkeypatch.delenv(runtime.COMPILE_CACHE_ENV_VAR, raising=False)
    assert runtime.use_compile_cache_dir() == str(tmp_path / "torch-compile") and (tmp_path / "torch-compile").is_dir()
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    monkeypatch.setenv(runtime.COMPILE_CACHE_ENV_VAR, default_cache_dir())  # what importing inductor leaves there
    assert runtime.use_compile_cache_dir() == str(tmp_path / "torch-compile")
    monkeypatch.setenv(runtime.COMPILE_CACHE_ENV_VAR, str(tmp_path / "mine"))
    assert runtime.use_compile_cache_dir() == str(tmp_path / "mine")


# --- compiling for real: inductor with freezing -----------------------------------------------


def photo_batch(size: int = 32) -> torch.Tensor:
    """(4, 3, size, size): the bundled photos, resized, in 0..1."""
    photos = [np.asarray(Image.open(s.path).convert("RGB").resize((size, size)), dtype=np.float32) / 255 for s in list_samples()]
    return torch.from_numpy(np.stack(photos)).permute(0, 3, 1, 2).contiguous()


def test_inductor_compiled_model_ranks_classes_as_eager_fp32_with_its_own_weights(tmp_path, monkeypatch):
    """The default suite's real compile (a few kernels: a cold inductor costs ~30 s of CPU on its own).

    Freezing turns weights into constants of the compiled code: a second model of the same
    architecture must get its own, not the first one's, and the original stays untouched.
    """
    import torch._inductor.config as inductor_config

    monkeypatch.setenv("CVLENS_HOME", str(tmp_path))
    monkeypatch.delenv(runtime.COMPILE_CACHE_ENV_VAR, raising=False)
    batch = photo_batch()
    first, second = small_net(), small_net()
    with torch.no_grad():
        second.fc.weight.mul_(-1)  # the same graph, other weights: other classes
    before = snapshot(first)
    for model in (first, second):
        with torch.inference_mode():
            expected = model(batch)
        with inductor_config.patch(compile_threads=1):  # no worker pool: less CPU on a 2-core CI machine
            out, info = Runner(model, "compile", background=False).run(batch)
        assert info.path == "compiled", info.note
        torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
        assert torch.equal(out.topk(5).indices, expected.topk(5).indices)
    assert any((tmp_path / "torch-compile").rglob("*.py"))  # inductor's generated code, cached in the cvlens home
    assert_unchanged(first, before)


def labels_agree_beyond_ties(labels: torch.Tensor, expected_logits: torch.Tensor, tolerance: float = 1e-3) -> None:
    """Labels equal eager fp32's wherever eager's top-2 margin exceeds ``tolerance`` (reassociation moves ties only)."""
    top2 = expected_logits.topk(2, dim=1).values  # (B, 2, ...)
    clear = (top2[:, 0] - top2[:, 1]) > tolerance
    assert torch.equal(labels[clear], expected_logits.argmax(dim=1)[clear])
    assert clear.float().mean() > 0.95  # the check covers almost everything


@pytest.mark.slow
def test_compiled_classifier_top5_on_the_bundled_photos(lite0):
    from cvcore.classify import classify

    spec = get_spec(LITE)
    with compile_in_this_thread():
        for sample in list_samples():
            photo = Image.open(sample.path)
            compiled, reference = classify(lite0, photo, spec, mode="compile"), classify(lite0, photo, spec)
            assert compiled.mode == "compile" and "(compiled)" in compiled.notes[0]
            assert [p.index for p in compiled.predictions] == [p.index for p in reference.predictions]
            assert [p.prob for p in compiled.predictions] == pytest.approx([p.prob for p in reference.predictions], abs=1e-4)


@pytest.mark.slow
def test_compiled_coarse_map_labels_on_the_bundled_photos(lite0):
    from cvcore.segmentation import agreement_with_fp32, segment

    with compile_in_this_thread():
        for sample in list_samples():
            photo = Image.open(sample.path).convert("RGB")
            compiled = segment(photo, LITE, model=lite0, mode="compile", coarse_short_side=128)
            reference = segment(photo, LITE, model=lite0, coarse_short_side=128)
            assert any("(compiled)" in n for n in compiled.notes)
            assert agreement_with_fp32(compiled, reference).share >= 0.999


@pytest.mark.slow
def test_compiled_segmenter_grid_labels_equal_eager_beyond_ties():
    from cvcore.segmentation import grid_logits

    torch.manual_seed(0)
    model = build_model("lraspp_mobilenet_v3_large").eval()
    batch = photo_batch(128)
    with torch.inference_mode():
        expected = grid_logits(model, batch)
    out, info = Runner(model, "compile", head=grid_logits, background=False).run(batch)
    assert info.path == "compiled"
    labels_agree_beyond_ties(out.argmax(dim=1), expected)
    bf16, _ = Runner(model, "bf16+compile", head=grid_logits, background=False).run(batch)
    assert (bf16.argmax(dim=1) == expected.argmax(dim=1)).float().mean() > 0.9  # approximate: measured, not exact


_COMPILE_IN_A_FRESH_PROCESS = """
import sys
import torch._inductor.config as inductor_config
from cvcore.runtime import Runner
from tests.cvcore.test_runtime import photo_batch, small_net
inductor_config.cpp.cxx = (sys.argv[1],)  # a C++ compiler that logs each call
out, info = Runner(small_net(), "compile", background=False).run(photo_batch())
assert info.path == "compiled", info.note
"""


@pytest.mark.slow
def test_a_restarted_process_reuses_the_compiled_kernels_in_the_cvlens_home(tmp_path, repo_root):
    """Kernels compiled once are loaded from $CVLENS_HOME/torch-compile after a restart: no C++ compiler call.

    (Inductor's FX graph cache itself is bypassed for frozen graphs on CPU: their
    pre-packed oneDNN weights cannot be pickled. Dynamo tracing and lowering run again;
    the C++ compilation, most of a cold compile, does not.)
    """
    import os
    import shutil
    import subprocess
    import sys

    log = tmp_path / "cxx.log"
    cxx = tmp_path / "logging-c++"
    cxx.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {shutil.which("g++") or shutil.which("c++")} "$@"\n')
    cxx.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != runtime.COMPILE_CACHE_ENV_VAR} | {
        "CVLENS_HOME": str(tmp_path / "home"), "PYTHONPATH": str(repo_root)
    }  # fmt: skip

    def shared_objects_built() -> int:
        log.write_text("")
        subprocess.run([sys.executable, "-c", _COMPILE_IN_A_FRESH_PROCESS, str(cxx)], env=env, check=True, capture_output=True)
        return sum(".so" in line for line in log.read_text().splitlines())

    assert shared_objects_built() > 0  # a cold cache: the kernels are compiled
    assert any((tmp_path / "home" / "torch-compile").rglob("*.so"))
    assert shared_objects_built() == 0  # after a "restart": every kernel loaded from the cache
