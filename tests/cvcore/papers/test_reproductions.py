"""A user's evaluated model beside the paper's claims: Papers rows, Compare error bars, Models' measured metrics."""

from __future__ import annotations

import pytest
import torch
import torchvision
from PIL import Image

from cvcore import compare
from cvcore.catalogue import catalogue_rows, mine_table
from cvcore.evaluation import BootstrapSettings, evaluate, open_dataset, save_evaluation
from cvcore.evaluation.measured import latest_evaluation, measured_metrics
from cvcore.papers.published import resnet_error
from cvcore.papers.reproductions import reproduction_rows
from cvcore.samples import get_sample
from cvcore.user_models import ImportOptions, import_model
from cvcore.weights import load_model


@pytest.fixture
def evaluated_r18(tmp_path, monkeypatch):
    """A ResNet-18 of the user's (random init, 1000 classes), evaluated on 8 photos of two ImageNet classes."""
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "home"))
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "r18.pth")
    spec = import_model(tmp_path / "r18.pth", "my_r18", ImportOptions(arch="resnet18", dataset="my ImageNet subset"))
    for sample, label in (("chelsea", "tabby"), ("coffee", "espresso")):
        folder = tmp_path / "val" / label
        folder.mkdir(parents=True)
        photo = Image.open(get_sample(sample).path).convert("RGB")
        for i in range(4):
            photo.rotate(5 * i).save(folder / f"{i}.png")
    ev = evaluate(load_model(spec, device="cpu"), spec, open_dataset(tmp_path / "val", spec), bootstrap=BootstrapSettings(500))
    save_evaluation(ev)
    return spec, ev


def test_reproduction_rows_set_the_measured_error_and_its_interval_beside_each_claim(evaluated_r18):
    spec, ev = evaluated_r18
    rows = [r for r in reproduction_rows("resnet") if r.model == "my_r18"]
    claim = resnet_error("ResNet-18", "Table 2")
    [row] = [r for r in rows if r.table == "Table 2" and r.quantity == "top-1 error, ResNet-18"]
    top1 = ev.headline()["top1"]
    assert row.claim == claim.top1
    assert row.measured == pytest.approx(100 - 100 * top1.value, abs=1e-3)  # the claim is an error: 100 - accuracy
    assert (row.ci_low, row.ci_high) == pytest.approx((100 - 100 * top1.high, 100 - 100 * top1.low), abs=1e-3)
    assert row.delta == pytest.approx(row.measured - claim.top1, abs=1e-3)
    assert row.claim_inside_ci == (row.ci_low <= claim.top1 <= row.ci_high)
    assert row.images == 8 and "10-crop" in row.note
    assert all(r.model == "my_r18" for r in reproduction_rows("resnet"))  # no row for architectures it is not
    assert not [r for r in reproduction_rows("mobilenet") if r.model == "my_r18"]


def test_compare_plots_the_measured_point_with_its_interval(evaluated_r18):
    spec, ev = evaluated_r18
    top1 = ev.headline()["top1"]
    points = compare.model_points(["resnet18", "my_r18"])
    chart = compare.chart_data(points, "gmacs", "acc@1")
    mine = next(cp for cp in chart.points if cp.point.name == "my_r18")
    assert (mine.y, mine.y_low, mine.y_high) == pytest.approx((100 * top1.value, 100 * top1.low, 100 * top1.high))
    assert mine.point.quantities["acc@1"].measured and "8 images" in mine.point.quantities["acc@1"].source
    figure = compare.accuracy_figure(chart)
    bars = [t.error_y for t in figure.data if t.error_y is not None and t.error_y.array is not None]
    assert bars and any(pytest.approx(100 * (top1.high - top1.value)) == a for b in bars for a in b.array)
    published = next(cp for cp in chart.points if cp.point.name == "resnet18")
    assert published.y_low is None and not published.point.quantities["acc@1"].measured


def test_models_lists_what_was_measured_and_only_for_these_weights(evaluated_r18, tmp_path):
    spec, ev = evaluated_r18
    [row] = catalogue_rows(mine=True)
    assert row.evaluated["acc@1"]["value_pct"] == pytest.approx(100 * ev.headline()["top1"].value)
    table = mine_table([row])
    assert "top-1" in table.columns and "8 images" in table.rows[0]["evaluated_on"]
    # Re-imported under the same name with other weights: the old evaluation is not theirs.
    torch.manual_seed(1)
    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "other.pth")
    again = import_model(tmp_path / "other.pth", "my_r18", ImportOptions(arch="resnet18"), replace=True)
    assert latest_evaluation(again) is None and measured_metrics(again) == {}
    assert reproduction_rows("resnet") == []
