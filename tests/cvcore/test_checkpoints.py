"""Checkpoints nobody vouches for: every way a file can be wrong gives its own typed error in cvlens's words.

The malicious files are real pickles whose payload would create a file; the tests assert
that the file never appears, so "nothing ran" is checked, not assumed.
"""

import io
import os
import pickle
from collections import OrderedDict

import pytest
import torch
from torch import nn

from cvcore.checkpoints import (
    CheckpointContentError,
    CheckpointCorruptError,
    CheckpointError,
    CheckpointMismatchError,
    CheckpointUnreadableError,
    CheckpointUnsafeError,
    check_state_dict,
    compare_state_dict,
    load_state_dict_safely,
)
from cvcore.errors import CvlensError
from cvcore.models._utils import empty_weights


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))


class RunsAProgram:
    """Unpickling this calls os.system: the classic malicious checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class CreatesAFile:
    """Unpickling this would call a function from this test module (code outside torch's allow-list)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return _touch, (str(self.marker),)


def _touch(path):
    open(path, "w").close()


def assert_message_is_cvlens_own(error: CheckpointError) -> None:
    text = str(error)
    assert "weights_only" not in text and "Weights only load failed" not in text and "add_safe_globals" not in text
    assert "\n" not in text


# --- what loads ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
def test_a_plain_state_dict_loads_equal_in_both_torch_formats(tmp_path, legacy):
    state = small_net().state_dict()
    path = tmp_path / "net.pth"
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    loaded = load_state_dict_safely(path)
    assert list(loaded) == list(state) and all(torch.equal(loaded[k], v) for k, v in state.items())
    assert isinstance(loaded, OrderedDict) and hasattr(loaded, "_metadata")  # module versions kept for load_state_dict


def test_weights_wrapped_as_training_scripts_save_them_are_unwrapped(tmp_path):
    state = small_net().state_dict()
    path = tmp_path / "lightning.ckpt"
    torch.save({"epoch": 3, "state_dict": state, "optimizer_states": [{"lr": 0.1}]}, path)
    assert set(load_state_dict_safely(path)) == set(state)


# --- what is refused, and how it is said ------------------------------------------------------------


def test_no_file_a_folder_and_an_empty_file_are_unreadable(tmp_path):
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    for path, words in ((tmp_path / "absent.pth", "No such file"), (tmp_path, "is a folder"), (empty, r"empty \(0 bytes\)")):
        with pytest.raises(CheckpointUnreadableError, match=words) as info:
            load_state_dict_safely(path)
        assert info.value.path == path and isinstance(info.value, CvlensError)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
def test_a_truncated_file_is_corrupt(tmp_path, legacy):
    buffer = io.BytesIO()
    torch.save(small_net().state_dict(), buffer, _use_new_zipfile_serialization=not legacy)
    path = tmp_path / "cut.pth"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])  # an interrupted copy
    with pytest.raises(CheckpointCorruptError, match="damaged or cut short") as info:
        load_state_dict_safely(path)
    assert_message_is_cvlens_own(info.value)


def test_a_file_that_is_not_a_checkpoint_is_corrupt(tmp_path):
    path = tmp_path / "photo.pth"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(CheckpointCorruptError):
        load_state_dict_safely(path)


