"""Segmentation: what FCN, DeepLabV3, LR-ASPP (and a classifier's coarse map) make of a photo.

Widgets -> cvcore.segmentation / cvcore.voc -> display. Results live in session state,
keyed by photo and model, so a rerun (a slider move, a page switch) recomputes nothing
and loses nothing; each is computed once per process for the same photo bytes, weights
and mode (dashboard.common.shared_result), so a reload or another visitor runs no model.
Models come from the process-wide cache and are only read.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from cvcore.cli import runtime_words
from cvcore.errors import CvlensError
from cvcore.images import ACCEPTED_EXTENSIONS, MAX_UPLOAD_MB, encode_png, photo_png
from cvcore.memory import MB
from cvcore.registry import get_spec
from cvcore.report import Rebuild, cli_command, photo_input
from cvcore.runtime import COMPILING_NOTE, EXACT, RuntimeMode, compiling
from cvcore.samples import list_samples
from cvcore.segmentation import (
    COARSE_KIND,
    SegmentationResult,
    agreement_with_fp32,
    default_models,
    disagreement,
    disagreement_image,
    is_coarse,
    label_mask_png,
    model_choices,
    overlay,
    runnable_first,
    segment,
    wipe,
)
from cvcore.segmentation_tables import (
    TIMING_LABELS,
    class_iou_table,
    disagreement_table,
    legend_table,
    scores_table,
    timings_table,
)
from cvcore.voc import read_label_mask, score
from cvcore.weights import WeightState, missing_weights_note, weight_status
from dashboard import state
from dashboard.common import (
    as_text,
    cached_model,
    decoded_photo,
    model_slot,
    model_title,
    pick_sample,
    remember_choices,
    session_cache,
    shared_result,
    shared_results,
    starting_values,
    weights_fingerprint,
)
from dashboard.export import safe_stem, show_table
from dashboard.report_buttons import add_image_button
from dashboard.runtime_controls import agreement_caption, current_mode

MAX_MODELS = 4
UPLOADS_KEY = "files"  # the one entry of the kept-uploads cache: [(name, bytes)] in the uploader's order
# A table wider than its frame scrolls, and a right-aligned number cut at the edge loses its first digits:
# the model stays pinned and numbers get the decimals they have (cvcore.segmentation_tables rounds them).
PINNED_MODEL = {"model": st.column_config.TextColumn("model", pinned=True)}
MS_COLUMN = st.column_config.NumberColumn(format="%.1f")
PCT_COLUMN = st.column_config.NumberColumn(format="%.2f")


def model_label(name: str) -> str:
    spec = get_spec(name, metadata_only=True)
    status = weight_status(spec)
    if status.state is WeightState.MISSING:
        return f"{model_title(name)} — weights not on this machine"
    if status.state is WeightState.DAMAGED:
        return f"{model_title(name)} — weights damaged"
    if is_coarse(spec):
        return f"{spec.display_name} — coarse map from a classifier (offline)"
    return model_title(name)


def choose_photos(start: dict) -> list[tuple[str, bytes]]:
    """(name, bytes) of the photos to segment: one bundled sample or the user's uploads."""
    sources = ["sample", "upload"]
    source = st.radio(
        "Photo", sources, index=sources.index(start[state.SEG_SOURCE]), key=state.SEG_SOURCE, horizontal=True,
        format_func={"sample": "Bundled sample", "upload": "Upload photos"}.get,
    )  # fmt: skip
    if source == "sample":
        return [pick_sample(state.SEG_SAMPLE, start[state.SEG_SAMPLE])]
    returning = state.SEG_UPLOADS not in st.session_state  # first draw since the user came back to this page
    uploads = st.file_uploader(
        "Photos (JPEG, PNG, WebP, BMP, TIFF, GIF)",
        type=list(ACCEPTED_EXTENSIONS),
        accept_multiple_files=True,
        key=state.SEG_UPLOADS,
        max_upload_size=MAX_UPLOAD_MB,
    )
    kept_uploads = session_cache(state.SEG_KEPT_UPLOADS)  # in the session's byte budget, with its results
    if uploads or not returning:  # what the uploader holds, including the user emptying it
        files = within_budget([(u.name, u.getvalue()) for u in uploads or []], kept_uploads.budget_bytes)
        if [(n, len(d)) for n, d in files] != [(n, len(d)) for n, d in kept_uploads.get(UPLOADS_KEY, [])]:
            kept_uploads.put(UPLOADS_KEY, files)  # re-kept only when they change, so they do not push results out
        return files
    kept = kept_uploads.get(UPLOADS_KEY, [])
    if kept:
        st.caption(
            as_text(f"Showing the {len(kept)} photo(s) uploaded before you left this page: {', '.join(n for n, _ in kept)}.")
        )
        if st.button("Forget them", key=state.SEG_FORGET_UPLOADS):
            kept_uploads.clear()
            st.rerun()
    return kept


