"""Papers: each paper's tables, the claim next to what cvlens measures, with the delta and the reason.

All numbers come from ``cvcore.papers`` (the same rows as ``python -m cvcore papers PAPER``);
MobileNet gets an explorer: width multiplier and resolution -> measured mult-adds and
parameters, drawn against the paper's accuracy vs mult-adds points.
"""

import streamlit as st

from cvcore.analysis.conventions import ALL_OPS_CONVENTION, GMACS_ALL_OPS_LABEL, GMACS_LABEL, PAPERS_CONVENTION
from cvcore.analysis.tables import layer_table
from cvcore.papers.claims import Status
from cvcore.papers.mobilenet import (
    TRADEOFF_SOURCES,
    accuracy_on_trend,
    explorer_table,
    measure_mobilenet,
    published_at,
    tradeoff_caption,
    tradeoff_figure,
)
from cvcore.papers.registry import PAPERS, get_paper, paper_layers, paper_rows, status_counts
from cvcore.papers.reproductions import reproduction_rows
from cvcore.papers.stored import stored_rows
from cvcore.papers.tables import claims_table, reproduction_table
from cvcore.report import FIGURE_OUTPUT, Rebuild, cli_command
from dashboard import state
from dashboard.common import remember_choices, restore_choices, user_errors
from dashboard.export import download_table, show_figure, show_table

WIDTH_RANGE = (0.25, 1.0, 0.05)  # min, max, step; the paper's 0.25, 0.5, 0.75, 1.0 on the grid
RESOLUTION_RANGE = (96, 320, 16)  # min, max, step; the paper's 128..224 inside


@st.cache_data(max_entries=8, show_spinner=False)
def cached_rows(key: str):
    return stored_rows(key) or paper_rows(key)  # stored with the catalogue (no torch), else measured now


@st.cache_data(max_entries=64, show_spinner=False)
def cached_point(width_mult: float, resolution: int):
    return measure_mobilenet(width_mult, resolution)


@st.cache_data(max_entries=8, show_spinner=False)
def cached_layers(key: str, compute: bool):
    return paper_layers(key, compute=compute)


def show_claims(key: str) -> None:
    with st.spinner("Measuring the paper's models (fvcore; a few seconds the first time)…"):
        rows = cached_rows(key)
    counts = status_counts(rows)
    with st.container(horizontal=True):
        for status in Status:
            if status.value in counts:
                st.metric(status.value.capitalize(), counts[status.value])
    if Status.OUTSIDE.value in counts:
        st.error("Some measurements are outside their tolerance without an explanation: see the rows marked OUTSIDE.")
    exceptions = [r for r in rows if r.status is Status.EXCEPTION]
    if exceptions:
        st.warning("**Explained exceptions**\n\n" + "\n".join(f"- *{r.table}, {r.quantity}*: {r.note}" for r in exceptions))
    tables = list(dict.fromkeys(r.table for r in rows))
    for i, table in enumerate(tables):
        in_table = [r for r in rows if r.table == table]
        st.subheader(table)
        caption = f"{get_paper(key).citation}, {table}: the paper's claim and cvlens' measurement (delta % = (measured - claim) / claim)."
        show_table(
            claims_table(in_table, caption, as_text=True, compact=True),
            file_stem=f"{key}_{table}",
            key=f"{state.PAPERS_TABLE}.{i}",
            rebuild=Rebuild(
                cli_command("papers", key, "--table", table), "cvcore.papers.tables.claims_table", {"paper": key, "table": table}
            ),
            column_config={
                "delta %": st.column_config.NumberColumn(format="%.2f"),
                "quantity": st.column_config.TextColumn(width="large"),
            },
        )
        with st.expander("How each value was measured"):
            st.table(  # static HTML, not a data grid: a paper's page has one per table, and each grid costs the browser
                [
                    {"quantity": r.quantity, "measured with": r.measured_with, "convention": r.convention, "source": r.source}
                    for r in in_table
                ],
                hide_index=True, border="horizontal",
            )  # fmt: skip
    st.caption("Every row of this paper in one file:")
    download_table(
        claims_table(rows), file_stem=f"{key}_claims", key=state.PAPERS_ALL, rebuild=Rebuild(cli_command("papers", key))
    )


def show_reproductions(key: str) -> None:
    """The user's evaluated models of this paper's architectures, beside its accuracy claims."""
    rows = reproduction_rows(key)
    if not rows:
        return
    st.subheader("Your reproductions")
    show_table(reproduction_table(rows), file_stem=f"{key}_reproductions", key=state.PAPERS_REPRODUCTIONS,
               column_config={"note": st.column_config.TextColumn(width="large")})  # fmt: skip


