"""The generative answer: prompt | chat model, tried backend by backend with retries, then verified.

For each backend of the chain (`build_backends`): the langchain Runnable `ANSWER_PROMPT | chat_model` is
invoked (or streamed), transient faults are retried by `RetryPolicy`, and any failure moves on to the next
backend. The reply then goes through `CitationVerifier`: invalid markers are removed and counted, sentences
not supported by the chunk they cite are flagged, and a reply with no valid citation (or no supported
sentence) is replaced by the extractive answer with a notice. The answer object names the backend that
answered and every attempt made.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from app import telemetry
from app.answer import Answer, Citation, Passage
from app.conversation.memory import rule_rewrite
from app.llm.citations import CitationVerifier, Verification, is_decline
from app.llm.client import CallRecord, ChatClient, Generation, client_from_settings
from app.llm.prompt import ANSWER_PROMPT, REWRITE_PROMPT, answer_inputs, rewrite_inputs
from app.llm.resilience import AllBackendsFailed, BackendFailure
from core.pillars import PILLAR_NAMES
from index.retriever import ScoredChunk

_PILLAR_BY_NAME = {name.lower(): key for key, name in PILLAR_NAMES.items()}


class GenerativeAnswerer:
    def __init__(self, client: ChatClient, verifier: CitationVerifier):
        self.client = client
        self.verifier = verifier

    @property
    def backends(self):
        return self.client.backends

    @property
    def policy(self):
        return self.client.policy

    @property
    def primary(self) -> str:
        return self.backends[0].name

    # -- conversation memory -------------------------------------------------------------------------
    def rewrite(self, question: str, turns: list[tuple[str, str]], record: CallRecord) -> str:
        """The follow-up as a standalone question, by the first LLM that answers; the rule when none does."""
        if not turns:
            return question
        inputs = rewrite_inputs(question, turns)
        for backend in self.backends:
            if not backend.generative:
                break
            try:
                generation = self.client.invoke(backend, REWRITE_PROMPT, inputs, "rewrite", record)
            except BackendFailure:
                continue
            line = next((text.strip() for text in generation.text.strip().splitlines() if text.strip()), "")
            line = line.strip('"').removeprefix("Standalone question:").strip()
            if 3 <= len(line) <= 500:
                return line
        return rule_rewrite(question, turns)

    # -- answers ----------------------------------------------------------------------------------------
    def answer(
        self, question: str, hits: list[ScoredChunk], passages: list[Passage], best: float,
        extractive: Callable[[], Answer], record: CallRecord | None = None,
    ) -> Answer:
        record = record or CallRecord()
        inputs = answer_inputs(question, hits)
        failures: list[BackendFailure] = []
        for backend in self.backends:
            if not backend.generative:
                return self._extractive(extractive, failures, record)
            try:
                generation = self.client.invoke(backend, ANSWER_PROMPT, inputs, "answer", record)
            except BackendFailure as failure:
                failures.append(failure)
                continue
            return self.finish(question, hits, passages, best, generation, failures, extractive, record)
        raise AllBackendsFailed(failures)

    def stream(
        self, question: str, hits: list[ScoredChunk], passages: list[Passage], best: float,
        extractive: Callable[[], Answer], record: CallRecord | None = None,
    ) -> Iterator[str | Answer]:
        """Text deltas as the model writes them, then the final Answer (whose text replaces the deltas:
        markers repaired, or the fallback's answer after a failure)."""
        record = record or CallRecord()
        inputs = answer_inputs(question, hits)
        failures: list[BackendFailure] = []
        for backend in self.backends:
            if not backend.generative:
                answer = self._extractive(extractive, failures, record)
                yield answer.text
                yield answer
                return
            generation = None
            try:
                for item in self.client.stream(backend, ANSWER_PROMPT, inputs, "answer", record):
                    if isinstance(item, Generation):
                        generation = item
                    else:
                        yield item
            except BackendFailure as failure:
                failures.append(failure)
                continue
            assert generation is not None
            yield self.finish(question, hits, passages, best, generation, failures, extractive, record)
            return
        raise AllBackendsFailed(failures)

    def finish(
        self, question: str, hits: list[ScoredChunk], passages: list[Passage], best: float, generation: Generation,
        failures: list[BackendFailure], extractive: Callable[[], Answer], record: CallRecord,
    ) -> Answer:
        with telemetry.span("waf.citation_check") as checking:
            check = self.verifier.verify(generation.text, hits)
            checking.set_attribute("waf.citations", len(check.cited))
            checking.set_attribute("waf.removed_markers", check.removed_markers)
            checking.set_attribute("waf.unsupported_sentences", len(check.unsupported))
        attempts = _attempts(failures) + [{"backend": generation.backend.name, "ok": True, "retries": generation.retries}]
        notice = _failover_notice(failures, generation.backend.name)
        if not check.cited and is_decline(check.text):
            return Answer(
                question, check.text, [], [], passages, refused=True, backend=generation.backend.name, best_score=best,
                removed_markers=check.removed_markers, notice=notice, usage=record.summary(), attempts=attempts,
            )
        problem = _ungrounded(check)
        if problem:
            answer = extractive()
            answer.backend = "extractive"
            answer.removed_markers = check.removed_markers
            answer.unsupported_sentences = check.unsupported
            answer.notice = " ".join(
                filter(None, [notice, f"The {generation.backend.name} answer {problem}, so the quoted guidance is shown instead."])
            )
            answer.usage = record.summary()
            answer.attempts = attempts + [{"backend": "extractive", "ok": True, "retries": 0}]
            return answer
        citations = [Citation.from_chunk(n, hits[n - 1].chunk) for n in sorted(check.cited)]
        return Answer(
            question, check.text, citations, _pillars(check.text, citations), passages,
            backend=generation.backend.name, best_score=best, unsupported_sentences=check.unsupported,
            removed_markers=check.removed_markers, notice=notice, usage=record.summary(), attempts=attempts,
        )

    def _extractive(self, extractive: Callable[[], Answer], failures: list[BackendFailure], record: CallRecord) -> Answer:
        answer = extractive()
        answer.backend = "extractive"
        answer.notice = _failover_notice(failures, "extractive")
        answer.usage = record.summary()
        answer.attempts = _attempts(failures) + [{"backend": "extractive", "ok": True, "retries": 0}]
        return answer


def _ungrounded(check: Verification) -> str:
    if not check.cited:
        return "cited no valid source" + (f" ({check.removed_markers} invalid markers removed)" if check.removed_markers else "")
    if check.supported_count == 0:
        return "had no sentence supported by the source it cites"
    return ""


def _attempts(failures: list[BackendFailure]) -> list[dict]:
    return [{"backend": f.backend, "ok": False, "error": f.reason, "retries": f.retries} for f in failures]


def _failover_notice(failures: list[BackendFailure], answered_by: str) -> str:
    if not failures:
        return ""
    reasons = "; ".join(f"{f.backend}: {f.reason}" for f in failures)
    return f"Answered by {answered_by} because {reasons}."


def _pillars(body: str, citations: list[Citation]) -> list[str]:
    """The pillar sections the answer wrote (**Security**), else the primary pillars of what it cites."""
    import re

    headed = [
        _PILLAR_BY_NAME[h.strip().lower()]
        for h in re.findall(r"^\s*(?:#{1,6}\s*|\*\*)([A-Za-z ]+?)(?:\*\*)?:?\s*$", body, flags=re.MULTILINE)
        if h.strip().lower() in _PILLAR_BY_NAME
    ]
    if headed:
        return list(dict.fromkeys(headed))
    return list(dict.fromkeys(c.pillars[0] for c in citations if c.pillars))


def from_settings(settings, embedder, sentence_vectors=None, sleep: Callable[[float], None] = time.sleep) -> GenerativeAnswerer:
    """The answerer for WAF_LLM_BACKEND and WAF_LLM_FALLBACKS (raises BackendConfigError when misconfigured)."""
    return GenerativeAnswerer(
        client_from_settings(settings, sleep),
        CitationVerifier(embedder, settings.llm_support_threshold, sentence_vectors),
    )
