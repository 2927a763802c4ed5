"""The Architecture page's topology graph and effective receptive field, as sections the page calls.

Thin, as pages are: widgets, one ``cvcore.analysis`` call (cached), display. The graph is
traced once per model and input size (``catalogue_graph``: meta weights, a second or two) and
folded per depth and unfolded nodes (milliseconds); a click on a node, or the node picker,
shows its numbers and opens it. The effective receptive field runs backward passes, so it
waits for a button and its results are kept in the session.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from cvcore.errors import CvlensError
from cvcore.images import ACCEPTED_EXTENSIONS
from cvcore.report import FIGURE_PNG_OUTPUT, Rebuild, cli_command, photo_input
from dashboard import state
from dashboard.common import cached_model, remember_choices, restore_choices, user_errors
from dashboard.export import safe_stem, show_figure, show_table
from dashboard.report_buttons import add_image_button

DEFAULT_DEPTH = 1
MAX_DEPTH = 6
DOWNLOADS = (
    ("svg", "image/svg+xml", "SVG"),
    ("png", "image/png", "PNG"),
    ("dot", "text/vnd.graphviz", "DOT"),
    ("json", "application/json", "JSON"),
)


# --- cached cvcore calls -------------------------------------------------------------------


@st.cache_data(max_entries=12, show_spinner=False)
def cached_graph(name: str, input_size: tuple[int, int], _architecture):
    from cvcore.analysis.graph_model import load_graph  # stored for the default view: no torch
    from cvcore.registry import get_spec

    return load_graph(get_spec(name, metadata_only=True), input_size, architecture=_architecture)


def _view(graph, depth: int, unfolded: tuple[str, ...], repeats: bool):
    from cvcore.analysis.graph_view import fold

    return fold(graph, depth, unfolded, repeats)


@st.cache_data(max_entries=24, show_spinner=False)
def cached_view(name: str, input_size: tuple[int, int], depth: int, unfolded: tuple[str, ...], repeats: bool, _graph):
    return _view(_graph, depth, unfolded, repeats)


@st.cache_data(max_entries=24, show_spinner=False)
def cached_figure(key: tuple, _views, _highlight: frozenset[str]) -> dict:
    """The plotly figure of one or two views (``key`` says which: model, size, depth, unfolded, repeats), as
    a dict: the cache hands out copies, and copying a ``go.Figure`` re-validates it (~60 ms for ResNet-152)."""
    from cvcore.analysis.graph_render import graph_figure

    return graph_figure(_views, highlight=_highlight).to_dict()


@st.cache_data(max_entries=24, show_spinner=False)
def cached_picture(key: tuple, _views, _highlight: frozenset[str]) -> str:
    """The same drawing as SVG text (``key`` as in :func:`cached_figure`): the page's default, it needs no plotly."""
    from cvcore.analysis.graph_render import graph_bytes

    return graph_bytes(_views, "svg", highlight=_highlight).decode()


def draw(key: tuple, views, highlight: frozenset[str], chart_key: str, on_select=None) -> None:
    """The graph as a picture (the SVG export in a frame: a box's numbers on hover), or plotly's chart when asked.

    The picture is the default: plotly's JavaScript (~5 MB) would make the page's first load take seconds.
    """
    if not st.session_state.get(state.ARCH_GRAPH_INTERACTIVE):
        svg = cached_picture(key, views, highlight)  # ours, every text escaped; st.html would strip the SVG
        st.iframe(f'<!doctype html><html><body style="margin:0">{svg}</body></html>', width="content", height="content")
        return
    figure = cached_figure(key, views, highlight)
    events = {"on_select": on_select, "selection_mode": "points"} if on_select else {}
    st.plotly_chart(figure, key=chart_key, width="content", config={"displaylogo": False, "scrollZoom": True}, **events)


@st.cache_resource(max_entries=4, show_spinner=False)
def cached_random_model(name: str, seed: int = 0):
    """A random-init build per process, shared: the ERF works on a per-call copy and never changes it."""
    from cvcore.analysis.erf import random_init_model
    from cvcore.registry import get_spec

    return random_init_model(get_spec(name), seed)


# --- the graph -----------------------------------------------------------------------------


def _unfolded_for(name: str) -> list[str]:
    return st.session_state.setdefault(state.ARCH_GRAPH_UNFOLDED_BY_MODEL, {}).setdefault(name, [])


def node_key(name: str) -> str:
    """The node picker's key, one per model: the same id ("layer1") names different blocks in two models,
    and a picker kept across models would go on showing the first model's label."""
    return f"{state.ARCH_GRAPH_NODE}.{name}"


