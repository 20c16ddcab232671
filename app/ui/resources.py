"""Models, index, reviewer and feedback store: loaded once per process and shared by every browser session."""
from __future__ import annotations

import streamlit as st

from app.assistant import Assistant
from app.feedback import FeedbackStore
from app.review.service import Reviewer
from core.embeddings import SentenceEmbedder
from core.settings import Settings, get_settings


@st.cache_resource(show_spinner="Loading the embedding model…")
def embedder() -> SentenceEmbedder:
    settings = get_settings()
    model = SentenceEmbedder.from_settings(settings)
    model.encode(["warm up"])
    return model


@st.cache_resource(show_spinner="Opening the guidance index…")
def assistant() -> Assistant:
    return Assistant.open(get_settings(), embedder())


@st.cache_resource(show_spinner="Loading the review checklist…")
def reviewer() -> Reviewer:
    settings = get_settings()
    try:
        guidance = assistant().retriever
    except Exception:  # no index: the review still runs, citing the checklist's own sources
        guidance = None
    return Reviewer.open(settings, embedder(), guidance)


@st.cache_resource(show_spinner="Opening the database…")
def database():
    from app.storage.database import open_database

    return open_database(get_settings().database)


@st.cache_resource
def history_store():
    from app.history.store import HistoryStore

    return HistoryStore(get_settings().database)


@st.cache_resource
def conversation_store():
    from app.conversation.store import ConversationStore

    return ConversationStore(database())


@st.cache_resource
def rate_limiter():
    from app.ratelimit import RateLimiter

    return RateLimiter.from_settings(get_settings())


@st.cache_resource
def feedback_store() -> FeedbackStore:
    return FeedbackStore.from_settings(get_settings())


def settings() -> Settings:
    return get_settings()
