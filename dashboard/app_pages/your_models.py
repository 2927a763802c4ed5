"""Your models: import the model you trained, see what cvlens measured, remove or export it.

Widgets -> cvcore.user_models -> display. An imported model is one more catalogue entry:
after the import it is selectable on every page (Models, Compare, Segmentation, Saliency,
Papers) and in every command (``python -m cvcore ... --model NAME``).
"""

from __future__ import annotations

import streamlit as st

from cvcore.catalogue import catalogue_rows, mine_table
from cvcore.errors import CvlensError
from cvcore.evaluation.measured import MAX_PAGE_IMAGES, evaluate_and_store, latest_stored
from cvcore.evaluation.report import class_table, headline_table
from cvcore.formatting import to_jsonable
from cvcore.registry import list_models
from cvcore.user_models import (
    MAX_MODEL_UPLOAD_MB,
    ONNX_SUFFIXES,
    STATE_DICT_SUFFIXES,
    ImportOptions,
    categories_from_text,
    export_archive,
    import_bytes,
    known_category_sets,
    remove_model,
    store_version,
)
from dashboard import state
from dashboard.common import show_text
from dashboard.export import safe_stem, show_table

ONNX_CHOICE = "(ONNX file: an architecture not in the catalogue)"
CLASS_CHOICES = ("architecture", *known_category_sets(), "file")
CLASS_CHOICE_LABELS = {"architecture": "The architecture's own (or numbered, if the head size differs)", "file": "A text file (one name per line)"}


@st.cache_data(max_entries=4, show_spinner=False)
def architectures() -> dict[str, str]:
    """Catalogue architecture -> label, for the picker (no torch: the snapshot)."""
    return {s.name: f"{s.display_name} ({s.name})" for s in list_models(metadata_only=True, include_user=False)}


@st.cache_data(max_entries=4, show_spinner=False)
def my_rows(version: tuple[int, int]):
    return catalogue_rows(mine=True)


def parse_triplet(text: str, label: str) -> tuple[float, float, float] | None:
    if not text.strip():
        return None
    try:
        values = tuple(float(v) for v in text.replace(",", " ").split())
    except ValueError:
        raise CvlensError(f"{label}: three numbers separated by spaces, e.g. 0.485 0.456 0.406.") from None
    if len(values) != 3:
        raise CvlensError(f"{label}: three numbers (R G B), got {len(values)}.")
    return values


def import_form() -> None:
    arch_labels = architectures()
    with st.form(state.MINE_FORM, clear_on_submit=False):
        upload = st.file_uploader(
            f"Model file (up to {MAX_MODEL_UPLOAD_MB} MB; larger: `python -m cvcore import-model FILE ...` on the server)",
            type=[s.lstrip(".") for s in (*STATE_DICT_SUFFIXES, ".safetensors", *ONNX_SUFFIXES)],
            key=state.MINE_FILE, max_upload_size=MAX_MODEL_UPLOAD_MB,
        )  # fmt: skip
        left, right = st.columns(2)
        arch = left.selectbox(
            "Architecture it was built with", [ONNX_CHOICE, *arch_labels], index=None, key=state.MINE_ARCH,
            format_func=lambda a: arch_labels.get(a, a), placeholder="e.g. ResNet-18, ENet, U-Net (padded convs)",
        )  # fmt: skip
        name = right.text_input("Name to select it by", key=state.MINE_NAME, placeholder="my_enet", max_chars=64)
        classes = left.radio("Class names", CLASS_CHOICES, key=state.MINE_CLASSES, format_func=lambda c: CLASS_CHOICE_LABELS.get(c, c.upper()))
        class_file = right.file_uploader("Class list (.txt)", type=["txt"], key=state.MINE_CLASS_FILE, max_upload_size=1)
        dataset = right.text_input("Trained / evaluated on", key=state.MINE_DATASET, placeholder="CamVid train, my split")
        with st.expander("Input size, normalisation, task (optional)"):
            c1, c2, c3 = st.columns(3)
            height = c1.number_input("Input height (0: the architecture's)", 0, 4096, 0, 8, key=state.MINE_INPUT_H)
            width = c2.number_input("Input width", 0, 4096, 0, 8, key=state.MINE_INPUT_W)
            task = c3.selectbox("Task (ONNX only)", ("classification", "segmentation"), key=state.MINE_TASK)
            mean = c1.text_input("Mean (R G B, 0..1 pixels)", key=state.MINE_MEAN, placeholder="0.485 0.456 0.406")
            std = c2.text_input("Std (R G B)", key=state.MINE_STD, placeholder="0.229 0.224 0.225")
        submitted = st.form_submit_button("Import", type="primary")
    if not submitted:
        return
    if upload is None:
        st.warning("Choose a model file first.")
        return
    if arch is None:
        st.warning("Choose the architecture the weights are for (or the ONNX option).")
        return
    try:
        categories = None
        if classes == "file":
            if class_file is None:
                raise CvlensError("Upload the class list, or choose another option for the class names.")
            categories = categories_from_text(class_file.getvalue().decode("utf-8", errors="strict"))
        elif classes != "architecture":
            categories = classes
        options = ImportOptions(
            arch=None if arch == ONNX_CHOICE else arch, categories=categories, dataset=dataset,
            input_size=(int(height), int(width)) if height and width else None,
            mean=parse_triplet(mean, "Mean"), std=parse_triplet(std, "Std"), task=task,
        )  # fmt: skip
        bar = st.progress(0.0, text=f"Checking {upload.name}…")
        spec = import_bytes(
            upload.getvalue(), upload.name, name, options,
            progress=lambda done, total: bar.progress(done / max(total, 1), text=f"Storing {upload.name}…"),
        )  # fmt: skip
    except UnicodeDecodeError:
        st.error("The class list is not UTF-8 text.")
        return
    except CvlensError as exc:
        show_text(st.error, str(exc))
        return
    st.session_state[state.MINE_MESSAGE] = ("success", f"Imported {spec.name} ({len(spec.categories)} classes). It is now selectable on every page.")
    st.rerun()


