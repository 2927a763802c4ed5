"""Models: the whole catalogue as one sortable, filterable table.

Everything comes from precomputed data (``cvcore.catalogue``: registry metadata plus the
stored fvcore analysis), so the page never builds a model.
"""

import streamlit as st

from cvcore.catalogue import catalogue_rows
from cvcore.compare import CATALOGUE_LABELS, catalogue_table, filter_catalogue
from dashboard import state
from dashboard.common import remember_choices, restore_choices
from dashboard.export import show_table

TASKS = ("classification", "segmentation")


@st.cache_data(ttl=30, max_entries=1, show_spinner=False)
def cached_catalogue_rows():
    # Short ttl: "weights here" must follow a `cvcore weights fetch` run while the server is up.
    return catalogue_rows()


st.title("Models")
st.caption(
    "Every model in the catalogue. Click a column header to sort (again to reverse): the CSV and LaTeX downloads keep "
    "the order. Params and GMACs are measured by cvlens; "
    "accuracy, published GMACs and file sizes come from the cited source (see the caption under the table)."
)

rows = cached_catalogue_rows()
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
        column_config={
            labels["paper_link"]: st.column_config.LinkColumn(labels["paper_link"], display_text="paper ↗"),
            labels["offline"]: st.column_config.CheckboxColumn(
                labels["offline"], help="Trained weights are on this machine now."
            ),
            labels["year"]: st.column_config.NumberColumn(labels["year"], format="%d"),
            labels["mparams"]: st.column_config.NumberColumn(labels["mparams"], help="Measured: parameters of the built model."),
            labels["gmacs"]: st.column_config.NumberColumn(
                labels["gmacs"], help="Measured with fvcore at the model's input size (1 multiply-add = 1)."
            ),
        },
        height=min(38 + 35 * len(shown), 700),
    )
