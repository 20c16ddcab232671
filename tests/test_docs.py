"""The documentation stays true to the code: the settings table is generated from `core/settings.py`, and every
relative link between the README and docs/ resolves."""
from __future__ import annotations

import re
from pathlib import Path

from core.settings import Settings, settings_table

ROOT = Path(__file__).resolve().parent.parent


def test_settings_doc_is_generated_from_the_settings_object():
    assert (ROOT / "docs" / "settings.md").read_text(encoding="utf-8") == settings_table(), (
        "docs/settings.md is out of date: run .venv/bin/python -m core.settings > docs/settings.md"
    )


def test_every_setting_says_what_it_means():
    assert all(field.description for field in Settings.model_fields.values())


def test_relative_links_in_readme_and_docs_resolve():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken
