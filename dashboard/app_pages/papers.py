import streamlit as st

st.title("Papers")
st.info("This page is being built.")