def show_models() -> None:
    rows = my_rows(store_version())
    if not rows:
        st.info("You have not imported a model yet.")
        return
    show_table(mine_table(rows), "my_models", state.MINE_TABLE)
    for r in rows:
        with st.container(horizontal=True):
            st.download_button(
                f"Export {r.name} (.zip)", data=lambda n=r.name: export_archive(n), file_name=f"{safe_stem(r.name)}.cvlens.zip",
                mime="application/zip", key=f"{state.MINE_EXPORT}.{r.name}", on_click="ignore",
                help="A folder another machine imports with `python -m cvcore import-model FOLDER` (unzip it first).",
            )  # fmt: skip
            if st.button(f"Remove {r.name}", key=f"{state.MINE_REMOVE}.{r.name}", icon=":material/delete:"):
                try:
                    remove_model(r.name)
                except CvlensError as exc:
                    show_text(st.error, str(exc))
                else:
                    st.session_state[state.MINE_MESSAGE] = ("info", f"Removed {r.name}.")
                    st.rerun()


def evaluate_form() -> None:
    """Evaluate one of your models on a labelled folder on this server; the result is stored and shown everywhere."""
    mine = [r.name for r in my_rows(store_version())]
    if not mine:
        return
    st.subheader("Evaluate on your data")
    st.caption(
        "A folder on the machine the dashboard runs on: one sub-folder per class (classification), or images/ + masks/ "
        f"(segmentation; masks of class indices, 255 ignored), or a VOC devkit. Up to {MAX_PAGE_IMAGES} images here; "
        "more with `python -m cvcore evaluate --model NAME --data DIR --save`. Every headline metric gets a 95% "
        "bootstrap interval over images; the result is stored and shown on Models, Compare and Papers."
    )
    left, right = st.columns(2)
    name = left.selectbox("Model", mine, key=state.MINE_EVAL_MODEL)
    data = right.text_input("Data folder", key=state.MINE_EVAL_DATA, placeholder="/home/me/data/flowers/val")
    labels = left.text_input("Labels file (a flat folder of images; optional)", key=state.MINE_EVAL_LABELS)
    classes = right.text_input("Class file (images/ + masks/; optional)", key=state.MINE_EVAL_CLASSES)
    limit = left.number_input("Images (at most)", 1, MAX_PAGE_IMAGES, min(500, MAX_PAGE_IMAGES), key=state.MINE_EVAL_LIMIT)
    resamples = right.number_input("Bootstrap resamples", 0, 10_000, 1000, 100, key=state.MINE_EVAL_RESAMPLES)
    if st.button("Evaluate", key=state.MINE_EVAL_RUN, disabled=not data.strip()):
        bar = st.progress(0.0, text="Reading the folder…")
        try:
            evaluate_and_store(
                name, data.strip(), labels=labels.strip() or None, classes=classes.strip() or None, limit=int(limit),
                resamples=int(resamples),
                progress=lambda done, total: bar.progress(done / max(total, 1), text=f"{done} of {total} images"),
            )  # fmt: skip
        except CvlensError as exc:
            st.session_state[state.MINE_EVAL_ERROR] = str(exc)
        st.rerun()
    error = st.session_state.pop(state.MINE_EVAL_ERROR, None)
    if error:
        show_text(st.error, error)
    show_evaluation(name)


def show_evaluation(name: str) -> None:
    stored = latest_stored(name)
    if stored is None:
        st.info(f"No evaluation of {name} yet.")
        return
    ev = stored.evaluation
    show_table(
        headline_table(ev),
        f"{name}_evaluation", f"{state.MINE_EVAL_TABLE}.{name}.headline", models=[name], datasets=[to_jsonable(ev.protocol.dataset)],
    )  # fmt: skip
    with st.expander("Per class"):
        show_table(
            class_table(ev, f"{name}: per-class results of the evaluation above."),
            f"{name}_classes", f"{state.MINE_EVAL_TABLE}.{name}.classes",
        )  # fmt: skip


# --- page ---------------------------------------------------------------------------------

st.title("Your models")
st.caption(
    "Bring the model you trained while reproducing a paper: a state dict or training checkpoint (.pth, .pt, .ckpt), "
    ".safetensors, or .onnx for models written with the authors' own code. Nothing in the file is executed: "
    "TorchScript, whole pickled models and .pt2 archives are refused with how to export instead. "
    "Same from a shell: `python -m cvcore import-model FILE --arch ARCH --name NAME`."
)
message = st.session_state.pop(state.MINE_MESSAGE, None)
if message:
    show_text(st.success if message[0] == "success" else st.info, message[1])
import_form()
st.subheader("Imported")
show_models()
evaluate_form()