def show_explorer() -> None:
    st.subheader("Explorer: width multiplier α and resolution ρ")
    st.caption(
        "Mult-adds and parameters are measured now on cvcore's MobileNetV1 (fvcore, in the papers' convention: conv + fc, "
        "as the paper counts). "
        "Accuracy cannot be measured here (no trained MobileNetV1 weights): the points are the paper's."
    )
    sliders = {state.PAPERS_WIDTH: 1.0, state.PAPERS_RESOLUTION: 224}
    kept = restore_choices(state.PAPERS_KEPT, sliders)  # Streamlit drops undrawn widgets' values
    with st.container(horizontal=True):
        width = st.slider("Width multiplier α", *WIDTH_RANGE[:2], step=WIDTH_RANGE[2], key=state.PAPERS_WIDTH)
        low, high, step = RESOLUTION_RANGE
        resolution = st.slider("Input resolution (px)", low, high, step=step, key=state.PAPERS_RESOLUTION)
    remember_choices(kept, sliders)
    point = None
    with user_errors(), st.spinner("Counting multiply-adds…"):
        point = cached_point(round(float(width), 2), int(resolution))
    if point is None:
        return
    with st.container(horizontal=True):
        st.metric(GMACS_LABEL, f"{point.mmacs / 1000:.3f}", help=PAPERS_CONVENTION)
        st.metric("Million mult-adds (papers' convention)", f"{point.mmacs:.1f}")
        st.metric("Parameters", f"{point.mparams:.2f} M")
        st.metric(GMACS_ALL_OPS_LABEL, f"{point.mmacs_all_ops / 1000:.3f}", help=ALL_OPS_CONVENTION)
    published = published_at(point.width_mult, point.resolution)
    if published:
        st.caption(published)
    st.caption(
        f"On the paper's log-linear trend, {point.mmacs:.0f} M mult-adds sits at about "
        f"{accuracy_on_trend(point.mmacs):.1f}% top-1 — read off the fitted line, not a measurement."
    )
    point_words = ("papers", "mobilenet", "--width", f"{point.width_mult:g}", "--resolution", point.resolution)
    params = {"width_mult": point.width_mult, "resolution": point.resolution}
    show_figure(
        tradeoff_figure(point),
        file_stem=f"mobilenet_tradeoff_{width:g}_{resolution}",
        caption=tradeoff_caption(point),
        key=state.PAPERS_TRADEOFF,
        sources=TRADEOFF_SOURCES,
        rebuild=Rebuild(cli_command(*point_words, "--html", FIGURE_OUTPUT), "cvcore.papers.mobilenet.tradeoff_figure", params),
    )
    show_table(
        explorer_table(point),
        file_stem=f"mobilenet_point_{width:g}_{resolution}",
        key=f"{state.PAPERS_TRADEOFF}.table",
        rebuild=Rebuild(cli_command(*point_words), "cvcore.papers.mobilenet.explorer_table", params),
    )


@st.cache_data(max_entries=2, show_spinner=False)
def cached_erf_examples():
    from cvcore.papers.dilated import erf_examples

    return erf_examples()


def show_erf_example() -> None:
    """One click: the effective receptive fields of Table 1's context network and of two dilation stacks."""
    from cvcore.analysis.erf import CITATION, erf_figure, erf_table
    from cvcore.papers.dilated import GRIDDING_STACKS
    from cvcore.papers.dilated import SOURCE as SOURCE_DILATED

    st.subheader("Effective receptive field: does the unit see its whole field?")
    st.caption(
        f"The gradient of the centre unit with respect to the input, averaged over the bundled photos ({CITATION}): "
        f"the context network's last 3x3 layer (random init, ReLUs), then stacks of 3x3 convolutions dilated "
        f"{' and '.join(GRIDDING_STACKS)} with equal positive weights and no activations, so only the structure shows. "
        "2-2-2 leaves a grid of pixels it never reaches (gridding); 1-2-5 reaches every pixel of its field."
    )
    if st.button("Show the effective receptive fields", key=state.PAPERS_ERF_RUN, icon=":material/blur_on:"):
        st.session_state[state.PAPERS_ERF_SHOWN] = True
    if not st.session_state.get(state.PAPERS_ERF_SHOWN):
        return
    examples = None
    with user_errors(), st.spinner("Backward passes through the three networks…"):
        examples = cached_erf_examples()
    if examples is None:
        return
    results, labels = list(examples.values()), list(examples)
    show_figure(
        erf_figure(results, labels),
        file_stem="dilated_effective_receptive_fields",
        caption="White: theoretical receptive field (Table 1 for the context network); cyan: squares holding 50% and 90% of the gradient mass.",
        key=f"{state.PAPERS_ERF}.figure",
        sources=[CITATION, SOURCE_DILATED],
    )
    table = erf_table(results, "Dilated convolutions")
    for row, label in zip(table.rows, labels):
        row["weights"] = label
    show_table(table, file_stem="dilated_effective_receptive_fields", key=f"{state.PAPERS_ERF}.table")


def show_layers(key: str) -> None:
    layers = cached_layers(key, False)
    if layers is None:
        if not st.button("Compute the per-layer table (traces the model with fvcore)", key=state.PAPERS_COMPUTE_LAYERS):
            return
        with user_errors(), st.spinner("Tracing…"):
            layers = cached_layers(key, True)
        if layers is None:
            return
    h, w = layers.input_size
    origin = "stored analysis" if layers.precomputed else "traced now"
    st.subheader(f"Per-layer table: {layers.model} at {h}x{w}")
    st.caption(f"From the {origin}; random weights (counts and shapes do not depend on them).")
    show_table(layer_table(layers.rows), file_stem=f"{key}_{layers.model}_layers", key=state.PAPERS_LAYERS, height=400)


st.title("Papers")
st.caption("Each paper's tables next to what cvlens measures on the same architecture, with the delta and the reason for it.")
kept_paper = restore_choices(state.PAPERS_KEPT, {state.PAPERS_PAPER: next(iter(PAPERS))})
key = st.selectbox(
    "Paper", list(PAPERS), format_func=lambda k: f"{PAPERS[k].citation} — {PAPERS[k].title}", key=state.PAPERS_PAPER
)
remember_choices(kept_paper, [state.PAPERS_PAPER])
entry = get_paper(key)
st.markdown((f"[{entry.title}]({entry.link})" if entry.link else entry.title) + f" · course material: `{entry.course_material}`")
with user_errors():
    show_claims(key)
with user_errors():
    show_reproductions(key)
if key == "mobilenet":
    show_explorer()
if key == "dilated":  # cvcore.papers.dilated.KEY (that module builds torch modules: imported when shown)
    show_erf_example()
with user_errors():
    show_layers(key)
