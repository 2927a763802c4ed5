"""Compare: accuracy against compute, in the style of Canziani et al. 2016, plus deltas to a baseline.

Numbers come from the catalogue and the precomputed analysis (``cvcore.compare``);
latency only for models measured in this session with the button below the chart; where
benchmark sweeps are stored, throughput, latency and memory at a chosen batch from one of
them (``cvcore.benchmark.axes``).
"""

from dataclasses import asdict

import streamlit as st

from cvcore import compare
from cvcore.benchmark.axes import ResultSelection, measured_models, result_options
from cvcore.benchmark.store import list_sweeps
from cvcore.errors import CvlensError
from cvcore.registry import get_spec, list_weights, model_names
from cvcore.report import FIGURE_OUTPUT, Rebuild, cli_command
from dashboard import state
from dashboard.common import as_text, remember_choices, restore_choices, show_text, user_errors
from dashboard.export import show_figure, show_table
from dashboard.runtime_controls import current_mode

TASKS = ("classification", "segmentation")
PREFERRED_BASELINE = "resnet50"
LATENCY_RUNS = 5
BENCH_KEYS = (
    state.COMPARE_BENCH_SWEEP, state.COMPARE_BENCH_HOST, state.COMPARE_BENCH_DEVICE, state.COMPARE_BENCH_MODE,
    state.COMPARE_BENCH_BATCH,
)  # fmt: skip


def display_name(name: str) -> str:
    # Metadata only: the page draws without importing torch until a latency is measured.
    return get_spec(name, metadata_only=True).display_name


def weights_options(name: str) -> list:
    """The catalogue weights a selected model can be compared with (a user's model has its own only)."""
    spec = get_spec(name, metadata_only=True)
    return [] if spec.is_user else list_weights(spec.arch, metadata_only=True, include_user=False)


def weights_label(spec) -> str:
    score = next((spec.metrics[k] for k in ("acc@1", "miou") if k in spec.metrics), None)
    return spec.weights.id + (f" ({score.value:.1f}%)" if score else "")


def remember_weights(arch: str, key: str) -> None:
    st.session_state.setdefault(state.COMPARE_WEIGHTS_CHOSEN, {})[arch] = st.session_state[key]


def choose_weights(selected: list[str]) -> compare.WeightsChoice:
    """Like for like unless the user picked other weights for a model (kept across reruns and page visits)."""
    picked: dict = st.session_state.setdefault(state.COMPARE_WEIGHTS_CHOSEN, {})
    like_for_like = st.session_state[state.COMPARE_LIKE_FOR_LIKE]
    choice = compare.choose_weights(selected, overrides=picked, like_for_like=like_for_like)
    several = [(name, spec) for name, spec in zip(selected, choice.specs) if len(weights_options(name)) > 1]
    changed = sum(spec.weights.id != get_spec(name, metadata_only=True).weights.id for name, spec in several)
    with st.expander(f"Weights (training recipe): {len(several)} model(s) have several, {changed} not on their default"):
        st.toggle(
            "Like for like", key=state.COMPARE_LIKE_FOR_LIKE,
            help="Use the weights most of the selected models share (torchvision's IMAGENET1K_V1 recipe) wherever a "
            "model has them, so an accuracy difference is the architecture's, not the training recipe's.",
        )  # fmt: skip
        with st.container(horizontal=True):
            for name, spec in several:
                key = f"{state.COMPARE_WEIGHTS}.{spec.arch}"
                options = {w.weights.id: w for w in weights_options(name)}
                st.session_state[key] = spec.weights.id  # what is in use: the rule's choice or the user's
                st.selectbox(
                    display_name(name), list(options), key=key, format_func=lambda i, o=options: weights_label(o[i]),
                    on_change=remember_weights, args=(spec.arch, key),
                )  # fmt: skip
        if picked and st.button("Back to the rule for every model", key=state.COMPARE_WEIGHTS_RESET):
            picked.clear()
            st.rerun()
        st.caption(choice.rule)
    return choice


def stored_results() -> dict:
    """Stored benchmark sweeps that hold rows, by id; none (or an unreadable store, shown as an error): no measured axes."""
    with user_errors():
        return {s.id: s for s in list_sweeps() if s.rows}
    return {}


def keep_valid(key: str, options: list, kept: dict, preferred=None) -> None:
    """The widget's value, else the kept one, else ``preferred``, else the first option: always one of ``options``."""
    if st.session_state.get(key) not in options:
        value = kept.get(key)
        st.session_state[key] = value if value in options else preferred if preferred in options else options[0]


