"""Architecture: a model's topology graph, per-layer table by stage (like the papers' Table 1), a diff with
another model (tables and both graphs side by side) and the effective receptive field of a layer.

At the model's default input size the stored analysis is read (instant); at any other
size the model is traced once (``cvcore.analysis.stages.architecture``) and cached.
"""

import streamlit as st

from cvcore.analysis.conventions import (
    ALL_OPS_CONVENTION,
    GMACS_ALL_OPS_LABEL,
    GMACS_LABEL,
    GMACS_TORCH_LABEL,
    PAPERS_CONVENTION,
    TORCH_CONVENTION,
)
from cvcore.analysis.paper_names import depth
from cvcore.analysis.stages import architecture, diff_stages, stage_diff_table, stage_layer_table, stage_summary_table
from cvcore.analysis.tables import complexity_table, format_field, layer_table, reconciliation_table
from cvcore.formatting import format_shape
from cvcore.input_sizes import InputSizeError
from cvcore.registry import get_spec, model_names
from cvcore.report import Rebuild, cli_command
from dashboard import state
from dashboard.common import as_text, user_errors
from dashboard.export import download_table, show_table, table_frame
from dashboard.graph_sections import show_effective_field, show_graph, show_graph_pair

DEFAULT_MODEL = "resnet18"
MAX_SIDE = 1024  # larger inputs take minutes to trace on a 2-core machine


@st.cache_data(max_entries=16, show_spinner=False)
def cached_architecture(name: str, input_size: tuple[int, int]):
    return architecture(name, input_size)


def load(name: str, input_size: tuple[int, int]):
    """The architecture at ``input_size``; a size the model does not accept is explained (a warning), not traced."""
    spec = get_spec(name, metadata_only=True)
    if input_size == spec.input_size:
        return cached_architecture(name, input_size)  # stored analysis: no spinner needed
    with st.spinner(f"Tracing {spec.display_name} at {input_size[0]}x{input_size[1]}…"):
        try:
            return cached_architecture(name, input_size)
        except InputSizeError as exc:  # a foreseeable setting, not a failure: say which sizes work
            st.warning(as_text(exc), icon="📐")
            return None


def reset_input_size() -> None:
    """A new model starts at its own default input size (224, 299, 520, ...)."""
    h, w = get_spec(st.session_state[state.ARCH_MODEL], metadata_only=True).input_size
    st.session_state[state.ARCH_INPUT_H], st.session_state[state.ARCH_INPUT_W] = h, w


def shape_text(shape) -> str:
    return format_shape(shape, drop_batch=True) or "?"


names = model_names(metadata_only=True)  # the stored snapshot: no torch for the default view
# Streamlit forgets widget values when the user visits another page: restore them from a kept copy.
kept = st.session_state.setdefault(state.ARCH_KEPT, {})
if state.ARCH_MODEL not in st.session_state:
    st.session_state[state.ARCH_MODEL] = kept.get("model", DEFAULT_MODEL if DEFAULT_MODEL in names else names[0])
if state.ARCH_INPUT_H not in st.session_state or state.ARCH_INPUT_W not in st.session_state:
    reset_input_size()
    if kept.get("model") == st.session_state[state.ARCH_MODEL]:
        st.session_state[state.ARCH_INPUT_H], st.session_state[state.ARCH_INPUT_W] = kept["size"]

st.title("Architecture")
with st.container(horizontal=True, vertical_alignment="bottom"):
    name = st.selectbox(
        "Model", names, format_func=lambda n: get_spec(n, metadata_only=True).display_name, key=state.ARCH_MODEL, on_change=reset_input_size
    )
    height = st.number_input("Input height", min_value=16, max_value=MAX_SIDE, step=1, key=state.ARCH_INPUT_H)
    width = st.number_input("Input width", min_value=16, max_value=MAX_SIDE, step=1, key=state.ARCH_INPUT_W)
    merge = st.toggle(
        "Merge plain layers into stages", value=True, key=state.ARCH_MERGE, help="AlexNet/VGG style: split at pooling."
    )
    expand = st.toggle("Expand repeated blocks", value=False, key=state.ARCH_EXPAND)

spec = get_spec(name, metadata_only=True)
size = (int(height), int(width))
kept.update(model=name, size=size)
arch = None
with user_errors():
    arch = load(name, size)
if arch is None:
    st.stop()

