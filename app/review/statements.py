"""How design documents say they cover a checklist item, or reveal its gap (corpus/checklist/review-statements.yaml).

Per item: coverage statements ("Every service-to-service call uses a managed identity"), gap statements ("The API
key is kept in app settings") and concept terms (managed identity, key vault...), matched on stems so
"identities" finds "identity". Plus exclusion statements: what a design says when a whole area is out of its
scope ("there are no agents", "no personal data is processed").
"""
from __future__ import annotations

import threading
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError

from core.text import words

EXCLUSION_GROUPS = ("agents", "training", "generative", "personal-data", "end-user-ui", "retrieval")


class ItemStatements(BaseModel):
    coverage: list[str] = Field(min_length=1)
    gaps: list[str] = Field(min_length=1)
    concepts: list[str] = Field(min_length=1)


class StatementBank(BaseModel):
    version: int = 1
    items: dict[str, ItemStatements]
    exclusions: dict[str, list[str]] = Field(default_factory=dict)


class StatementBankError(ValueError):
    pass


def load_statements(path: Path) -> StatementBank:
    try:
        return StatementBank.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise StatementBankError(f"review statements {path} unreadable: {exc}") from exc
    except ValidationError as exc:
        raise StatementBankError(f"review statements {path} invalid: {exc}") from exc


_local = threading.local()


def _stemmer():
    """One stemmer per thread: snowballstemmer keeps its state in the object, so the API's concurrent reviews
    sharing one failed with IndexError (found by `make loadtest`)."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import snowballstemmer

        stemmer = _local.stemmer = snowballstemmer.stemmer("english")
    return stemmer


def stems(text: str) -> list[str]:
    return _stemmer().stemWords(words(text))


def concept_pattern(concept: str) -> tuple[str, ...]:
    return tuple(stems(concept))
