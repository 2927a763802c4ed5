"""Saliency: which pixels does a classifier look at, and can the map be trusted?

Widgets -> cvcore.attribution.explain_photo -> display. The maps come first (without their
deletion/insertion curves, which cost many forward passes each); once every map is on the
screen, each model's curves are computed in one batched call (score_results) and the
scores fill in. Every map is stored in session
state under (photo, model, method, target), so reruns and page switches recompute
nothing; random-map baselines are shared between the maps of one photo, model and
target. Top-5s, maps and baselines are computed once per process for the same photo
bytes, weights, method, target, layer, settings, random-map count and mode
(dashboard.common.shared_result): a reload or another visitor runs no model. Models come from the process-wide cache and
are only read (cvcore works on per-call copies for anything that needs hooks).
"""

from __future__ import annotations

import dataclasses
import hashlib

import streamlit as st

from cvcore.attribution import (
    DEFAULT_RANDOM_MAPS,
    MAX_RANDOM_MAPS,
    MIN_RANDOM_MAPS_FOR_VERDICT,
    Sign,
    explain_photo,
    faithfulness_figure,
    first_layer_filters,
    get_method,
    list_methods,
    maximize_class,
    overlay,
    score_results,
    with_colorbar,
)
from cvcore.attribution.tables import FAITHFULNESS_SOURCE, faithfulness_table, top5_table
from cvcore.classify import agreement_with_fp32, classify
from cvcore.cli import runtime_words
from cvcore.errors import CvlensError
from cvcore.images import ACCEPTED_EXTENSIONS, MAX_UPLOAD_MB, encode_png, photo_png
from cvcore.input_sizes import check_input_size
from cvcore.registry import Task, get_spec, list_models
from cvcore.report import FIGURE_OUTPUT, Rebuild, cli_command, photo_input
from cvcore.runtime import COMPILING_NOTE, EXACT, RuntimeMode
from cvcore.samples import list_samples
from cvcore.user_models import store_version
from cvcore.weights import weight_status
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
    user_errors,
    weights_fingerprint,
)
from dashboard.export import safe_stem, show_figure, show_table
from dashboard.report_buttons import add_image_button
from dashboard.runtime_controls import agreement_caption, current_mode

MAX_MODELS = 3
DEFAULT_MODEL = "efficientnet_lite0"
DEFAULT_METHODS = ["grad_cam", "saliency"]
TOP1 = -1  # target option: each model's own top-1 class
CURVE_SETTINGS = {"curve_steps": 20, "seed": 0}  # explain_photo's; part of every shared key (with the random-map count)


@st.cache_data(max_entries=2, ttl=60, show_spinner=False)  # weights fetched meanwhile appear within a minute
def trained_classifiers(models_version: tuple[int, int]) -> list[str]:
    """Classifiers that can run here; keyed by the user's model store, so an import shows at once."""
    return [s.name for s in list_models(Task.CLASSIFICATION) if weight_status(s.name).available]


def choose_photo() -> tuple[str, bytes] | None:
    sources = ["sample", "upload"]
    source = st.radio(
        "Photo", sources, index=sources.index(start[state.SAL_SOURCE]), key=state.SAL_SOURCE, horizontal=True,
        format_func={"sample": "Bundled sample", "upload": "Upload a photo"}.get,
    )  # fmt: skip
    if source == "sample":
        return pick_sample(state.SAL_SAMPLE, start[state.SAL_SAMPLE])
    returning = state.SAL_UPLOAD not in st.session_state  # first draw since the user came back to this page
    upload = st.file_uploader(
        "Photo (JPEG, PNG, WebP, BMP, TIFF, GIF)", type=list(ACCEPTED_EXTENSIONS), key=state.SAL_UPLOAD, max_upload_size=MAX_UPLOAD_MB
    )
    kept_upload = session_cache(state.SAL_KEPT_UPLOAD)  # in the session's byte budget, with its results
    if upload or not returning:  # what the uploader holds, including the user removing the photo
        current, previous = ((upload.name, upload.getvalue()) if upload else None), kept_upload.get("file")
        if current is None:
            kept_upload.clear()
        elif previous is None or (previous[0], len(previous[1])) != (current[0], len(current[1])):
            kept_upload.put("file", current)  # re-kept only when it changes, so it does not push results out
        return current
    kept = kept_upload.get("file")
    if kept:
        st.caption(as_text(f"Showing {kept[0]}, uploaded before you left this page."))
    return kept