c = arch.complexity
stages = arch.stages(merge_sequential=merge)
model_depth = depth(arch.layers, spec.family)
st.caption(
    f"{spec.display_name} ({spec.family}, {spec.year}) at {size[0]}x{size[1]}"
    + (
        " — read from the stored analysis."
        if arch.precomputed
        else " — traced just now (random weights; counts do not depend on them)."
    )
)
with st.container(horizontal=True):
    st.metric("Parameters", f"{c.params / 1e6:.2f} M")
    st.metric(GMACS_LABEL, f"{c.gmacs:.3f}", help=PAPERS_CONVENTION)
    st.metric(GMACS_ALL_OPS_LABEL, f"{c.gmacs_all_ops:.3f}", help=ALL_OPS_CONVENTION)
    st.metric(GMACS_TORCH_LABEL, f"{c.torch_gmacs:.3f}", help=TORCH_CONVENTION)
    st.metric(
        "Depth (as the paper counts)" if model_depth.papers_convention else "Conv + fc layers",
        model_depth.main_path,
        help=model_depth.describe(),
    )
    st.metric("Modules", len(arch.layers), help="Every module the analysis lists: batch norm, activations, pooling too.")
    st.metric("Stages", len(stages))

graph = show_graph(name, spec.display_name, size, arch)

st.subheader("By stage")
cli = ["analyze", name, "--input-size", str(size[0]), str(size[1]), "--stages"] if merge else None  # the CLI merges plain layers
show_table(
    stage_summary_table(stages, spec.display_name, size, family=spec.family),
    file_stem=f"{name}_{size[0]}x{size[1]}_stages",
    key=state.ARCH_SUMMARY,
    column_config={
        "stage": st.column_config.TextColumn("stage", pinned=True),
        "structure": st.column_config.TextColumn(width="large"),
    },
    rebuild=Rebuild(cli and cli_command(*cli), "cvcore.analysis.stages.stage_summary_table", {"model": name, "size": size}),
    models=[name],
)

st.subheader("Layers")
st.caption(
    "One expander per stage. Rows marked x N stand for N identical consecutive blocks (parameters and GMACs per block); "
    "switch on *Expand repeated blocks* to list every copy."
)
for stage in stages:
    rf = format_field(stage.receptive_field) or "?"
    label = f"**{stage.name}** · {stage.structure} · {stage.params:,} params · {stage.gmacs:.4f} {GMACS_LABEL} · out {shape_text(stage.output_shape)} · RF {rf}"
    with st.expander(label):
        table = stage_layer_table(stage, expand_repeats=expand)
        st.dataframe(table_frame(table), hide_index=True)
st.caption("Every layer of the model in one file:")
download_table(layer_table(arch.layers, c), file_stem=f"{name}_{size[0]}x{size[1]}_layers", key=state.ARCH_LAYERS)

st.subheader("What fvcore could not count")
if c.uncounted_ops:
    st.warning(
        "fvcore has no handler for these operators, so their work is missing from both GMACs figures: "
        + ", ".join(f"`{op}` x{n}" for op, n in sorted(c.uncounted_ops.items()))
    )
else:
    st.success("fvcore counted every operator of this model.")
show_table(complexity_table(c), file_stem=f"{name}_{size[0]}x{size[1]}_totals", key=f"{state.ARCH_SUMMARY}.totals")

st.subheader("fvcore against torch's FLOP counter")
st.caption(
    "Both tools' counts by operator type, in GMACs (torch counts 2 FLOPs per multiply-add: halved here), and why they differ. "
    "The rows marked as in the papers' convention make up the headline GMACs; all rows make up fvcore's all-ops total."
)
show_table(reconciliation_table(c), file_stem=f"{name}_{size[0]}x{size[1]}_reconciliation", key=state.ARCH_RECONCILIATION)

st.subheader("Diff with another model")
other = st.selectbox(
    "Compare with",
    [n for n in names if n != name],
    index=None,
    format_func=lambda n: get_spec(n, metadata_only=True).display_name,
    key=state.ARCH_DIFF_MODEL,
    placeholder="Pick a model",
)
if other:
    other_spec = get_spec(other, metadata_only=True)
    st.caption(
        f"Both at {size[0]}x{size[1]}. Stages with equal names are paired by name, the rest by position; Δ = "
        f"{other_spec.display_name} − {spec.display_name}."
    )
    other_arch = None
    with user_errors():
        other_arch = load(other, size)
    if other_arch is not None:
        show_graph_pair(name, other, (spec.display_name, other_spec.display_name), size, (arch, other_arch))
        diffs = diff_stages(stages, other_arch.stages(merge_sequential=merge))
        show_table(
            stage_diff_table(diffs, spec.display_name, other_spec.display_name, spec.family, other_spec.family),
            file_stem=f"{name}_vs_{other}_{size[0]}x{size[1]}",
            key=state.ARCH_DIFF,
            rebuild=Rebuild(cli and cli_command(*cli, "--diff", other), "cvcore.analysis.stages.diff_stages", {"other": other}),
            models=[name, other],
        )

show_effective_field(name, spec, size, graph)
