"""This browser session's secret: who started a training job (and so may stop it), who holds a t-SNE lease.

Kept in st.session_state only, never in the URL: a link shared with someone else carries no control over a job.
A browser refresh starts a new session, and with it a new token.
"""

from __future__ import annotations

import secrets

import streamlit as st

TOKEN_KEY = "_session_token"


def session_token() -> str:
    """A random token made once per session (the same on every rerun and page of this session)."""
    token = st.session_state.get(TOKEN_KEY)
    if not isinstance(token, str):
        token = st.session_state[TOKEN_KEY] = secrets.token_urlsafe(16)
    return token