def choose_results(sweeps: dict, kept: dict):
    """The stored sweep, the rows the measured axes use (machine, device, mode, batch), and the CLI's words for them."""
    with st.container(horizontal=True, vertical_alignment="bottom"):
        keep_valid(state.COMPARE_BENCH_SWEEP, list(sweeps), kept)
        stored = sweeps[st.selectbox(
            "Stored benchmark results", list(sweeps), key=state.COMPARE_BENCH_SWEEP,
            format_func=lambda i: f"{'; '.join(sweeps[i].machines) or 'unknown machine'} · {i}",
        )]  # fmt: skip
        options = result_options(stored)
        keep_valid(state.COMPARE_BENCH_HOST, list(options.hosts), kept)
        host = st.selectbox("Machine", list(options.hosts), format_func=options.hosts.get, key=state.COMPARE_BENCH_HOST)
        options = result_options(stored, host)
        keep_valid(state.COMPARE_BENCH_DEVICE, list(options.devices), kept)
        device = st.selectbox("Device", options.devices, key=state.COMPARE_BENCH_DEVICE)
        options = result_options(stored, host, device)
        keep_valid(state.COMPARE_BENCH_MODE, list(options.modes), kept, preferred="fp32")
        mode = st.selectbox("Mode", options.modes, key=state.COMPARE_BENCH_MODE)
        options = result_options(stored, host, device, mode)
        keep_valid(state.COMPARE_BENCH_BATCH, list(options.batch_sizes), kept)
        batch = st.selectbox("Batch size", options.batch_sizes, key=state.COMPARE_BENCH_BATCH)
    remember_choices(kept, BENCH_KEYS)
    words = ["--benchmark", stored.id, "--batch", str(batch), "--mode", mode, "--machine", host, "--benchmark-device", device]
    return stored, ResultSelection(batch, mode, host, device), words


@st.cache_data(max_entries=64, show_spinner=False)
def cached_latency(name: str, mode: str = "fp32"):
    from cvcore.latency import measure_latency

    return measure_latency(name, warmup_runs=2, runs=LATENCY_RUNS, mode=mode)


def measure_selected(names: list[str], mode) -> None:
    """Measure in the sidebar's mode and keep results and errors in session state: the page reruns right after."""
    results = st.session_state.setdefault(state.COMPARE_LATENCY, {})
    errors = st.session_state.setdefault(state.COMPARE_LATENCY_ERRORS, {})
    progress = st.progress(0.0)
    compiling = " (compiling first: about a minute per model on a 2-core CPU)" if mode.compile else ""
    try:
        for i, name in enumerate(names):
            progress.progress(i / len(names), text=f"Measuring {display_name(name)} in {mode.label}{compiling}…")
            try:
                results[name] = cached_latency(name, mode.name)
                errors.pop(name, None)
            except CvlensError as exc:
                errors[name] = str(exc)
    finally:
        progress.empty()


st.title("Compare")
st.caption(
    "Accuracy against compute, one bubble per model (area = parameters, colour = family), as in Canziani et al. 2016, "
    "*An Analysis of Deep Neural Network Models for Practical Applications*. The dashed line is the Pareto front: "
    "no other selected model is both cheaper and more accurate. Hover a bubble for every number and its source. "
    "Models are compared like for like (the same training recipe wherever they have it): see *Weights* below the models."
)

# Streamlit forgets a widget's value once it is not drawn (other page): restore task, axes and baseline.
axis_defaults = {
    state.COMPARE_TASK: TASKS[0], state.COMPARE_X: "gmacs", state.COMPARE_LOG_X: True, state.COMPARE_LIKE_FOR_LIKE: True,
    **{f"{state.COMPARE_Y}.{t}": compare.Y_AXES_BY_TASK[t][0] for t in TASKS},
}  # fmt: skip
kept_axes = restore_choices(state.COMPARE_KEPT_AXES, axis_defaults)
task = st.segmented_control("Task", TASKS, required=True, key=state.COMPARE_TASK)
names = model_names(task, metadata_only=True)
models_key = f"{state.COMPARE_MODELS}.{task}"  # one widget per task: a selection never mixes tasks
# Streamlit forgets a widget's value once it is not drawn (other task, other page): keep a copy.
kept = st.session_state.setdefault(state.COMPARE_KEPT, {})
selected = st.multiselect(
    "Models",
    names,
    default=kept.get(task, list(compare.default_selection(task))),
    format_func=display_name,
    key=models_key,
    placeholder="Pick models to compare",
)

kept[task] = selected
latencies = st.session_state.get(state.COMPARE_LATENCY, {})
sweeps = stored_results()
x_choices = [
    k for k in compare.X_AXES
    if (k != "latency_ms" or any(n in latencies for n in selected)) and (k not in compare.BENCHMARK_AXES or sweeps)
]  # fmt: skip
if st.session_state[state.COMPARE_X] not in x_choices:  # a measured axis kept, but nothing measured for it now
    st.session_state[state.COMPARE_X] = axis_defaults[state.COMPARE_X]
