"""Rendering the alert e-mails: the templates, read once, explicitly, and what fills them.

`load_templates` reads every template of a folder and compiles it; `packaged_templates` and
`packaged_wording` do it once per process for the packaged templates and rule sets, so the
composing functions never read a file between rows: they are handed what they render with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from vcpipeline.alerts.wording import rule_records, rule_wording
from vcpipeline.rules.ruleset import load_rulesets

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_SUFFIX = ".j2"


@dataclass(frozen=True)
class Templates:
    """Compiled templates by file name (`team_alert.txt.j2`, ...): rendering reads no file."""

    by_name: Mapping[str, Any]  # name → jinja2.Template

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        return str(self.by_name[name].render(**context))


def load_templates(folder: Path = TEMPLATES_DIR) -> Templates:
    """Read and compile every `*.j2` in `folder`. HTML templates (`.html.j2`) escape every value;
    the plain-text ones must not. An undefined name is an error, never an empty string."""
    import jinja2  # only composing needs it; keeps `vcp --help` and DAG parsing light

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    names = sorted(path.name for path in Path(folder).glob(f"*{TEMPLATE_SUFFIX}"))
    return Templates({name: environment.get_template(name) for name in names})


@lru_cache(maxsize=1)
def packaged_templates() -> Templates:
    """This package's templates (`templates/`), loaded on first use and kept."""
    return load_templates()


@lru_cache(maxsize=1)
def packaged_wording() -> pd.DataFrame:
    """The packaged rule sets' words and deadlines (`wording.rule_wording`), read once."""
    return rule_wording(load_rulesets())


@lru_cache(maxsize=1)
def packaged_corrections() -> Mapping[str, str]:
    """Per rule, where the events that meet it are recorded (`wording.rule_records`), read once."""
    return rule_records(load_rulesets())


def render_template(template: str, context: Mapping[str, Any], templates: Templates | None = None) -> str:
    """Render one template of `templates` (default: this package's)."""
    return (templates or packaged_templates()).render(template, context)