def top5(digest: str, image, names: list[str], mode: RuntimeMode = EXACT) -> dict:
    """Each model's Classification (or its error message) in ``mode``, stored per photo.

    fp32 ones are stored under (photo, model) and always computed: in a fast mode they are
    the reference of its agreement; fast ones under (photo, model, mode). Both in the
    session's byte budget.
    """
    stored = session_cache(state.SAL_CLASSIFY)
    fast = session_cache(state.SAL_FAST_CLASSIFY)
    wanted = [(stored, (digest, name), name, EXACT) for name in names]
    if not mode.is_default:
        wanted += [(fast, (digest, name, mode.name), name, mode) for name in names]
    computed: dict = {}  # what this run computed, even if the budget cannot keep it
    for store, key, name, run_mode in wanted:
        if key in store:
            computed[key] = store[key]
            continue

        def compute(name=name, run_mode=run_mode):
            with model_slot():
                return classify(cached_model(name), image, get_spec(name), k=5, mode=run_mode)

        try:
            computed[key] = shared_result(
                ("classify", digest, name, weights_fingerprint(name), run_mode.name), compute,
                keep=lambda c: COMPILING_NOTE not in c.notes,
            )  # fmt: skip
        except CvlensError as exc:
            computed[key] = str(exc)
        store[key] = computed[key]
    if mode.is_default:
        return {name: computed[(digest, name)] for name in names}
    return {name: computed[(digest, name, mode.name)] for name in names}


def cell_key(
    digest: str, name: str, method: str, goal: int, layer: str, random_maps: int = DEFAULT_RANDOM_MAPS, mode: RuntimeMode = EXACT
) -> tuple:
    """Where a map is stored: the layer only matters to the methods that use one; another random-map count, another
    baseline; a fast mode's curves apart."""
    key = (digest, name, method, goal, layer if get_method(method).needs_layer else "")
    if random_maps != DEFAULT_RANDOM_MAPS:
        key = (*key, random_maps)
    return key if mode.is_default else (*key, mode.name)


def shared_key(kind: str, digest: str, name: str, mode: RuntimeMode, *inputs) -> tuple:
    """Where every session finds a result: the photo's bytes, the model and its weights, ``inputs``, mode, settings."""
    return kind, digest, name, weights_fingerprint(name), *inputs, mode.name, tuple(CURVE_SETTINGS.items())


def map_key(digest: str, name: str, method: str, goal: int, layer: str, mode: RuntimeMode) -> tuple:
    """A map without its scores: the same for every random-map count."""
    return shared_key("explain", digest, name, mode, method, goal, layer if get_method(method).needs_layer else "")


def scored_key(digest: str, name: str, method: str, goal: int, layer: str, random_maps: int, mode: RuntimeMode) -> tuple:
    """A map with its deletion/insertion scores against ``random_maps`` random maps."""
    return (*map_key(digest, name, method, goal, layer, mode), "scored", random_maps)


