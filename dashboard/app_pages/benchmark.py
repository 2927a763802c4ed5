"""Benchmark: time, memory and throughput against batch size on this server (Canziani et al. 2016), or stored results.

Thin: the widgets, then ``cvcore.benchmark`` (the same sweep as ``python -m cvcore benchmark``,
stored in the cvlens home the same way), then tables and figures from
``cvcore.benchmark.tables`` / ``.figures``. Several stored sweeps (a laptop next to a lab
GPU) are shown side by side.
"""

import time

import streamlit as st

from cvcore.benchmark import figures
from cvcore.benchmark.store import list_sweeps
from cvcore.benchmark.sweep import DEFAULT_BATCHES, INTERACTIVE_MAX_CONFIGURATIONS, plan_sweep, run_and_store
from cvcore.benchmark.tables import GMACS_SOURCE, SOURCE, TOP1_SOURCE, machine_caption, progress_text, rows_table
from cvcore.registry import list_models
from cvcore.runtime import MODE_NAMES
from dashboard import state
from dashboard.common import model_slot, remember_choices, show_text, starting_values, user_errors
from dashboard.export import show_figure, show_table

DEFAULTS = {
    state.BENCH_MODELS: ["resnet18", "mobilenet_v3_large"],
    state.BENCH_BATCHES: [1, 2, 4],
    state.BENCH_MODES: ["fp32"],
    state.BENCH_SIDE: 0,
    state.BENCH_REPEATS: 5,
}
MAX_PAGE_REPEATS = 30


def run_controls(start: dict) -> None:
    names = [s.name for s in list_models()]
    st.multiselect("Models", names, default=[n for n in start[state.BENCH_MODELS] if n in names], key=state.BENCH_MODELS)
    with st.container(horizontal=True):
        st.multiselect("Batch sizes", list(DEFAULT_BATCHES), default=start[state.BENCH_BATCHES], key=state.BENCH_BATCHES)
        st.multiselect("Modes", list(MODE_NAMES), default=start[state.BENCH_MODES], key=state.BENCH_MODES,
                       help="The same code paths as the sidebar's inference mode; a mode this server cannot run is "
                       "listed as skipped with the reason.")  # fmt: skip
    with st.container(horizontal=True):
        st.number_input(
            "Input side (px; 0 = each model's own)", 0, 1024, value=start[state.BENCH_SIDE], step=16, key=state.BENCH_SIDE
        )
        st.number_input(
            "Timed runs per configuration", 1, MAX_PAGE_REPEATS, value=start[state.BENCH_REPEATS], key=state.BENCH_REPEATS
        )
    if st.button("Run the sweep", key=state.BENCH_RUN, type="primary"):
        run_clicked()


def run_clicked() -> None:
    side = int(st.session_state[state.BENCH_SIDE])
    with user_errors():
        plan = plan_sweep(
            st.session_state[state.BENCH_MODELS], st.session_state[state.BENCH_BATCHES], st.session_state[state.BENCH_MODES],
            input_size=(side, side) if side else None, repeats=int(st.session_state[state.BENCH_REPEATS]),
            max_configurations=INTERACTIVE_MAX_CONFIGURATIONS,
        )  # fmt: skip
        bar = st.progress(0.0, text=f"0/{plan.configurations} configurations")
        started = time.monotonic()

        def progress(done, total, row):
            bar.progress(done / total, text=progress_text(done, total, time.monotonic() - started, row))

        with model_slot():
            rows, sweep_id = run_and_store(plan, progress=progress)
        st.session_state[state.BENCH_SWEEPS] = [sweep_id, *st.session_state.get(state.BENCH_SWEEPS, [])]
        st.session_state[state.BENCH_MESSAGE] = ("success", f"Measured {len(rows)} configurations, stored as sweep {sweep_id}.")


def sweep_label(sweeps: dict, sweep_id: str) -> str:
    s = sweeps.get(sweep_id)
    if s is None:
        return sweep_id
    return f"{'; '.join(s.machines) or 'unknown machine'} · {', '.join(sorted({r.model for r in s.rows}))} · {sweep_id[:15]}"


def chosen_rows(chosen: list):
    """Rows of the chosen sweeps, the machine of each (with the sweep id where one machine has several), environments."""
    rows, machines, environments = [], [], []
    machine_counts = {}
    for s in chosen:
        for m in set(s.machines):
            machine_counts[m] = machine_counts.get(m, 0) + 1
    for s in chosen:
        environments += list(s.environments.values())
        for row in s.rows:
            machine = s.machine_of(row)
            rows.append(row)
            machines.append(f"{machine} [{s.id}]" if machine_counts.get(machine, 0) > 1 else machine)
    return rows, machines, environments