with st.container(horizontal=True, vertical_alignment="bottom"):
    x = st.selectbox("x axis", x_choices, format_func=lambda k: compare.X_AXES[k].label, key=state.COMPARE_X)
    y = st.selectbox(
        "y axis", compare.Y_AXES_BY_TASK[task], format_func=lambda k: compare.Y_AXES[k].label, key=f"{state.COMPARE_Y}.{task}"
    )
    log_x = st.toggle("Log x axis", key=state.COMPARE_LOG_X)
remember_choices(kept_axes, axis_defaults)
results = choose_results(sweeps, kept_axes) if x in compare.BENCHMARK_AXES else None

if not selected:
    st.info("Pick at least one model.")
    st.stop()

choice = choose_weights(selected)
benchmark = None
if results is not None:
    with user_errors():
        benchmark = measured_models(results[0], choice.specs, results[1])
    for problem in benchmark.problems if benchmark else ():
        show_text(st.warning, f"{benchmark.file_name} {problem} (the readable rows are used)")
axes = compare.benchmark_axes(benchmark) if benchmark else {}
points = compare.model_points(choice.specs, latency_ms=latencies, benchmark=benchmark)
chart = compare.chart_data(points, x=x, y=y, axes=axes)

# The same chart and deltas from the CLI (report items record it; latency measured here has no CLI axis).
# The chosen entries by name (resnet50.IMAGENET1K_V1), each as given: --default-weights keeps them.
cli = (
    ["compare", *choice.names, "--default-weights", "--task", task, "--x", x, "--y", y, *([] if log_x else ["--linear-x"]),
     *(results[2] if results else [])]
    if x != "latency_ms"
    else None
)  # fmt: skip
call_params = {"x": x, "y": y, **({"benchmark": results[0].id, **asdict(results[1])} if results else {})}
if chart.points:
    show_figure(
        compare.accuracy_figure(chart, log_x=log_x, common=choice.common),
        file_stem=f"cvlens_{y}_vs_{x}",
        caption=chart.caption,
        key=state.COMPARE_CHART,
        sources=chart.source_summary,
        rebuild=Rebuild(cli_command(*cli, "--html", FIGURE_OUTPUT) if cli else None, "cvcore.compare.chart_data", call_params),
        models=choice.names,
    )
else:
    st.info(f"None of the selected models has both {chart.x_axis.short} and {chart.y_axis.short}.")
if chart.not_plotted:
    with st.expander(f"Not on the chart: {len(chart.not_plotted)} model(s)", key=state.COMPARE_NOT_PLOTTED):
        st.markdown("\n".join(f"- {why}" for why in chart.not_plotted.values()))

st.subheader("Against a baseline")
if st.session_state.get(state.COMPARE_BASELINE) not in selected:  # first visit, back on the page, or deselected
    kept_baseline = kept_axes.get(state.COMPARE_BASELINE)
    preferred = kept_baseline if kept_baseline in selected else PREFERRED_BASELINE
    st.session_state[state.COMPARE_BASELINE] = preferred if preferred in selected else selected[0]
baseline = st.selectbox("Baseline", selected, format_func=display_name, key=state.COMPARE_BASELINE)
remember_choices(kept_axes, [state.COMPARE_BASELINE])
keys = list(dict.fromkeys([y, *compare.Y_AXES_BY_TASK[task], x, "mparams"]))
with user_errors():
    show_table(
        compare.delta_table(points, choice.spec_for(baseline).name, keys, front=chart.front, note=choice.rule, axes=axes),
        file_stem=f"cvlens_deltas_vs_{baseline}",
        key=state.COMPARE_DELTAS,
        column_config={"Model": st.column_config.TextColumn("Model", pinned=True)},
        rebuild=Rebuild(
            cli_command(*cli, "--baseline", choice.spec_for(baseline).name) if cli else None,
            "cvcore.compare.delta_table",
            {"baseline": baseline},
        ),
        models=choice.names,
    )

st.divider()
st.subheader("Measured latency")
mode = current_mode()
st.caption(
    f"Median of {LATENCY_RUNS} forward passes at batch 1 after warm-up, on this server's device, random weights "
    "(time depends on the architecture, not the weight values), in the sidebar's inference mode (now "
    f"{mode.label}; the table's mode column says which each was measured in). Measured models get a latency x axis."
)
if st.button("Measure latency of the selected models", key=state.COMPARE_MEASURE, icon=":material/timer:"):
    measure_selected([n for n in selected if n not in latencies or latencies[n].mode != mode.name], mode)
    st.rerun()
for name, message in st.session_state.get(state.COMPARE_LATENCY_ERRORS, {}).items():
    st.error(as_text(f"{display_name(name)}: {message}"))
if latencies:
    from cvcore.latency import latency_table  # torch is loaded by now: it measured these

    show_table(
        latency_table(list(latencies.values()), {n: display_name(n) for n in latencies}),
        file_stem="cvlens_latency",
        key=state.COMPARE_LATENCY_TABLE,
    )