def run_maps(
    digest: str, image, names: list[str], methods: list[str], target: int, classes: dict, layer: str, random_maps: int,
    mode: RuntimeMode,
) -> None:
    """Compute the (model, method) cells not stored yet, one explain_photo call per model, with a progress bar."""
    results = session_cache(state.SAL_RESULTS)  # the session's byte budget; the least recently shown go first
    todo = {}
    for name in names:
        if isinstance(classes[name], str):
            continue
        goal = classes[name].top1.index if target == TOP1 else target
        missing = [m for m in methods if cell_key(digest, name, m, goal, layer, random_maps, mode) not in results]
        for method in list(missing):  # computed by another session or an earlier visit: no model runs
            key = cell_key(digest, name, method, goal, layer, random_maps, mode)
            found = shared_results().get(scored_key(digest, name, method, goal, layer, random_maps, mode))
            found = found or shared_results().get(map_key(digest, name, method, goal, layer, mode))  # its scores follow
            if found is not None:
                results[key] = found
                missing.remove(method)
        if missing:
            todo[name] = (goal, missing)
    if not todo:
        return
    bar = st.progress(0.0, text="Starting…")
    for i, (name, (goal, missing)) in enumerate(todo.items()):
        spec = get_spec(name)

        def progress(fraction: float, label: str, i=i, spec=spec) -> None:
            bar.progress(min(1.0, (i + fraction) / len(todo)), text=f"{spec.display_name}: {label}")

        for method in missing:  # one call per method, so that one failing method does not hide the others
            key = cell_key(digest, name, method, goal, layer, random_maps, mode)

            def compute(name=name, spec=spec, goal=goal, method=method, progress=progress):
                with model_slot():  # the map only: its curves come after every map is on the screen (run_curves)
                    report = explain_photo(
                        cached_model(name), spec, image, [method], target=goal, layer=layer or None, progress=progress,
                        curves=False, mode=mode,
                    )  # fmt: skip
                return report.results[0], report.image

            try:
                results[key] = shared_result(map_key(digest, name, method, goal, layer, mode), compute)
            except CvlensError as exc:
                results[key] = str(exc)
    bar.empty()


def run_curves(
    digest: str, names: list[str], methods: list[str], target: int, classes: dict, layer: str, random_maps: int,
    mode: RuntimeMode,
) -> None:
    """Deletion/insertion curves of the maps shown without them: per model, all its maps' curves in one batched call.

    The scored cell replaces the map-only one in the session and in the shared results, so
    a reload or another visitor gets maps and scores at once.
    """
    results = session_cache(state.SAL_RESULTS)
    todo = {}
    for name in names:
        if isinstance(classes[name], str):
            continue
        goal = classes[name].top1.index if target == TOP1 else target
        pending = []
        for method in methods:
            key = cell_key(digest, name, method, goal, layer, random_maps, mode)
            cell = results.get(key)
            if isinstance(cell, tuple) and cell[0].faithfulness is None:
                scored = shared_results().get(scored_key(digest, name, method, goal, layer, random_maps, mode))  # another's
                if scored is not None and scored[0].faithfulness is not None:
                    results[key] = scored
                else:
                    pending.append((method, key, cell))
        if pending:
            todo[name] = (goal, pending)
    if not todo:
        return
    bar = st.progress(0.0, text="Deletion/insertion curves…")
    for i, (name, (goal, pending)) in enumerate(todo.items()):
        spec = get_spec(name)

        def progress(fraction: float, i=i, spec=spec) -> None:
            bar.progress(min(1.0, (i + fraction) / len(todo)), text=f"{spec.display_name}: deletion/insertion curves")

        try:
            with model_slot():
                scored = score_results(
                    cached_model(name), classes[name].inputs, [cell[0] for _, _, cell in pending], goal,
                    steps=CURVE_SETTINGS["curve_steps"], random_maps=random_maps, seed=CURVE_SETTINGS["seed"],
                    baselines=random_baselines(digest, name, goal, random_maps, mode), progress=progress, mode=mode,
                )  # fmt: skip
        except CvlensError as exc:  # the maps stay on the screen without their scores
            st.error(as_text(f"{spec.display_name}: deletion/insertion curves failed: {exc}"))
            continue
        for (method, key, cell), result in zip(pending, scored):
            results[key] = (result, cell[1])
            shared_results().put(scored_key(digest, name, method, goal, layer, random_maps, mode), results[key])
    bar.empty()


