"""Home: what cvlens is and where each page lives.

The default page is always served at "/", whatever its ``url_path``; a Home page here lets
every working page keep a URL of its own (``/models`` included) that can be bookmarked or
put on a slide. Nothing to compute: no cvcore call, so the first visit stays fast.
"""

import streamlit as st

PAGES = (
    (
        "app_pages/models.py",
        "Every model in the catalogue: measured parameters and GMACs (papers' convention and fvcore's all-ops total), "
        "published accuracy with sources, offline weights.",
    ),
    ("app_pages/compare.py", "Accuracy against compute (Canziani et al. 2016), the Pareto front, deltas against a baseline."),
    (
        "app_pages/architecture.py",
        "A model's per-layer table like the papers' Table 1, by stage, with receptive fields; two-model diff.",
    ),
    ("app_pages/papers.py", "The papers' tables next to what cvlens measures, with the delta and the reason for it."),
    (
        "app_pages/segmentation.py",
        "Segment your own photos with several models side by side; scores against a ground-truth mask.",
    ),
    ("app_pages/saliency.py", "What a classifier looks at (Captum), with deletion/insertion faithfulness against random maps."),
    ("app_pages/your_models.py", "Import the model you trained (state dict, checkpoint, safetensors, ONNX): every page can then use it."),
    ("app_pages/report.py", "Your defense report: Add to report on any page, then order, caption and export it (HTML, ZIP)."),
)

st.title("cvlens")
st.markdown(
    "Compare computer-vision CNNs and look inside them. Every number says where it comes from "
    "(*measured* by cvlens, or *published* with its source), and every chart and table can be "
    "downloaded for slides: PNG/SVG/HTML, CSV/LaTeX, with a caption of sources and versions."
)
for page, description in PAGES:
    with st.container(border=True):
        st.page_link(page)
        st.caption(description)
st.caption(
    "Everything shown here can also be produced from Python (`cvcore`) or the shell "
    "(`python -m cvcore --help`). Trained weights: `python -m cvcore weights status`."
)