def show_results(chosen: list) -> None:
    rows, machines, environments = chosen_rows(chosen)
    for s in chosen:
        for problem in s.problems:
            show_text(st.warning, f"{s.path.name}: {problem}")
    if not rows:
        st.info("The chosen sweeps hold no rows yet.")
        return
    caption = machine_caption(environments)
    stem = "benchmark_" + "_".join(s.id for s in chosen)[:80]
    show_table(rows_table(rows, environments, machines), stem, key=state.BENCH_TABLE)
    ok = [r for r in rows if r.ok]
    if not ok:
        st.warning("No configuration ran; the notes above say why.")
        return
    drawn = [
        ("time", figures.time_per_image_figure(rows, machines), "Forward time per image against batch size (log-log)."),
        ("memory", figures.memory_figure(rows, machines), "Peak memory against batch size (log-log)."),
        ("throughput", figures.throughput_figure(rows, machines), "Images per second against batch size."),
    ]
    for name, fig, text in drawn:
        show_figure(fig, f"{stem}_{name}", f"{text} {caption}", key=f"{state.BENCH_FIGURE}.{name}", sources=[SOURCE])
    st.subheader("Do multiply-adds predict time?")
    with st.container(horizontal=True):
        batches = sorted({r.batch_size for r in ok})
        modes = list(dict.fromkeys(r.mode for r in ok))
        batch = st.selectbox("At batch size", batches, key=state.BENCH_FIT_BATCH)
        mode = st.selectbox("In mode", modes, key=state.BENCH_FIT_MODE)
    fig, fit = figures.macs_vs_time_figure(rows, batch, mode)
    fit_text = fit.describe() if fit is not None else "a fit needs at least 3 models with different multiply-adds"
    show_figure(fig, f"{stem}_macs_vs_time", f"Counted multiply-adds against measured time per image; {fit_text}. {caption}",
                key=f"{state.BENCH_FIGURE}.macs", sources=[SOURCE, GMACS_SOURCE])  # fmt: skip
    if figures.accuracy_density(rows):
        show_figure(figures.accuracy_density_figure(rows), f"{stem}_accuracy_density",
                    "Published top-1 accuracy per million parameters (Canziani et al.'s accuracy density).",
                    key=f"{state.BENCH_FIGURE}.density", sources=[TOP1_SOURCE])  # fmt: skip
    if figures.has_energy(rows):
        show_figure(figures.energy_figure(rows, machines), f"{stem}_energy", f"Energy per image against batch size. {caption}",
                    key=f"{state.BENCH_FIGURE}.energy", sources=[SOURCE])  # fmt: skip
    else:
        sources = sorted({r.energy_source for r in ok if r.energy_source})
        show_text(st.info, "Energy per image: " + ("; ".join(sources) or "not measurable here") + ".")


st.title("Benchmark")
st.caption(
    "Time, memory and throughput of each model against batch size on this server, in the style of Canziani et al. 2016 "
    "(timed after warm-up, the device synchronised inside the timer, one measuring process per configuration). "
    "The same sweep runs from the shell: `python -m cvcore benchmark MODEL... --batch 1 2 4`; stored results of "
    "other machines (copied into the cvlens home's benchmarks folder) appear below next to this one's."
)
kept, start = starting_values(state.BENCH_KEPT, DEFAULTS)
with st.expander("Run a sweep here", expanded=True):
    run_controls(start)
remember_choices(kept, list(DEFAULTS))
message = st.session_state.pop(state.BENCH_MESSAGE, None)
if message:
    show_text(st.success, message[1])

with user_errors():
    stored = {s.id: s for s in list_sweeps()}
    if not stored:
        st.info("No stored results yet: run a sweep above, or `python -m cvcore benchmark MODEL...`.")
    else:
        if state.BENCH_SWEEPS not in st.session_state:
            st.session_state[state.BENCH_SWEEPS] = list(stored)[:1]
        st.session_state[state.BENCH_SWEEPS] = [i for i in st.session_state[state.BENCH_SWEEPS] if i in stored]
        st.multiselect("Stored sweeps (several machines side by side)", list(stored), key=state.BENCH_SWEEPS,
                       format_func=lambda i: sweep_label(stored, i))  # fmt: skip
        chosen = [stored[i] for i in st.session_state[state.BENCH_SWEEPS]]
        if chosen:
            show_results(chosen)