def random_baselines(digest: str, name: str, goal: int, random_maps: int, mode: RuntimeMode) -> dict:
    """The random-map curves of one photo, model, target and map count (by resolution), filled in by score_results;
    shared, and seeded, so two sessions filling it at once compute the same values."""
    key = shared_key("baselines", digest, name, mode, goal, random_maps)
    return shared_results().get_or_compute(key, dict)  # a few KB of curves, charged as empty


def show_top5(stem: str, digest: str, names: list[str], classes: dict) -> None:
    columns = st.columns(MAX_MODELS)  # fixed width: one model does not get a screen-wide map
    references = session_cache(state.SAL_CLASSIFY)
    for column, name in zip(columns, names):
        with column:
            result = classes[name]
            if isinstance(result, str):
                st.error(as_text(result))
                continue
            table = top5_table(result, get_spec(name).display_name)
            if result.mode != EXACT.name:
                table = dataclasses.replace(table, caption=table.caption.replace("(softmax)", f"(softmax, {result.mode})"))
            show_table(table, f"{stem}_{name}_top5", f"{state.SAL_TABLES}.{name}.top5")
            reference = references.get((digest, name))
            if result.mode != EXACT.name and not isinstance(reference, str) and reference is not None:
                st.caption(agreement_caption(agreement_with_fp32(result, reference)))
                st.caption("Maps: eager fp32 (gradients); top-5 and deletion/insertion curves: " + result.mode + ".")


def cell_caption(result) -> str:
    a = result.attribution
    h, w = a.resolution
    parts = [f"{a.time_ms:.0f} ms · {h}x{w} map" + (f" · layer {a.layer}" if a.layer else "")]
    if result.faithfulness is None:
        parts.append("deletion/insertion scores: computing after the maps…")
    elif result.verdicts is not None:
        parts += [v.describe() for v in result.verdicts]
    if a.completeness:
        parts.append(a.completeness.describe())
    return "  \n".join(parts)


def show_grid(
    stem: str, digest: str, names: list[str], methods: list[str], target: int, classes: dict, layer: str, random_maps: int,
    mode: RuntimeMode,
) -> dict:
    """Methods as rows, models as columns; returns {(model, method): (cell key, its caption's placeholder)}."""
    opacity = st.slider("Overlay opacity", 0.0, 1.0, value=start[state.SAL_OPACITY], step=0.05, key=state.SAL_OPACITY)
    absolute = st.toggle(
        "Magnitudes only (show signed maps as absolute values)", value=start[state.SAL_ABSOLUTE], key=state.SAL_ABSOLUTE
    )
    results = session_cache(state.SAL_RESULTS)
    done = {}
    header = st.columns(MAX_MODELS)  # fixed width: one model does not get a screen-wide map
    for column, name in zip(header, names):
        column.markdown(f"**{get_spec(name).display_name}**")
    for method in methods:
        st.markdown(f"##### {get_method(method).display_name}")
        st.caption(get_method(method).summary + f" ({get_method(method).paper})")
        columns = st.columns(MAX_MODELS)  # fixed width: one model does not get a screen-wide map
        for column, name in zip(columns, names):
            with column:
                if isinstance(classes[name], str):
                    continue
                goal = classes[name].top1.index if target == TOP1 else target
                key = cell_key(digest, name, method, goal, layer, random_maps, mode)
                cell = results.get(key)
                if cell is None:
                    st.info("Not computed yet.")
                    continue
                if isinstance(cell, str):
                    st.error(as_text(cell))
                    continue
                result, view = cell
                a = result.attribution
                sign = Sign.ABSOLUTE if absolute else a.sign
                picture = with_colorbar(overlay(view, a.values, sign, alpha=opacity), sign)
                st.image(picture, caption=f"target: {get_spec(name).categories[goal]} ({goal})", width="stretch")
                caption = st.empty()  # the scores fill in once the curves are computed (run_curves)
                caption.caption(as_text(cell_caption(result)))  # carries the layer name the user typed
                for note in a.notes:
                    st.caption(f"⚠️ {as_text(note)}")
                st.download_button(
                    "PNG", lambda picture=picture: encode_png(picture), f"{safe_stem(f'{stem}_{name}_{method}_{goal}')}.png", mime="image/png",
                    key=f"{state.SAL_DOWNLOADS}.{name}.{method}", on_click="ignore", icon=":material/download:",
                )  # fmt: skip
                add_image_button(
                    lambda picture=picture: encode_png(picture), lambda key=key, cell=cell, name=name, method=method, goal=goal: (
                        f"{method} map of {get_spec(name).display_name} for {get_spec(name).categories[goal]} ({goal}). "
                        + cell_caption(results.get(key, cell)[0])  # read when clicked: by then the scores are in
                    ), f"{stem}_{name}_{method}_{goal}", f"{state.SAL_DOWNLOADS}.{name}.{method}", models=[name],
                )  # fmt: skip
                done[(name, method)] = (key, caption)
    return done


