"""Chat page: streamed answers with numbered citations, pillar badges, passages, follow-ups and feedback."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import streamlit as st

from app.answer import Answer
from app.conversation.followups import question_for
from app.ratelimit import RateLimited
from app.ui import identity, resources
from core.documents import OFFICIAL_DOCS_ATTRIBUTION, OFFICIAL_DOCS_FOLDER, OFFICIAL_DOCS_LICENSE
from core.pillars import PILLAR_NAMES
from index.errors import IndexProblem

log = logging.getLogger(__name__)
INDEX_HELP = "Build it with `make run` (or `.venv/bin/waf-assistant ingest`), then reload this page."


def follow_up_questions(answer: dict) -> list[str]:
    """The backend's own follow-ups when it gives them; otherwise questions about the other retrieved sections."""
    if answer.get("follow_ups"):
        return answer["follow_ups"][:3]
    cited = {c["url"] for c in answer.get("citations", [])}
    passages = answer.get("passages", [])
    ordered = [p for p in passages if p["url"] not in cited] + [p for p in passages if p["url"] in cited]
    questions = []
    for passage in ordered:
        path = passage["section"].split(" > ")
        questions.append(question_for(path[-1], path[-2] if len(path) > 1 else ""))
    return [q for q in dict.fromkeys(questions) if q][:3]


def stream_answer(question: str, pillar: str | None, history: list[dict], holder: dict) -> Iterator[str]:
    """Text as it is produced; the final Answer lands in holder['answer']."""
    assistant = resources.assistant()
    if getattr(assistant, "generator", None) is not None:  # an LLM backend streams its own tokens
        for item in assistant.stream(question, pillar=pillar, history=history):
            if isinstance(item, Answer):
                holder["answer"] = item
            else:
                yield item
        return
    answer = assistant.ask(question, pillar, history=history)
    holder["answer"] = answer
    for word in answer.text.split(" "):
        yield word + " "


def render_answer(answer: dict, message_id: str) -> None:
    if answer.get("notice"):
        st.info(answer["notice"])
    if answer.get("pillars"):
        st.markdown(" ".join(f":blue-badge[{PILLAR_NAMES.get(p, p)}]" for p in answer["pillars"]))
    if answer.get("unsupported_sentences"):
        st.warning("Not supported by the cited source: " + " / ".join(answer["unsupported_sentences"]))
    if answer.get("citations"):
        st.markdown("**Sources**")
        for citation in answer["citations"]:
            license = f" · Microsoft Learn, {OFFICIAL_DOCS_LICENSE}" if citation.get("official_docs") else ""
            st.markdown(f"[{citation['number']}] [{citation['section']}]({citation['url']}){license}")
            with st.expander(f"Passage [{citation['number']}]"):
                st.markdown(citation["passage"])
        if any(c.get("official_docs") for c in answer["citations"]):
            st.caption(OFFICIAL_DOCS_ATTRIBUTION)
    for i, question in enumerate(follow_up_questions(answer)):
        if st.button(question, key=f"follow-{message_id}-{i}"):
            st.session_state.pending_question = question
            st.rerun()
    render_feedback(answer, message_id)


def render_feedback(answer: dict, message_id: str) -> None:
    saved = st.session_state.setdefault("feedback_saved", set())
    if message_id in saved:
        st.caption("Thanks for the feedback.")
        return
    rating = st.feedback("thumbs", key=f"rating-{message_id}")
    if rating is None:
        return
    comment = st.text_input("Comment (optional)", key=f"comment-{message_id}")
    if st.button("Send feedback", key=f"send-{message_id}"):
        resources.feedback_store().add(
            1 if rating == 1 else -1, answer["question"], answer["text"],
            [c["url"] for c in answer.get("citations", [])], answer.get("backend", ""), comment,
            user_id=identity.current_user().user_id,
        )
        saved.add(message_id)
        st.rerun()


def start_new_chat() -> None:
    st.session_state.messages = []
    st.session_state.conversation_id = None
    st.session_state.pop("pending_question", None)


