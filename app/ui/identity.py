"""Who is using the UI: with an `[auth]` section in `.streamlit/secrets.toml`, every page needs sign-in through
Streamlit's own OpenID Connect login (`st.login`, Authlib; Microsoft Entra ID or any OIDC provider), and the user
must hold one of `WAF_AUTH_REQUIRED_ROLES` / `WAF_AUTH_ALLOWED_GROUPS` when those are set. Without it, everyone is
the one local user, as before."""
from __future__ import annotations

import streamlit as st

from app.auth import ANONYMOUS, AuthError, Principal, check_allowed, principal_from_claims
from core.settings import get_settings


def sign_in_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def gate() -> Principal | None:
    """The signed-in user (or the local user when sign-in is off); None when the page must stop: the sign-in
    prompt, or the refusal of a user outside the allow-list, is drawn instead."""
    if not sign_in_configured():
        return ANONYMOUS
    if not st.user.is_logged_in:
        st.title("WAF for AI assistant")
        st.write("Sign in to ask questions and review designs; your conversations and reviews are kept for you.")
        st.button("Sign in", on_click=st.login, type="primary")
        return None
    principal = principal_from_claims(st.user.to_dict())
    settings = get_settings()
    try:
        check_allowed(principal, settings.auth_required_roles, settings.auth_allowed_groups)
    except AuthError as exc:
        st.error(f"Access denied: {exc.message}.")
        st.button("Sign out", on_click=st.logout)
        return None
    st.sidebar.caption(f"Signed in as {principal.name}")
    st.sidebar.button("Sign out", on_click=st.logout)
    return principal


def current_user() -> Principal:
    return st.session_state.get("principal", ANONYMOUS)