def fill_scores(shown: dict) -> dict:
    """Each shown map's caption with its scores, now that its curves are computed; {(model, method): MethodResult}."""
    results = session_cache(state.SAL_RESULTS)
    done = {}
    for cell_id, (key, caption) in shown.items():
        cell = results.get(key)
        if isinstance(cell, tuple) and cell[0].faithfulness is not None:
            caption.caption(as_text(cell_caption(cell[0])))
            done[cell_id] = cell[0]
    return done


def show_curves(stem: str, names: list[str], done: dict, rebuild_for) -> None:
    st.markdown("##### Deletion and insertion curves")
    st.caption(
        "Target-class probability as the most-attributed pixels are replaced by the mean colour (deletion: a faithful map "
        "makes it fall fast, lower area is better) or put back into a blurred photo (insertion: higher is better), a growing "
        "share at a time (Petsiuk et al. 2018, RISE). Grey: random maps at the same resolution as the map (pixel-level "
        "random noise would wreck any photo for its shape alone). A map *beats random* when one more random map would do as "
        "well with a chance of 5% or less (p <= 0.05, Student's t from the random maps' mean and spread)."
    )
    for name in names:
        cells = {m: r for (n, m), r in done.items() if n == name}
        if not cells:
            continue
        display = get_spec(name).display_name
        rebuild = rebuild_for(name, list(cells))
        show_figure(
            faithfulness_figure(list(cells.values()), title=display), f"{stem}_{name}_faithfulness",
            f"Deletion and insertion curves of {display}; AUCs in the legend, random baselines in grey.",
            f"{state.SAL_TABLES}.{name}.curves", sources=[FAITHFULNESS_SOURCE],
            rebuild=dataclasses.replace(rebuild, command=f"{rebuild.command} --curves-html {FIGURE_OUTPUT}"), models=[name],
        )  # fmt: skip
        show_table(
            faithfulness_table(list(cells.values()), display), f"{stem}_{name}_faithfulness", f"{state.SAL_TABLES}.{name}.faith",
            rebuild=rebuild, models=[name],
        )  # fmt: skip