def conversations_sidebar() -> None:
    """The signed-in user's saved conversations: resume one, or delete the open one."""
    user = identity.current_user().user_id
    store = resources.conversation_store()
    saved = store.list(user)
    if not saved:
        return
    st.sidebar.markdown("**Your conversations**")
    current = st.session_state.get("conversation_id")
    for conversation in saved[:20]:
        label = ("▸ " if conversation.id == current else "") + conversation.title
        if st.sidebar.button(label, key=f"resume-{conversation.id}", help=f"{conversation.messages} messages, "
                             f"last {conversation.updated}"):
            st.session_state.conversation_id = conversation.id
            st.session_state.messages = [
                {"role": m.role, "content": m.content, "answer": m.answer, "id": uuid.uuid4().hex}
                for m in store.messages(user, conversation.id)
            ]
            st.rerun()
    if current and st.sidebar.button("Delete this conversation", key="delete-conversation"):
        store.delete(user, current)
        start_new_chat()
        st.rerun()


def save_turn(question: str, answer: Answer) -> None:
    """The question and its answer, in the user's open conversation (started by the first question)."""
    user = identity.current_user().user_id
    store = resources.conversation_store()
    try:
        conversation = st.session_state.get("conversation_id") or store.create(user, question)
        store.append(user, conversation, "user", question)
        store.append(user, conversation, "assistant", answer.text, answer.to_dict())
        st.session_state.conversation_id = conversation
    except Exception:  # the answer is shown either way; saving it is best effort
        log.exception("conversation not saved")


def sidebar() -> str | None:
    settings = resources.settings()
    choice = st.sidebar.selectbox("Pillar filter", ["All pillars", *PILLAR_NAMES.values()], key="pillar_filter")
    if st.sidebar.button("New chat"):
        start_new_chat()
        st.rerun()
    conversations_sidebar()
    st.sidebar.caption(f"Answer backend: {settings.llm_backend}")
    st.sidebar.caption(f"Embedding model: {settings.embedding_model}")
    try:
        manifest = resources.assistant().index.manifest
        st.sidebar.caption(f"Index: {manifest.get('version')} ({manifest.get('chunk_count')} chunks)")
        if any(Path(root).name == OFFICIAL_DOCS_FOLDER for root in manifest.get("roots", [])):
            st.sidebar.caption(OFFICIAL_DOCS_ATTRIBUTION)
    except Exception:
        st.sidebar.caption("Index: not available")
    store = resources.feedback_store()
    st.sidebar.download_button("Export feedback (CSV)", store.to_csv(), "feedback.csv", "text/csv")
    return next((key for key, name in PILLAR_NAMES.items() if name == choice), None)


def page() -> None:
    st.title("Well-Architected guidance for AI workloads")
    pillar = sidebar()
    try:
        resources.assistant()
    except IndexProblem as exc:
        st.error(f"The guidance index is not available: {exc}. {INDEX_HELP}")
        return
    messages = st.session_state.setdefault("messages", [])
    for message in messages:
        with st.chat_message(message["role"]):
            st.markdown(message["content"])
            if message.get("answer"):
                render_answer(message["answer"], message["id"])

    typed = st.chat_input("Ask about reliability, security, cost, operations or performance of an AI workload")
    question = typed or st.session_state.pop("pending_question", None)
    if not question:
        if not messages:
            st.caption("Answers quote the official guidance, with a numbered citation after every statement.")
        return
    try:
        resources.rate_limiter().hit(identity.current_user().user_id, "questions")
    except RateLimited as exc:
        st.warning(f"Too many questions: {exc}")
        return
    history = [{"role": m["role"], "content": m["content"]} for m in messages]
    messages.append({"role": "user", "content": question, "id": uuid.uuid4().hex})
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        holder: dict = {}
        try:
            st.write_stream(stream_answer(question, pillar, history, holder))
        except Exception as exc:  # a backend outage or bad input must read as a message, not a traceback
            log.exception("answer failed")
            st.error(f"Sorry, the answer could not be produced: {exc}")
            messages.pop()
            return
    answer = holder["answer"]
    save_turn(question, answer)
    messages.append({"role": "assistant", "content": answer.text, "answer": answer.to_dict(), "id": uuid.uuid4().hex})
    st.rerun()
