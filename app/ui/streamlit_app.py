"""Entry point: `streamlit run app/ui/streamlit_app.py` (what `make run` starts)."""
from __future__ import annotations

from ingest.offline import apply_offline_defaults

apply_offline_defaults()

import streamlit as st  # noqa: E402

from app.ui import chat_page, review_page  # noqa: E402

PAGES = {"Chat": chat_page.page, "Design review": review_page.page}

st.set_page_config(page_title="WAF for AI assistant", layout="wide")
if "switch_to" in st.session_state:
    st.session_state.page = st.session_state.pop("switch_to")
st.sidebar.radio("Page", list(PAGES), key="page")
PAGES[st.session_state.page]()