def attribution_tab(stem: str, digest: str, image, names: list[str]) -> None:
    mode = current_mode()
    classes = top5(digest, image, names, mode)
    show_top5(stem, digest, names, classes)
    first = next((c for c in classes.values() if not isinstance(c, str)), None)
    if first is None:
        return
    categories = get_spec(names[0]).categories
    targets = [TOP1, *range(len(categories))]
    target = st.selectbox(
        "Target class", targets, index=targets.index(start[state.SAL_TARGET]) if start[state.SAL_TARGET] in targets else 0,
        key=state.SAL_TARGET,
        format_func=lambda i: "Top-1 of each model" if i == TOP1 else f"{categories[i]} ({i})",
        help="The class whose score the maps explain. Default: each model's own top-1.",
    )  # fmt: skip
    known = [m.name for m in list_methods()]
    methods = st.multiselect(
        "Methods", known, default=[m for m in start[state.SAL_METHODS] if m in known], key=state.SAL_METHODS,
        format_func=lambda n: f"{get_method(n).display_name} ({get_method(n).cost.value})",
    )  # fmt: skip
    if not methods:
        st.info("Choose at least one method.")
        return
    layer = ""
    if any(get_method(m).needs_layer for m in methods):
        layer = st.text_input(
            "Grad-CAM layer (blank: each family's last conv stage)", value=start[state.SAL_LAYER], key=state.SAL_LAYER,
            placeholder="e.g. stages.5",
            help="A dotted module path inside the model, as in the Architecture page's layer table.",
        ).strip()  # fmt: skip
    random_maps = st.slider(
        "Random maps for the baseline", 1, MAX_RANDOM_MAPS, value=start[state.SAL_RANDOM_MAPS], key=state.SAL_RANDOM_MAPS,
        help=f"Each map's scores are compared with the mean and spread of this many random maps of its resolution "
        f"(a verdict needs at least {MIN_RANDOM_MAPS_FOR_VERDICT}; {DEFAULT_RANDOM_MAPS} keep the 95% bound within 20% of "
        "its limit). Each random map costs 2 x 21 forward passes, once per photo, model, class and map resolution.",
    )  # fmt: skip
    run_maps(digest, image, names, methods, target, classes, layer, random_maps, mode)
    shown = show_grid(stem, digest, names, methods, target, classes, layer, random_maps, mode)  # the maps are on screen now
    run_curves(digest, names, methods, target, classes, layer, random_maps, mode)
    done = fill_scores(shown)
    if done:

        def rebuild_for(name: str, done_methods: list[str]) -> Rebuild:
            goal = classes[name].top1.index if target == TOP1 else target
            return scores_rebuild(image, name, done_methods, goal, layer, random_maps, mode)

        show_curves(stem, names, done, rebuild_for)


def scores_rebuild(image, name: str, methods: list[str], goal: int, layer: str, random_maps: int, mode: RuntimeMode) -> Rebuild:
    """`explain PHOTO1.png --faithfulness` with the page's model, methods, class, layer, random maps and mode."""
    words = ["explain", photo_input(1), "--model", name, *(w for m in methods for w in ("--method", m)), "--target", goal]
    if layer and any(get_method(m).needs_layer for m in methods):
        words += ["--layer", layer]
    words += ["--random-maps", random_maps, "--faithfulness", *runtime_words(mode)]
    params = {"model": name, "methods": methods, "target": goal, "layer": layer or None, "random_maps": random_maps}
    return Rebuild(cli_command(*words), "cvcore.attribution.explain_photo", params, input_pngs=lambda: [photo_png(image)])


