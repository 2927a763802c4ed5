"""Models: the whole catalogue as one sortable, filterable table.

Everything comes from precomputed data (``cvcore.catalogue``: registry metadata plus the
stored fvcore analysis), so the page never builds a model.
"""

import streamlit as st

from cvcore.analysis.conventions import ALL_OPS_CONVENTION, PAPERS_CONVENTION
from cvcore.catalogue import catalogue_rows, mine_table
from cvcore.compare import CATALOGUE_LABELS, catalogue_table, filter_catalogue
from cvcore.report import Rebuild, cli_command
from cvcore.user_models import store_version
from dashboard import state
from dashboard.common import remember_choices, restore_choices
from dashboard.export import show_table

TASKS = ("classification", "segmentation")


@st.cache_data(ttl=30, max_entries=2, show_spinner=False)
def cached_catalogue_rows(user_models_version: tuple[int, int]):
    # Short ttl: "weights here" must follow a `cvcore weights fetch` run while the server is up;
    # the version key: a model imported (page or CLI) shows at once.
    return catalogue_rows()


st.title("Models")
st.caption(
    "Every model in the catalogue. Click a column header to sort (again to reverse): the CSV and LaTeX downloads keep "
    "the order. Params and GMACs are measured by cvlens, in two conventions: the papers' (convolutions, linear layers, "
    "matrix products, attention) and fvcore's all-operator total; accuracy, published GMACs and file sizes come from "
    "the cited source (see the caption under the table). Models marked ★ yours are the ones you imported (page: Your models)."
)

def filter_words(task, families, year_range, all_years, search: str) -> list:
    """The page's filters as `python -m cvcore models` options (the report's rebuild line)."""
    words = ["--task", task] if task else []
    words += [w for family in families for w in ("--family", family)]
    if tuple(year_range) != tuple(all_years):
        words += ["--years", *year_range]
    return words + (["--search", search.strip()] if search.strip() else [])


rows = cached_catalogue_rows(store_version())
years = sorted({r.year for r in rows})

# Streamlit forgets widget values when the user visits another page: restore the filters from a kept copy.
filters = {state.MODELS_TASK: None, state.MODELS_FAMILIES: [], state.MODELS_YEARS: (years[0], years[-1]), state.MODELS_SEARCH: ""}
kept = restore_choices(state.MODELS_KEPT, filters)

with st.container(horizontal=True):
    task = st.selectbox("Task", TASKS, index=None, placeholder="All tasks", key=state.MODELS_TASK)
    families = st.multiselect("Family", sorted({r.family for r in rows}), key=state.MODELS_FAMILIES, placeholder="All families")
    year_range = st.slider("Year", years[0], years[-1], key=state.MODELS_YEARS)
    search = st.text_input("Search", key=state.MODELS_SEARCH, placeholder="name, family or paper title")
remember_choices(kept, filters)

mine = [r for r in rows if r.yours]
if mine:
    with st.expander(f"Your models ({len(mine)}): what cvlens measured", expanded=True):
        show_table(mine_table(mine), file_stem="cvlens_your_models", key=state.MODELS_MINE)
shown = filter_catalogue(rows, task=task, families=families, years=year_range, search=search)
if not shown:
    st.info("No model matches these filters.")
else:
    st.caption(f"{len(shown)} of {len(rows)} models.")
    labels = CATALOGUE_LABELS
    show_table(
        catalogue_table(shown),
        file_stem="cvlens_models",
        key=state.MODELS_TABLE,
        rebuild=Rebuild(cli_command("models", *filter_words(task, families, year_range, (years[0], years[-1]), search))),
        column_config={
            labels["paper_link"]: st.column_config.LinkColumn(labels["paper_link"], display_text="paper ↗"),
            labels["offline"]: st.column_config.CheckboxColumn(
                labels["offline"], help="Trained weights are on this machine now."
            ),
            labels["year"]: st.column_config.NumberColumn(labels["year"], format="%d"),
            labels["mparams"]: st.column_config.NumberColumn(labels["mparams"], help="Measured: parameters of the built model."),
            labels["gmacs"]: st.column_config.NumberColumn(
                labels["gmacs"], help=f"Measured at the model's input size: {PAPERS_CONVENTION}."
            ),
            labels["gmacs_all_ops"]: st.column_config.NumberColumn(
                labels["gmacs_all_ops"], help=f"Measured at the model's input size: {ALL_OPS_CONVENTION}."
            ),
            labels["published_gmacs"]: st.column_config.NumberColumn(
                labels["published_gmacs"], help="As the cited source counts them (torchvision's _ops, a paper's table)."
            ),
        },
        height=min(38 + 35 * len(shown), 700),
    )
