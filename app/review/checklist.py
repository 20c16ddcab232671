"""The review checklist (corpus/checklist/review-checklist.yaml), validated on load."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

ReviewPillar = Literal[
    "reliability", "security", "cost-optimization", "operational-excellence", "performance-efficiency",
    "responsible-ai", "data-governance",
]
WorkloadKind = Literal["generative", "training", "inference", "all"]


class ChecklistItem(BaseModel):
    id: str
    pillar: ReviewPillar
    title: str
    recommendation: str
    evidence: list[str] = Field(min_length=1)
    risk_if_missing: str
    severity: Literal["high", "medium", "low"]
    effort: Literal["low", "medium", "high"] = Field(
        description="work to close the gap: low a setting or short task, medium engineering work, high a project"
    )
    applies_to: list[WorkloadKind] = Field(min_length=1)
    source_url: str

    @field_validator("source_url")
    @classmethod
    def _learn_url(cls, value: str) -> str:
        if not value.startswith("https://learn.microsoft.com/azure/well-architected/"):
            raise ValueError("source_url must be a learn.microsoft.com well-architected URL")
        return value


class ChecklistError(ValueError):
    pass


def load_checklist(path: Path) -> list[ChecklistItem]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        items = [ChecklistItem.model_validate(item) for item in data["items"]]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ChecklistError(f"checklist {path} unreadable: {exc}") from exc
    except ValidationError as exc:
        raise ChecklistError(f"checklist {path} invalid: {exc}") from exc
    ids = [item.id for item in items]
    if len(ids) != len(set(ids)):
        raise ChecklistError(f"checklist {path} repeats an id")
    return items