def _remember_click(name: str) -> None:
    """``on_select`` of the chart: the clicked node becomes the one whose numbers are shown."""
    event = st.session_state.get(state.ARCH_GRAPH_CHART)
    points = (event or {}).get("selection", {}).get("points", [])
    ids = [p.get("customdata") for p in points if p.get("customdata")]
    if ids:
        node = ids[0][0] if isinstance(ids[0], list) else ids[0]
        st.session_state[node_key(name)] = node


def _unfold(name: str, node: str) -> None:
    unfolded = _unfolded_for(name)
    if node not in unfolded:
        unfolded.append(node)


def show_graph(name: str, display_name: str, size: tuple[int, int], architecture) -> object | None:
    """The topology graph section; returns the traced graph (the ERF section lists its layers)."""
    from cvcore.analysis.graph_render import MAX_DRAWN_NODES

    st.subheader("Topology graph")
    st.caption(
        "The data flow torch.fx traced: modules and functional ops (residual adds, concatenations, max-unpooling) with "
        "their output shapes; colour = share of the model's multiply-adds. Hover for parameters, multiply-adds, receptive "
        "field and jump; pick a node below (or click it in the interactive chart) to see its numbers and to unfold it. "
        "Stages and repeated blocks are folded."
    )
    graph = None
    with user_errors(), st.spinner(f"Tracing {display_name} with torch.fx…"):
        graph = cached_graph(name, size, architecture)
    if graph is None:
        return None
    kept = restore_choices(
        state.ARCH_GRAPH_KEPT,
        {state.ARCH_GRAPH_DEPTH: DEFAULT_DEPTH, state.ARCH_GRAPH_REPEATS: False, state.ARCH_GRAPH_INTERACTIVE: False},
    )
    unfolded = _unfolded_for(name)
    with st.container(horizontal=True, vertical_alignment="bottom"):
        depth = st.number_input(
            "Depth (module levels unfolded)", min_value=0, max_value=MAX_DEPTH, step=1, key=state.ARCH_GRAPH_DEPTH
        )
        repeats = st.toggle("Draw every repeated block", key=state.ARCH_GRAPH_REPEATS)
        st.toggle(
            "Interactive chart", key=state.ARCH_GRAPH_INTERACTIVE,
            help="Zoom, pan, and click a node to unfold it (loads plotly in the browser: a few seconds the first time). "
            "The picture is the same drawing; hover a box for its numbers, pick a node below to unfold it.",
        )  # fmt: skip
    remember_choices(kept, [state.ARCH_GRAPH_DEPTH, state.ARCH_GRAPH_REPEATS, state.ARCH_GRAPH_INTERACTIVE])
    view = cached_view(name, size, int(depth), tuple(unfolded), bool(repeats), graph)
    if unfolded:
        if st.session_state.get(state.ARCH_GRAPH_UNFOLDED) != unfolded:  # opened by the button, or another model's list
            st.session_state[state.ARCH_GRAPH_UNFOLDED] = list(unfolded)
        st.multiselect(
            "Unfolded nodes (remove one to fold it again)", list(unfolded), key=state.ARCH_GRAPH_UNFOLDED,
            on_change=lambda: unfolded.__setitem__(slice(None), st.session_state[state.ARCH_GRAPH_UNFOLDED]),
        )  # fmt: skip
    _show_counts(graph, view)
    if len(view.nodes) > MAX_DRAWN_NODES:
        st.warning(
            f"At this depth the graph has {len(view.nodes)} nodes (more than {MAX_DRAWN_NODES} are not drawn): lower the depth."
        )
        return graph
    key = ("one", name, size, view.depth, tuple(unfolded), bool(repeats))
    draw(key, [view], frozenset(), state.ARCH_GRAPH_CHART, on_select=lambda: _remember_click(name))
    _show_downloads([view], f"{name}_{size[0]}x{size[1]}_graph_depth{view.depth}", state.ARCH_GRAPH_DOWNLOADS, frozenset())
    _show_node(name, view)
    return graph


def _show_counts(graph, view) -> None:
    unpool = f", {len(graph.unpooling_edges)} max-unpooling index edges" if graph.unpooling_edges else ""
    training = sum(1 for n in graph.nodes if n.training_only)
    aux = f", {training} training-only nodes (auxiliary head, dashed)" if training else ""
    st.caption(
        f"{len(view.nodes)} nodes drawn at depth {view.depth}; the whole graph has {len(graph.nodes)} nodes, "
        f"{len(graph.residual_additions)} additions, {len(graph.concatenations)} concatenations{unpool}{aux}. "
        f"Traced with {graph.tracer}."
    )
    for note in graph.notes:
        st.info(note)


