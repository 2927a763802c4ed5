"""Models page: the whole catalogue, filterable, with the numbers the catalogue holds."""

from cvcore.compare import CATALOGUE_LABELS
from cvcore.registry import list_models
from dashboard import state

PAGE = "app_pages/models.py"


def test_table_shows_the_whole_catalogue(page_app):
    at = page_app(PAGE)
    assert not at.exception
    frame = at.dataframe[0].value
    specs = list_models()
    assert len(frame) == len(specs)
    assert set(frame[CATALOGUE_LABELS["name"]]) == {s.name for s in specs}
    resnet = frame.set_index(CATALOGUE_LABELS["name"]).loc["resnet50"]
    spec = next(s for s in specs if s.name == "resnet50")
    assert resnet[CATALOGUE_LABELS["acc@1"]] == spec.metrics["acc@1"].value
    assert resnet[CATALOGUE_LABELS["paper_link"]] == spec.paper.link
    assert [b.proto.label for b in at.get("download_button")] == ["CSV", "LaTeX"]
    assert {"GMACs (papers' convention)", "GMACs (all ops, fvcore)", "mIoU (%, COCO val2017, VOC labels)"} <= set(frame.columns)


def test_filters_narrow_the_table(page_app):
    at = page_app(PAGE)
    at.selectbox(key=state.MODELS_TASK).select("segmentation").run()
    assert not at.exception
    assert len(at.dataframe[0].value) == len(list_models(task="segmentation"))
    at.text_input(key=state.MODELS_SEARCH).input("resnet").run()
    names = set(at.dataframe[0].value[CATALOGUE_LABELS["name"]])
    assert names and all("resnet" in n for n in names)
    at.text_input(key=state.MODELS_SEARCH).input("no such model").run()
    assert not at.dataframe and any("No model matches" in i.value for i in at.info)


def test_filters_survive_a_visit_to_another_page(page_app):
    at = page_app(PAGE)
    at.text_input(key=state.MODELS_SEARCH).input("mobilenet").run()
    shown = len(at.dataframe[0].value)
    at.switch_page("app_pages/compare.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception and not at.warning
    assert at.text_input(key=state.MODELS_SEARCH).value == "mobilenet" and len(at.dataframe[0].value) == shown