def within_budget(files: list[tuple[str, bytes]], budget_bytes: int) -> list[tuple[str, bytes]]:
    """The uploads, in order, as long as they fit in the session's budget; one message for those left out."""
    total, kept = 0, []
    for name, data in files:
        total += len(data)
        if total > budget_bytes // 2:  # the other half is for their results
            left = [n for n, _ in files[len(kept) :]]
            st.warning(
                as_text(
                    f"{len(left)} photo(s) left out ({', '.join(left)}): together the uploads pass this server's "
                    f"{budget_bytes // 2 // MB} MB per session. Remove some photos to work on the others."
                )
            )
            break
        kept.append((name, data))
    return kept


def decode_all(files: list[tuple[str, bytes]]) -> list[tuple[str, str, object, float]]:
    """(name, digest, image, decode ms) of every photo that decodes; an error message for each that does not."""
    photos = []
    for name, data in files:
        try:
            decoded, decode_ms = decoded_photo(data)
        except CvlensError as exc:
            st.error(as_text(f"{name}: {exc}"))
            continue
        image = decoded.image
        if decoded.downscaled:
            st.caption(as_text(f"{name} was downscaled to {image.width}x{image.height} for inference."))
        photos.append((name, hashlib.sha256(data).hexdigest(), image, decode_ms))
    return photos


def run_models(digest: str, image, decode_ms: float, models: list[str], mode: RuntimeMode) -> dict[str, SegmentationResult | str]:
    """Each model's result (or its error message) on one photo, computing only what is not stored yet.

    One model's failure (damaged weights, a refused photo) is its own message; the others' results stay.
    fp32 results are stored under (photo, model); in a fast mode the fp32 one is computed
    too (the reference its agreement is measured against) and the fast one is stored under
    (photo, model, mode). A fast result that eager answered while torch.compile was still
    compiling is recomputed once compiling has finished. Both stores share the session's
    byte budget; the least recently shown go first.
    """
    results = session_cache(state.SEG_RESULTS)
    fast = session_cache(state.SEG_FAST_RESULTS)
    computed: dict = {}  # what this run computed, even if the budget cannot keep it
    todo = [(results, (digest, m), m, EXACT) for m in models if (digest, m) not in results]
    if not mode.is_default:
        stale = [k for k in fast.keys() if _answered_while_compiling(fast.get(k))] if not compiling() else []
        for key in stale:
            fast.pop(key, None)
        todo += [(fast, (digest, m, mode.name), m, mode) for m in models if (digest, m, mode.name) not in fast]
    for store, key, name, run_mode in list(todo):  # computed by another session or an earlier visit: no model runs
        found = shared_results().get(shared_key(digest, name, run_mode))
        if found is not None:
            computed[key] = store[key] = found
            todo.remove((store, key, name, run_mode))
    if todo:
        with st.status(f"Running {len(todo)} model(s)…", expanded=True) as status:
            bar = st.progress(0.0)
            for i, (store, key, name, run_mode) in enumerate(todo):
                how = "" if run_mode.is_default else f" in {run_mode.label}"
                status.update(label=f"{get_spec(name).display_name}: loading and running{how} ({i + 1}/{len(todo)})")

                def compute(name=name, run_mode=run_mode):
                    with model_slot():
                        return segment(image, name, model=cached_model(name), decode_ms=decode_ms, mode=run_mode)

                try:
                    computed[key] = shared_result(
                        shared_key(digest, name, run_mode), compute, keep=lambda r: not _answered_while_compiling(r)
                    )
                except CvlensError as exc:
                    computed[key] = str(exc)  # e.g. WeightsDamagedError naming the file and the fetch command
                store[key] = computed[key]
                bar.progress((i + 1) / len(todo))
            status.update(label="Done", state="complete", expanded=False)

    def shown(store, key):
        return computed[key] if key in computed else store[key]

    if mode.is_default:
        return {m: shown(results, (digest, m)) for m in models}
    return {m: shown(fast, (digest, m, mode.name)) for m in models}


