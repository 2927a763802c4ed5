import json

from cvcore.formatting import Table, provenance, render, to_csv, to_latex


def table() -> Table:
    return Table([{"model": "resnet_50", "gmacs": 4.11, "params": 25557032}], labels={"gmacs": "GMACs"}, caption="Test.", sources=["paper T1"])


def test_latex_is_booktabs_and_escaped():
    tex = to_latex(table())
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"resnet\_50" in tex and "25,557,032" in tex
    assert r"\caption{Test.}" in tex and "Sources: paper T1." in tex  # sources in a note under the table


def test_csv_keeps_raw_numbers_and_a_provenance_line():
    lines = to_csv(table()).splitlines()
    assert lines[0] == "model,GMACs,params" and lines[1] == "resnet_50,4.11,25557032"
    assert lines[-1].startswith("# Test. Sources: paper T1.") and "torchvision" in lines[-1]


def test_json_gives_rows_and_provenance_names_versions():
    assert json.loads(render(table(), "json")) == table().rows
    assert "torch " in provenance() and "cvlens" in provenance()


def test_format_shape_in_the_papers_notation():
    from cvcore.formatting import format_shape

    assert format_shape((1, 64, 128, 128)) == "1x64x128x128"
    assert format_shape((1, 64, 128, 128), drop_batch=True) == "64x128x128"
    assert format_shape(None) is None and format_shape(()) is None


def test_each_source_is_listed_once_with_all_its_details():
    from cvcore.formatting import merge_sources

    sources = [
        "torchvision weights metadata (ResNet18_Weights.IMAGENET1K_V1, ImageNet-1K)",
        "torchvision weights metadata (ResNet50_Weights.IMAGENET1K_V2, ImageNet-1K)",
        "fvcore (input 224x224)",
        "torchvision weights metadata (ResNet18_Weights.IMAGENET1K_V1, ImageNet-1K)",
        "He et al. 2015, Table 1",
        "fvcore (input 299x299)",
        "odd (a) source (b)",
    ]
    assert merge_sources(sources) == [
        "torchvision weights metadata (ResNet18_Weights.IMAGENET1K_V1, ImageNet-1K, ResNet50_Weights.IMAGENET1K_V2)",
        "fvcore (input 224x224, input 299x299)",
        "He et al. 2015, Table 1",
        "odd (a) source (b)",
    ]
    line = provenance(sources)
    assert line.count("torchvision weights metadata") == 1 and line.count("ImageNet-1K") == 1


def test_machine_specific_columns_stay_on_screen_only():
    t = Table([{"model": "a", "here": True, "gmacs": 1.0}], local_columns=("here",))
    assert to_csv(t).splitlines()[0] == "model,gmacs"
    assert "here" not in to_latex(t) and "here" in render(t, "table")
