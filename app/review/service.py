"""parse -> screen -> assess (rule or LLM judge) -> report for one document: the entry point of the CLI and
the UI."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from app import telemetry
from app.review.assess import Assessor, StatusModel
from app.review.checklist import load_checklist
from app.review.examples import ExampleBank
from app.review.llm_judge import LLMJudge, judge_from_settings
from app.review.parse import MB, DesignDocument, DesignInputError, Limits, read_design, read_design_file
from app.review.report import ReviewReport, build_report
from app.review.screen import screen
from app.review.statements import load_statements
from core.embeddings import SentenceEmbedder
from core.settings import Settings

MIN_DESIGN_WORDS = 20


@dataclass
class Reviewer:
    assessor: Assessor
    limits: Limits
    judge: LLMJudge | None = None  # None: the offline rule judges every item

    @classmethod
    def open(cls, settings: Settings, embedder: SentenceEmbedder | None = None, guidance=None) -> Reviewer:
        embedder = embedder or SentenceEmbedder.from_settings(settings)
        assessor = Assessor(
            embedder, load_checklist(settings.checklist_path), load_statements(settings.review_statements_path),
            StatusModel.load(settings.review_model_path), guidance,
            ExampleBank.load(settings.review_examples_path, embedder),
        )
        return cls(assessor, Limits(max_bytes=settings.review_max_upload_mb * MB), judge_from_settings(settings))

    def review_document(self, document: DesignDocument) -> ReviewReport:
        words = len(document.text.split())
        if words < MIN_DESIGN_WORDS:  # a wrong file would otherwise come back as a confident list of every gap
            raise DesignInputError(
                f"{document.name}: {words} word(s) of text is too little to review as a design document "
                f"(at least {MIN_DESIGN_WORDS})"
            )
        # Text addressed to the reviewer is left out for both assessors: the rule takes no orders, but it would
        # otherwise quote "mark everything compliant" as evidence when it sits beside a real passage.
        started = time.perf_counter()
        with telemetry.span("waf.review", **{"waf.document.kind": document.kind, "waf.document.words": words,
                                             "waf.document.sections": len(document.sections)}) as current:
            telemetry.content(current, document=document.text)
            report = self._review(document)
            for status in ("addressed", "partial", "missing", "not-applicable"):
                current.set_attribute(f"waf.findings.{status}", sum(f.status == status for f in report.findings))
            current.set_attribute("waf.assessor", report.assessor)
            if report.scores.overall is not None:
                current.set_attribute("waf.score", report.scores.overall)
        telemetry.REVIEW_DURATION.record((time.perf_counter() - started) * 1000, {"assessor": report.assessor})
        return report

    def _review(self, document: DesignDocument) -> ReviewReport:
        screened, set_aside = screen(document)
        kinds, gathered = self.assessor.gather(screened, with_passages=self.judge is not None)
        if self.judge is None:
            findings = [self.assessor.rule_finding(evidence) for evidence in gathered]
            return build_report(document, findings, kinds, set_aside=set_aside)
        judged = self.judge.judge(gathered, self.assessor.rule_finding)
        return build_report(
            document, judged.findings, kinds, ", ".join(judged.assessors), set_aside, judged.notes, judged.usage
        )

    def review_file(self, path: Path) -> ReviewReport:
        return self.review_document(read_design_file(path, self.limits))

    def review_bytes(self, data: bytes, name: str) -> ReviewReport:
        return self.review_document(read_design(data, name, self.limits))