def shared_key(digest: str, name: str, mode: RuntimeMode) -> tuple:
    """What a segmentation result depends on: the photo's bytes, the model and its weights, the runtime mode."""
    return "segment", digest, name, weights_fingerprint(name), mode.name


def _answered_while_compiling(result: SegmentationResult | str) -> bool:
    return not isinstance(result, str) and COMPILING_NOTE in result.notes


def agreements(digest: str, shown: dict) -> dict:
    """Each fast-mode result's agreement with the stored fp32 result of the same photo and model."""
    references = session_cache(state.SEG_RESULTS)
    found = {}
    for name, result in shown.items():
        reference = references.get((digest, name))
        if isinstance(result, SegmentationResult) and result.mode != EXACT.name and isinstance(reference, SegmentationResult):
            found[name] = agreement_with_fp32(result, reference)
    return found


def show_overlays(image, results: dict, opacity: float, agreed: dict) -> None:
    columns = st.columns(len(results))
    for column, (name, result) in zip(columns, results.items()):
        with column:
            st.markdown(f"**{get_spec(name).display_name}**")
            if isinstance(result, str):
                st.error(as_text(result))
                continue
            st.image(overlay(image, result, opacity), width="stretch")
            if result.is_coarse:
                st.warning("Coarse class map from a classifier, not a trained segmenter (FCN paper, Figure 2).", icon="⚠️")
            top = ", ".join(f"{c.name} {100 * c.share:.0f}%" for c in result.classes[:3])
            st.caption(f"{result.timings_ms.total_ms:.0f} ms to labels on {result.device} · {top}")
            if name in agreed:
                st.caption(agreement_caption(agreed[name]))
            if _answered_while_compiling(result):
                st.caption("torch.compile is compiling in the background: this one came from the eager path, "
                           "and is recomputed compiled at your next change once compiling has finished.")  # fmt: skip


def show_downloads(stem: str, image, results: dict, opacity: float) -> None:
    # PNGs are encoded on click only (callable data): a full-size overlay costs tens of ms per model and rerun.
    for name, result in results.items():
        if isinstance(result, str):
            continue
        base = safe_stem(f"{stem}_{name}")
        with st.container(horizontal=True):
            st.download_button(
                f"{result.display_name}: overlay PNG", lambda r=result: encode_png(overlay(image, r, opacity)), f"{base}_overlay.png",
                mime="image/png", key=f"{state.SEG_TABLES}.{name}.overlay", on_click="ignore",
            )  # fmt: skip
            st.download_button(
                f"{result.display_name}: label mask PNG", lambda r=result: label_mask_png(r), f"{base}_mask.png",
                mime="image/png", key=f"{state.SEG_TABLES}.{name}.mask", on_click="ignore",
                help="Pixel value = class index (VOC palette PNG; 16-bit greyscale for ImageNet's 1000 classes).",
            )  # fmt: skip
            add_image_button(
                lambda r=result: encode_png(overlay(image, r, opacity)), f"{result.display_name} segmentation of {stem} "
                f"(overlay at opacity {opacity:g}).", f"{base}_overlay", f"{state.SEG_TABLES}.{name}.overlay", models=[name],
            )  # fmt: skip


def show_before_after(image, done: dict, opacity: float) -> None:
    name = st.selectbox("Model", list(done), key=state.SEG_WIPE_MODEL, format_func=lambda n: done[n].display_name)
    position = st.slider("Divider (left: segmentation, right: photo)", 0.0, 1.0, 0.5, 0.01, key=state.SEG_WIPE)
    picture, _ = st.columns([3, 1])  # a full-width photo would be taller than the screen
    picture.image(wipe(image, overlay(image, done[name], opacity), position), width="stretch")