def _show_downloads(views, stem: str, key: str, highlight: frozenset[str]) -> None:
    from cvcore.analysis.graph_render import graph_bytes

    with st.container(horizontal=True):
        for fmt, mime, label in DOWNLOADS:
            st.download_button(
                label, data=lambda fmt=fmt: graph_bytes(views, fmt, highlight=highlight), file_name=f"{safe_stem(stem)}.{fmt}",
                mime=mime, key=f"{key}.{fmt}", on_click="ignore", icon=":material/download:",
            )  # fmt: skip
        add_image_button(
            lambda: graph_bytes(views, "png", highlight=highlight), f"Topology graph {stem.replace('_', ' ')} (torch.fx trace).", stem, key,
        )  # fmt: skip


def _show_node(name: str, view) -> None:
    from cvcore.analysis.graph_view import hover_lines

    ids = [n.id for n in view.nodes]
    key = node_key(name)
    if st.session_state.get(key) not in ids:
        st.session_state[key] = next((n.id for n in view.nodes if n.is_folded), ids[0])
    titles = {n.id: n.title for n in view.nodes}
    with st.container(horizontal=True, vertical_alignment="bottom"):
        node_id = st.selectbox("Node (or click one in the interactive chart)", ids, format_func=titles.get, key=key)
        node = view.node(node_id)
        if node.is_folded and st.button("Unfold it", key=state.ARCH_GRAPH_UNFOLD, icon=":material/unfold_more:"):
            _unfold(name, node.id)
            st.rerun()
    st.markdown(f"**{node.title}** — " + " · ".join(hover_lines(node)))


# --- two graphs ----------------------------------------------------------------------------


def show_graph_pair(name: str, other: str, names: tuple[str, str], size, architectures) -> None:
    """Both graphs side by side at the main graph's depth, with what differs outlined and listed."""
    from cvcore.analysis.graph_view import difference_table, differing_nodes, graph_differences

    st.markdown("**Graphs side by side**")
    depth = int(st.session_state.get(state.ARCH_GRAPH_DEPTH, DEFAULT_DEPTH))
    repeats = bool(st.session_state.get(state.ARCH_GRAPH_REPEATS, False))
    graphs = None
    with user_errors(), st.spinner("Tracing both models…"):
        graphs = [cached_graph(n, size, a) for n, a in zip((name, other), architectures)]
    if graphs is None:
        return
    views = [cached_view(n, size, depth, (), repeats, g) for n, g in zip((name, other), graphs)]
    differences = graph_differences(graphs[0], graphs[1])
    highlight = frozenset(differing_nodes(views[0], graphs[1]) | differing_nodes(views[1], graphs[0]))
    with user_errors():
        draw(("pair", name, other, size, depth, repeats), views, highlight, f"{state.ARCH_GRAPH_PAIR}.chart")
        _show_downloads(views, f"{name}_vs_{other}_{size[0]}x{size[1]}_graph", f"{state.ARCH_GRAPH_PAIR}.downloads", highlight)
    if differences:
        show_table(
            difference_table(differences, *names),
            file_stem=f"{name}_vs_{other}_graph_differences",
            key=f"{state.ARCH_GRAPH_PAIR}.table",
        )
    else:
        st.success("The two graphs have the same nodes (types, geometry and output shapes).")


# --- effective receptive field -------------------------------------------------------------


