import streamlit as st

st.title("Segmentation")
st.info("This page is being built.")
