"""parse -> assess -> report for one document: the entry point of the CLI and the UI."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.review.assess import Assessor, ReviewThresholds
from app.review.checklist import load_checklist
from app.review.parse import MB, DesignDocument, Limits, read_design, read_design_file
from app.review.report import ReviewReport, build_report
from ingest.embed import SentenceEmbedder
from ingest.settings import Settings


@dataclass
class Reviewer:
    assessor: Assessor
    limits: Limits

    @classmethod
    def open(cls, settings: Settings, embedder: SentenceEmbedder | None = None, guidance=None) -> "Reviewer":
        embedder = embedder or SentenceEmbedder(
            settings.embedding_model, settings.embedding_device, settings.embedding_batch_size
        )
        thresholds = ReviewThresholds(
            settings.review_addressed_phrases, settings.review_addressed_similarity, settings.review_partial_similarity
        )
        assessor = Assessor(embedder, load_checklist(settings.checklist_path), thresholds, guidance)
        return cls(assessor, Limits(max_bytes=settings.review_max_upload_mb * MB))

    def review_document(self, document: DesignDocument) -> ReviewReport:
        findings, kinds = self.assessor.assess(document)
        return build_report(document, findings, kinds)

    def review_file(self, path: Path) -> ReviewReport:
        return self.review_document(read_design_file(path, self.limits))

    def review_bytes(self, data: bytes, name: str) -> ReviewReport:
        return self.review_document(read_design(data, name, self.limits))