def features_tab(names: list[str]) -> None:
    name = st.selectbox("Model", names, key=state.SAL_FV_MODEL, format_func=lambda n: get_spec(n).display_name)
    spec = get_spec(name)
    model = cached_model(name)
    grid = first_layer_filters(model)
    left, right = st.columns(2)
    with left:
        st.markdown("##### First-layer filters")
        st.image(grid.image, width="stretch")
        st.caption(
            f"{grid.filters} kernels of {grid.layer} ({grid.kernel_size[0]}x{grid.kernel_size[1]}), each scaled to its own range; grey = 0."
        )
        st.download_button(
            "PNG", lambda: encode_png(grid.image), f"{safe_stem(name)}_first_layer_filters.png", mime="image/png",
            key=f"{state.SAL_DOWNLOADS}.filters", on_click="ignore", icon=":material/download:",
        )  # fmt: skip
    with right:
        st.markdown("##### Class maximisation")
        st.caption(
            "Gradient ascent on the input for one class, maximising a_y(x) - λ‖x‖² with random jitter and periodic blur "
            "(Simonyan et al. 2014; Yosinski et al. 2015). Runs on a copy; the shared model is not changed."
        )
        target = st.selectbox(
            "Class", range(len(spec.categories)), index=282 if len(spec.categories) > 282 else 0, key=state.SAL_FV_CLASS,
            format_func=lambda i: f"{spec.categories[i]} ({i})",
        )  # fmt: skip
        steps = st.slider("Steps", 10, 200, 40, 10, key=state.SAL_FV_STEPS)
        size = st.select_slider("Size (px)", [64, 96, 128, 160, 224], value=128, key=state.SAL_FV_SIZE)
        stored = session_cache(state.SAL_FV_RESULTS)
        key = (name, target, steps, size)
        if st.button("Run class maximisation", key=state.SAL_FV_RUN) and key not in stored:
            check_input_size(spec, (size, size))  # ViT takes 224 px only: say so instead of its AssertionError
            bar = st.progress(0.0, text="Optimising the input…")
            p = spec.preprocessing
            with model_slot():
                stored[key] = maximize_class(
                    model, target, mean=p.mean, std=p.std, size=(size, size), steps=steps,
                    progress=lambda f: bar.progress(f, text=f"Optimising the input… {f:.0%}"),
                )  # fmt: skip
            bar.empty()
        if key in stored:
            result = stored[key]
            st.image(
                result.image, caption=f"{spec.categories[target]}: {steps} steps, {result.time_ms / 1000:.1f} s", width="stretch"
            )
            st.line_chart({"class score (logit)": result.scores}, height=160)
            st.download_button(
                "PNG", lambda: encode_png(result.image), f"{safe_stem(f'{name}_maximise_{target}')}.png", mime="image/png",
                key=f"{state.SAL_DOWNLOADS}.maximise", on_click="ignore", icon=":material/download:",
            )  # fmt: skip


# --- page ---------------------------------------------------------------------------------

st.title("Saliency")
st.caption(
    "Which pixels does a classifier look at? Attribution maps from Captum (gradients, Integrated Gradients, SmoothGrad, "
    "Gradient SHAP, Guided Backprop, Grad-CAM, Occlusion), each with deletion/insertion scores against random maps, "
    "and the lecture's feature visualisations."
)

choices = trained_classifiers(store_version())
widget_defaults = {
    state.SAL_SOURCE: "sample",
    state.SAL_SAMPLE: list_samples()[0].file,
    state.SAL_MODELS: [DEFAULT_MODEL] if DEFAULT_MODEL in choices else choices[:1],
    state.SAL_METHODS: DEFAULT_METHODS,
    state.SAL_TARGET: TOP1,
    state.SAL_LAYER: "",
    state.SAL_OPACITY: 0.6,
    state.SAL_ABSOLUTE: False,
    state.SAL_RANDOM_MAPS: DEFAULT_RANDOM_MAPS,
}
kept_choices, start = starting_values(state.SAL_KEPT, widget_defaults)  # drawn with, never written to session state
photo = choose_photo()
names = st.multiselect(
    f"Models (up to {MAX_MODELS}; classifiers whose trained weights are on this machine)", choices,
    default=[n for n in start[state.SAL_MODELS] if n in choices][:MAX_MODELS],  # a model whose weights went is no option
    max_selections=MAX_MODELS, key=state.SAL_MODELS,
    format_func=model_title,
)  # fmt: skip

image = None
if photo is not None:
    with user_errors():
        image = decoded_photo(photo[1])[0].image
if photo is None:
    st.info("Upload a photo or pick a bundled sample.")
elif image is None:
    st.warning("This file could not be read; upload another one (your earlier results are kept).")
elif not names:
    st.info("Choose at least one model.")
else:
    digest = hashlib.sha256(photo[1]).hexdigest()
    stem = photo[0].rsplit(".", 1)[0]
    maps_tab, features = st.tabs(["Attribution maps", "Filters and class maximisation"])
    with maps_tab, user_errors():
        attribution_tab(stem, digest, image, names)
    with features, user_errors():
        features_tab(names)

remember_choices(kept_choices, widget_defaults)
