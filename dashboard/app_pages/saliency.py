import streamlit as st

st.title("Saliency")
st.info("This page is being built.")