@pytest.mark.parametrize("container", ["torch.save", "raw pickle", "raw pickle, protocol 4"])
def test_a_malicious_pickle_runs_nothing_and_is_called_unsafe(tmp_path, container):
    marker = tmp_path / "pwned"
    path = tmp_path / "resnet18-f37072fd.pth"
    if container == "torch.save":
        torch.save({"fc.weight": torch.zeros(2), "payload": RunsAProgram(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(RunsAProgram(marker), protocol=4 if "4" in container else 2))
    with pytest.raises(CheckpointUnsafeError) as info:
        load_state_dict_safely(path)
    assert not marker.exists()  # the payload never ran
    assert "not a plain set of weights" in str(info.value) and "never runs code" in str(info.value)
    assert info.value.global_name in ("posix.system", "os.system", "nt.system")
    assert "tries to run a program" in str(info.value)
    assert_message_is_cvlens_own(info.value)


def test_a_pickle_calling_other_code_runs_nothing(tmp_path):
    marker = tmp_path / "created"
    path = tmp_path / "weights.pth"
    torch.save({"w": CreatesAFile(marker)}, path)
    with pytest.raises(CheckpointUnsafeError):
        load_state_dict_safely(path)
    assert not marker.exists()


def test_a_whole_pickled_model_says_how_to_save_its_weights(tmp_path):
    path = tmp_path / "model.pth"
    torch.save(small_net(), path)
    with pytest.raises(CheckpointUnsafeError) as info:
        load_state_dict_safely(path)
    message = str(info.value)
    assert "torch.save(model.state_dict()" in message and "torch.nn.modules" in message
    assert_message_is_cvlens_own(info.value)


@pytest.mark.parametrize(
    ("content", "words"),
    [([1, 2, 3], "a list of 3 items"), ({"epoch": 3, "lr": 0.1}, "not tensors: epoch, lr"), ({}, "an empty mapping")],
)
def test_something_other_than_tensors_is_refused(tmp_path, content, words):
    path = tmp_path / "other.pth"
    torch.save(content, path)
    with pytest.raises(CheckpointContentError, match=words) as info:
        load_state_dict_safely(path)
    assert "mapping of parameter names to tensors" in str(info.value)


# --- names and shapes ----------------------------------------------------------------------------


def test_a_matching_state_dict_is_ok_and_describes_itself():
    net = small_net()
    report = compare_state_dict(net.state_dict(), net)
    assert report.ok and report.matched == len(net.state_dict())
    assert report.describe() == f"All {report.matched} tensors match the architecture."


def test_a_model_on_the_meta_device_checks_shapes_like_a_real_one():
    with empty_weights():
        meta = small_net()
    assert compare_state_dict(small_net().state_dict(), meta) == compare_state_dict(small_net().state_dict(), small_net())


def test_missing_unexpected_and_reshaped_tensors_are_each_reported():
    state = small_net().state_dict()
    del state["0.bias"]
    state["extra.weight"] = torch.zeros(1)
    state["3.weight"] = torch.zeros(10, 4)
    report = compare_state_dict(state, small_net())
    assert not report.ok
    assert report.missing == ("0.bias",) and report.unexpected == ("extra.weight",)
    [mismatch] = report.mismatched
    assert (mismatch.key, mismatch.expected, mismatch.found) == ("3.weight", (2, 4), (10, 4))
    text = report.describe()
    assert "3.weight is 10x4 in the file but 2x4 in the architecture" in text and "0.bias" in text and "extra.weight" in text


def test_an_old_checkpoint_without_batchnorm_counters_still_fits():
    state = small_net().state_dict()
    del state["1.num_batches_tracked"]  # checkpoints saved before torch 0.4.1 lack it; torch fills it in
    assert compare_state_dict(state, small_net()).ok


def test_the_describe_hints_name_the_usual_causes():
    state = {f"module.{k}": v for k, v in small_net().state_dict().items()}
    assert "starts with 'module.'" in compare_state_dict(state, small_net()).describe()
    other_classes = small_net().state_dict() | {"3.weight": torch.zeros(10, 4), "3.bias": torch.zeros(10)}
    assert "10 outputs (classes), the architecture 2" in compare_state_dict(other_classes, small_net()).describe()


def test_check_state_dict_raises_with_the_report(tmp_path):
    state = small_net().state_dict() | {"3.weight": torch.zeros(10, 4)}
    with pytest.raises(CheckpointMismatchError, match="does not fit the test net") as info:
        check_state_dict(tmp_path / "w.pth", state, small_net(), "the test net")
    assert info.value.report.mismatched[0].key == "3.weight"


def test_shapes_can_be_given_without_a_model():
    assert compare_state_dict({"w": torch.zeros(2, 3)}, {"w": (2, 3)}).ok
    assert not compare_state_dict({"w": torch.zeros(2, 3)}, {"w": torch.Size([3, 2])}).ok