def _images_digest(photos: list[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for file_name, data in photos:
        digest.update(file_name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:16]


def _chosen_photos() -> list[tuple[str, bytes]]:
    from cvcore.analysis.erf_layers import MAX_IMAGES
    from cvcore.samples import list_samples

    samples = {s.file: s for s in list_samples()}
    with st.container(horizontal=True):
        chosen = st.multiselect(
            "Sample photos",
            list(samples),
            default=list(samples),
            format_func=lambda f: samples[f].title,
            key=state.ARCH_ERF_SAMPLES,
        )
        uploads = st.file_uploader(
            f"Your photos (up to {MAX_IMAGES} in all)", type=list(ACCEPTED_EXTENSIONS), accept_multiple_files=True, key=state.ARCH_ERF_UPLOADS
        )  # fmt: skip
    photos = [(f, samples[f].path.read_bytes()) for f in chosen] + [(u.name, u.getvalue()) for u in uploads or []]
    if len(photos) > MAX_IMAGES:
        st.warning(f"{len(photos)} photos chosen; the first {MAX_IMAGES} are used (each costs a backward pass).")
    return photos[:MAX_IMAGES]


def show_effective_field(name: str, spec, size: tuple[int, int], graph) -> None:
    """Pick a layer (the graph's feature-map modules), photos and weights; a button computes; results stay."""
    from cvcore.analysis.erf_layers import CITATION, default_layer, feature_map_layers  # no torch before the button
    from cvcore.weights import weight_status

    st.subheader("Effective receptive field")
    st.caption(
        "How strongly each input pixel moves one unit of a layer (the centre of its output map): the gradient of that "
        f"unit with respect to the input, averaged over photos ({CITATION}). The white square is the theoretical "
        "receptive field; cyan squares hold 50% and 90% of the gradient mass. Exact zeros inside it (a grid of holes) "
        "are the gridding of dilated convolutions."
    )
    if graph is None:
        return
    layers = feature_map_layers(graph)
    if not layers:
        st.info("This model has no convolutional feature map (N, C, H, W) to ask about.")
        return
    if st.session_state.get(state.ARCH_ERF_LAYER) not in layers:
        st.session_state[state.ARCH_ERF_LAYER] = default_layer(graph) or layers[0]
    trained = weight_status(name).available
    options = ["random", "trained", "both"] if trained else ["random"]
    if st.session_state.get(state.ARCH_ERF_WEIGHTS) not in options:
        st.session_state[state.ARCH_ERF_WEIGHTS] = "both" if trained else "random"
    with st.container(horizontal=True, vertical_alignment="bottom"):
        layer = st.selectbox("Layer", layers, key=state.ARCH_ERF_LAYER)
        weights = st.segmented_control(
            "Weights",
            options,
            key=state.ARCH_ERF_WEIGHTS,
            format_func=lambda w: {"random": "random init", "trained": "trained", "both": "both"}[w],
        )
    if not trained:
        st.caption(f"No trained weights for {spec.display_name} on this machine: random initialisation only.")
    photos = _chosen_photos()
    results = st.session_state.setdefault(state.ARCH_ERF_RESULTS, {})
    key = (name, size, layer, weights or options[0], _images_digest(photos))
    if st.button("Compute the effective receptive field", key=state.ARCH_ERF_RUN, disabled=not photos, icon=":material/blur_on:"):
        results[key] = _compute_erf(spec, layer, photos, weights or options[0], size)
    outcome = results.get(key)
    if outcome is None:
        return
    if isinstance(outcome, str):
        st.error(outcome)
        return
    log_scale = st.toggle("Log scale (the whole extent and its holes)", key=state.ARCH_ERF_LOG)
    rebuilds = _erf_rebuilds(name, layer, weights or options[0], size, photos, log_scale)
    _show_erf(outcome, f"{name}_{layer}_erf", log_scale, rebuilds)


def _erf_rebuilds(name: str, layer: str, weights: str, size, photos, log_scale: bool) -> tuple[Rebuild, Rebuild]:
    """How regenerate.sh recomputes the ERF table and figure: `analyze --erf` on the same photos, weights and size."""
    from cvcore.images import decode_image, photo_png

    words = ["analyze", name, "--erf", layer, "--images", *(photo_input(n) for n in range(1, len(photos) + 1))]
    words += ["--weights", weights, "--input-size", *size]
    figure_words = [*words, *(["--log-scale"] if log_scale else []), "--out", FIGURE_PNG_OUTPUT]
    params = {"model": name, "layer": layer, "weights": weights, "input_size": list(size), "images": [f for f, _ in photos]}

    def pngs() -> list[bytes]:  # the decoded pixels the page averaged over, as PNG (on click only)
        return [photo_png(decode_image(data).image) for _, data in photos]

    call = "cvcore.analysis.erf.catalogue_erf"
    return (
        Rebuild(cli_command(*words), call, params, input_pngs=pngs),
        Rebuild(cli_command(*figure_words), call, params | {"log_scale": log_scale}, input_pngs=pngs),
    )


def _compute_erf(spec, layer: str, photos, weights: str, size):
    from cvcore.analysis.erf import catalogue_erf
    from cvcore.images import decode_image

    chosen = ("random", "trained") if weights == "both" else (weights,)
    try:
        with st.spinner(f"Backward passes through {spec.display_name} for {len(photos)} photo(s)…"):
            images = [decode_image(data).image for _, data in photos]
            trained = cached_model(spec.name) if "trained" in chosen else None
            return catalogue_erf(
                spec, layer, images, weights=chosen, input_size=size, trained_model=trained,
                random_model=cached_random_model(spec.name) if "random" in chosen else None,
            )  # fmt: skip
    except CvlensError as exc:
        return str(exc)


def _show_erf(report, stem: str, log_scale: bool, rebuilds: tuple[Rebuild, Rebuild]) -> None:
    from cvcore.analysis.erf import CITATION, erf_caption, erf_figure, erf_table

    for note in report.notes:
        st.info(note)
    show_figure(
        erf_figure(report.results, log_scale=log_scale),
        file_stem=stem,
        caption=erf_caption(report.results, report.model, with_sources=False, log_scale=log_scale),
        key=f"{state.ARCH_ERF_VIEW}.figure",
        sources=[CITATION],
        rebuild=rebuilds[1],
    )
    show_table(
        erf_table(report.results, report.model), file_stem=f"{stem}_numbers", key=f"{state.ARCH_ERF_VIEW}.table",
        rebuild=rebuilds[0],
    )  # fmt: skip
