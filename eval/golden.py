"""The golden question set (eval/golden.jsonl) as plain data."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class GoldenQuestion:
    id: str
    question: str
    pillars: list[str]
    reference: str
    gold_urls: list[str]
    key_facts: list[str]
    answerable: bool
    kind: str = ""
    extra: dict = field(default_factory=dict, compare=False)


def load_golden(path: Path) -> list[GoldenQuestion]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            known = {k: data.pop(k) for k in list(data) if k in GoldenQuestion.__dataclass_fields__}
            questions.append(GoldenQuestion(**known, extra=data))
        except (json.JSONDecodeError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a golden question: {exc}") from exc
    return questions
