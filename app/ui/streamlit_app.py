"""Entry point: `streamlit run app/ui/streamlit_app.py` (what `make run` starts)."""
from __future__ import annotations

from core.offline import apply_offline_defaults


def main() -> None:
    apply_offline_defaults()  # before the pages import anything that reads these variables
    import streamlit as st

    from app.telemetry import configure_telemetry
    from app.ui import chat_page, identity, review_page, workloads_page

    configure_telemetry()
    pages = {"Chat": chat_page.page, "Design review": review_page.page, "Workloads": workloads_page.page}
    st.set_page_config(page_title="WAF for AI assistant", layout="wide")
    principal = identity.gate()
    if principal is None:
        return
    st.session_state.principal = principal
    if "switch_to" in st.session_state:
        st.session_state.page = st.session_state.pop("switch_to")
    st.sidebar.radio("Page", list(pages), key="page")
    pages[st.session_state.page]()


main()