def photo_rebuild(image, models: list[str], table: str, call: str, *more_words, extra_pngs=()) -> Rebuild:
    """`segment PHOTO1.png --model .. --table ..` in the current mode; the report keeps the photo's pixels (and a mask)."""
    models_words = [w for name in models for w in ("--model", name)]
    command = cli_command("segment", photo_input(1), *models_words, "--table", table, *more_words, *runtime_words(current_mode()))
    return Rebuild(command, call, {"models": models}, input_pngs=lambda: [photo_png(image), *extra_pngs])


def show_tables(stem: str, done: dict, image) -> None:
    legends = {name: legend_table(result) for name, result in done.items()}  # computes the confidence maps (on demand)
    show_table(
        timings_table(list(done.values())), f"{stem}_timings", f"{state.SEG_TABLES}.timings",
        column_config=PINNED_MODEL | {TIMING_LABELS[k]: MS_COLUMN for k in TIMING_LABELS if k.endswith("_ms")},
    )  # fmt: skip
    for name, result in done.items():
        with st.expander(f"{result.display_name}: legend and per-class areas ({len(result.classes)} classes)"):
            table = legends[name]
            show_table(
                table, f"{stem}_{name}_classes", f"{state.SEG_TABLES}.{name}.classes",
                column_config={"colour": st.column_config.TextColumn("colour"), "share (%)": PCT_COLUMN,
                               "mean confidence": st.column_config.NumberColumn(format="%.3f")},
                rebuild=photo_rebuild(image, [name], "classes", "cvcore.segmentation_tables.legend_table"), models=[name],
            )  # fmt: skip
            swatches = [f':color[■]{{foreground="{r["color"]}"}} {r["class"].strip("_")}' for r in table.rows[:12]]
            st.markdown(" · ".join(swatches) + (" · …" if len(table.rows) > 12 else ""))


def show_confidence(done: dict) -> None:
    st.caption("Softmax probability of the chosen class at each pixel: white = certain, black = unsure.")
    for column, result in zip(st.columns(len(done)), done.values()):
        column.image(
            result.confidence, clamp=True, width="stretch", caption=f"{result.display_name}: mean {result.confidence.mean():.2f}"
        )


def show_disagreement(stem: str, image, done: dict) -> None:
    names = list(done)
    if len(names) < 2:
        st.info("Choose two models that produce results to see where they disagree.")
        return
    a = st.selectbox("First model", names, key=state.SEG_DIFF_A, format_func=lambda n: done[n].display_name)
    others = [n for n in names if n != a]  # never the same model twice, even when an old choice survives a rerun
    b = st.selectbox("Second model", others, key=state.SEG_DIFF_B, format_func=lambda n: done[n].display_name)
    try:
        d = disagreement(done[a], done[b])
    except CvlensError as exc:
        st.info(as_text(exc))
        return
    st.metric("Pixels labelled differently", f"{100 * d.fraction:.1f}%")
    picture, _ = st.columns([3, 1])
    picture.image(disagreement_image(image, d), caption="Red: the two models disagree; grey: they agree.", width="stretch")
    show_table(
        disagreement_table(d, done[a], done[b]), f"{stem}_{a}_vs_{b}_disagreement", f"{state.SEG_TABLES}.disagreement",
        column_config={"labelled differently (%)": PCT_COLUMN}, models=[a, b],
        rebuild=photo_rebuild(image, [a, b], "disagreement", "cvcore.segmentation.disagreement"),
    )  # fmt: skip


def show_ground_truth(image, done: dict) -> None:
    mask_file = st.file_uploader(
        "Ground-truth mask (VOC palette PNG of this photo)", type=["png"], key=state.SEG_MASK_UPLOAD, max_upload_size=MAX_UPLOAD_MB
    )
    scorable = {n: r for n, r in done.items() if not r.is_coarse}
    if mask_file is None:
        return
    if not scorable:
        st.info("Ground truth can only score the VOC segmenters; none of the chosen ones has a result.")
        return
    scored = []
    for result in scorable.values():
        try:
            scored.append((result, score(result, read_label_mask(mask_file.getvalue(), len(result.categories)))))
        except CvlensError as exc:
            st.error(as_text(exc))
            return
    names, mask = list(scorable), mask_file.getvalue()
    mask_words = ("--mask", photo_input(2))
    show_table(
        scores_table(scored), "ground_truth_scores", f"{state.SEG_TABLES}.ground_truth",
        column_config=PINNED_MODEL | {"pixel acc (%)": PCT_COLUMN, "mIoU (%)": PCT_COLUMN}, models=names,
        rebuild=photo_rebuild(image, names, "scores", "cvcore.voc.score", *mask_words, extra_pngs=[mask]),
    )  # fmt: skip
    show_table(
        class_iou_table(scored), "ground_truth_class_iou", f"{state.SEG_TABLES}.ground_truth_classes", models=names,
        rebuild=photo_rebuild(image, names, "class-iou", "cvcore.voc.score", *mask_words, extra_pngs=[mask]),
    )  # fmt: skip


# --- page ---------------------------------------------------------------------------------

st.title("Segmentation")
st.caption(
    "Label every pixel of a photo with torchvision's segmenters (FCN, DeepLabV3, LR-ASPP; 20 PASCAL VOC classes) "
    "or, with no download at all, with the FCN paper's trick applied to EfficientNet-Lite: its classifier run at "
    "every position of the last feature map — a coarse class map from a classifier, not a trained segmenter."
)

choices = runnable_first(model_choices())  # "Select all" takes options in order: models that run come first
# Streamlit forgets widget values when the user visits another page: restore them from a kept copy.
widget_defaults = {
    state.SEG_SOURCE: "sample",
    state.SEG_SAMPLE: list_samples()[0].file,
    state.SEG_MODELS: default_models(),
    state.SEG_OPACITY: 0.5,
}
kept_choices, start = starting_values(state.SEG_KEPT, widget_defaults)  # drawn with, never written to session state

files = choose_photos(start)
models = st.multiselect(
    f"Models (up to {MAX_MODELS})", choices, default=[m for m in start[state.SEG_MODELS] if m in choices][:MAX_MODELS],
    max_selections=MAX_MODELS, key=state.SEG_MODELS, format_func=model_label,
)  # fmt: skip
opacity = st.slider("Overlay opacity", 0.0, 1.0, value=start[state.SEG_OPACITY], step=0.05, key=state.SEG_OPACITY)
remember_choices(kept_choices, widget_defaults)
note = missing_weights_note(models)  # one calm note for every chosen model without weights; they are not run
if note:
    st.info(as_text(note), icon="📦")
models = [m for m in models if weight_status(m).state is not WeightState.MISSING]

photos = decode_all(files)
if not files:
    st.info("Upload one or more photos, or pick a bundled sample.")
elif not photos:
    st.warning("None of the uploaded files could be read; fix or replace them above.")
elif not models:
    st.info("Choose at least one model whose weights are on this machine." if note else "Choose at least one model.")
else:
    if len(photos) > 1:
        index = st.selectbox("Photo shown", range(len(photos)), key=state.SEG_PHOTO, format_func=lambda i: photos[i][0])
    else:
        index = 0
    photo_name, digest, image, decode_ms = photos[index]
    mode = current_mode()
    results = run_models(digest, image, decode_ms, models, mode)
    done = {n: r for n, r in results.items() if not isinstance(r, str)}
    stem = photo_name.rsplit(".", 1)[0]

    show_overlays(image, results, opacity, agreements(digest, results))
    if any(r.kind == COARSE_KIND for r in done.values()):
        st.caption(
            "Coarse maps: ImageNet's 1000 classes, one prediction per 32x32 block of the resized photo (Long et al. 2015)."
        )
    if done:
        show_downloads(stem, image, results, opacity)
        before_after, tables, confidence, compare, truth = st.tabs(
            ["Before / after", "Legend, areas and time", "Confidence", "Disagreement", "Ground truth"]
        )
        with before_after:
            show_before_after(image, done, opacity)
        with tables:
            show_tables(stem, done, image)
        with confidence:
            show_confidence(done)
        with compare:
            show_disagreement(stem, image, done)
        with truth:
            show_ground_truth(image, done)
