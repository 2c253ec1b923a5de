"""Message templates: one per channel kind and locale, editable by the user, checked at load.

Four templates per locale: ``title`` (e-mail subject, chat title, first console line), ``text``
(plain text: console, e-mail text part, WeCom/DingTalk/Feishu text), ``markdown`` (chat
markdown: WeCom, DingTalk, Feishu cards) and ``html`` (e-mail; every value is escaped). They
are Jinja2 templates that may name only the fields in :data:`FIELDS` (and, inside a loop over
``items``, the per-alert fields in :data:`ITEM_FIELDS`); a template naming anything else is
refused when the file is loaded, with the file and line, like every other configuration.

The built-in templates (``alerts/default_templates.yaml``) are used for whatever a user file
does not set. ``slawatch alert-templates`` prints them as a starting point.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import jinja2
import jinja2.nodes as nodes
import yaml

from alerts.wording import LOCALES
from sla.config_file import ConfigError, Problem

__all__ = [
    "FIELDS",
    "ITEM_FIELDS",
    "KINDS",
    "TemplateKind",
    "Templates",
    "builtin_text",
    "load_templates",
]

TemplateKind = Literal["title", "text", "markdown", "html"]
KINDS: tuple[str, ...] = get_args(TemplateKind)

#: Fields of one alert, at the top level of a template and on each of ``items``.
ITEM_FIELDS: dict[str, str] = {
    "kind": "warning, breach, escalation, resolved or digest",
    "kind_label": "the kind in the recipient's language (预警, 已超时, 升级, ...)",
    "level": "escalation level (1, 2, 3) of a breach or escalation; empty otherwise",
    "case_id": "the case id",
    "case_kind": "complaint, enquiry, shipment, ...",
    "clock": "the clock id from the policy file",
    "clock_name": "the clock's display name from the policy file (its id if it has none)",
    "cycle": "which cycle of the clock (1 for the first)",
    "deadline": "the deadline in the recipient's local time, e.g. 2026-03-02 18:00 (UTC+08:00)",
    "timezone": "the recipient's time zone, e.g. Asia/Shanghai",
    "time_left": "how long until the deadline (warnings); empty otherwise",
    "late_by": "how late the case is (breaches, escalations); empty otherwise",
    "used_pct": "how much of the time was used when a warning fired (80 for 80 %)",
    "owner": "the case owner's staff id, or 'unassigned'",
    "team": "the owning team",
    "region": "the case's region, or 'none'",
    "department": "the responsible department, or 'none'",
    "outcome": "how a resolved clock ended (met, breached, cancelled, ...), in words",
}
#: Fields of the whole message: every alert field plus these.
FIELDS: dict[str, str] = {
    **ITEM_FIELDS,
    "title": "the rendered title template (not inside the title itself)",
    "ack_url": "the acknowledge link; empty when the message has none",
    "recipient": "the recipient's staff id, or team:<id>",
    "locale": "zh-CN or en",
    "items": "the alerts a digest holds (a list; loop over it)",
    "count": "how many alerts a digest holds",
}

_BUILTIN = "default_templates.yaml"


def _environment(kind: str) -> jinja2.Environment:
    return jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=kind == "html",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def builtin_text() -> str:
    """The built-in template file, as shipped (the starting point for one's own)."""
    return resources.files("alerts").joinpath(_BUILTIN).read_text(encoding="utf-8")


@dataclass(frozen=True)
class _Source:
    text: str
    first_line: int


def _sources(text: str, file: str) -> dict[tuple[str, str], _Source]:
    """``(locale, kind) -> template`` with the file line its first template line is on."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError([Problem(file, line, "", f"not valid YAML: {exc.problem}")]) from exc
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError([Problem(file, 1, "", "must map locales (zh-CN, en) to templates")])
    out: dict[tuple[str, str], _Source] = {}
    problems: list[Problem] = []
    for key, value in root.value:
        locale = str(key.value)
        line = key.start_mark.line + 1
        if locale not in LOCALES:
            problems.append(
                Problem(file, line, locale, f"unknown locale; use one of {', '.join(LOCALES)}")
            )
            continue
        if not isinstance(value, yaml.MappingNode):
            problems.append(Problem(file, line, locale, f"must map {', '.join(KINDS)} to text"))
            continue
        for kkey, kvalue in value.value:
            kind = str(kkey.value)
            where = f"{locale}.{kind}"
            kline = kkey.start_mark.line + 1
            if kind not in KINDS:
                problems.append(
                    Problem(file, kline, where, f"unknown template; use {', '.join(KINDS)}")
                )
            elif not isinstance(kvalue, yaml.ScalarNode):
                problems.append(Problem(file, kline, where, "must be text (use `|` for lines)"))
            else:
                block = kvalue.style in ("|", ">")
                first = kvalue.start_mark.line + (2 if block else 1)
                out[(locale, kind)] = _Source(str(kvalue.value), first)
    if problems:
        raise ConfigError(problems)
    return out


def _unknown_names(tree: nodes.Template, allowed: set[str]) -> list[tuple[int, str]]:
    """Names (and item attributes) a template uses that no message has, with their lines."""
    loop_vars: set[str] = set()
    item_vars: set[str] = set()
    for loop in tree.find_all(nodes.For):
        targets = [n.name for n in loop.target.find_all(nodes.Name)]
        if isinstance(loop.target, nodes.Name):
            targets.append(loop.target.name)
        loop_vars.update(targets)
        if isinstance(loop.iter, nodes.Name) and loop.iter.name == "items":
            item_vars.update(targets)
    for assign in tree.find_all(nodes.Assign):
        loop_vars.update(n.name for n in assign.target.find_all(nodes.Name))
        if isinstance(assign.target, nodes.Name):
            loop_vars.add(assign.target.name)
    bad: list[tuple[int, str]] = []
    for name in tree.find_all(nodes.Name):
        if name.ctx != "load" or name.name in loop_vars or name.name == "loop":
            continue
        if name.name not in allowed:
            bad.append((name.lineno, name.name))
    for attr in tree.find_all(nodes.Getattr):
        if (
            isinstance(attr.node, nodes.Name)
            and attr.node.name in item_vars
            and attr.attr not in ITEM_FIELDS
        ):
            bad.append((attr.lineno, f"{attr.node.name}.{attr.attr}"))
    return sorted(bad)


def _compile(
    source: _Source, locale: str, kind: str, file: str
) -> tuple[jinja2.Template | None, list[Problem]]:
    env = _environment(kind)
    where = f"{locale}.{kind}"
    try:
        tree = env.parse(source.text)
    except jinja2.TemplateSyntaxError as exc:
        line = source.first_line + (exc.lineno or 1) - 1
        return None, [Problem(file, line, where, f"not a valid template: {exc.message}")]
    allowed = set(FIELDS) - ({"title"} if kind == "title" else set())
    problems = [
        Problem(
            file,
            source.first_line + lineno - 1,
            where,
            f"unknown field {name!r}; a template may use {', '.join(sorted(allowed))}",
        )
        for lineno, name in _unknown_names(tree, allowed)
    ]
    if problems:
        return None, problems
    return env.from_string(source.text), []


class Templates:
    """Compiled templates by locale and kind; :meth:`render` fills one with a message's fields."""

    def __init__(self, compiled: dict[tuple[str, str], jinja2.Template]) -> None:
        self._compiled = compiled

    def render(self, locale: str, kind: TemplateKind, fields: dict[str, Any]) -> str:
        """The filled template (``en`` when ``locale`` has none of this kind)."""
        template = self._compiled.get((locale, kind)) or self._compiled[("en", kind)]
        return template.render(**fields).strip()


def _samples() -> list[dict[str, Any]]:
    """One message of each kind with every field filled, to try each template on at load."""
    breach: dict[str, Any] = {
        "kind": "breach", "kind_label": "BREACH", "level": "1", "case_id": "C-1",
        "case_kind": "complaint", "clock": "first_response", "clock_name": "First response",
        "cycle": 1, "deadline": "2026-03-02 18:00 (UTC+08:00)", "timezone": "Asia/Shanghai",
        "time_left": "", "late_by": "5m", "used_pct": None, "owner": "agent-1", "team": "cs",
        "region": "sh", "department": "none", "outcome": "",
    }  # fmt: skip
    warning = {**breach, "kind": "warning", "level": "", "time_left": "1h", "late_by": "",
               "used_pct": 80}  # fmt: skip
    resolved = {**breach, "kind": "resolved", "level": "", "late_by": "", "outcome": "met"}
    message = {"title": "T", "ack_url": "http://w/ack?b=1", "recipient": "agent-1",
               "locale": "en", "items": [], "count": 0}  # fmt: skip
    digest = {**breach, **message, "kind": "digest", "items": [breach, warning], "count": 2}
    return [{**one, **message} for one in (breach, warning, resolved)] + [digest]


def _template_line(exc: BaseException) -> int:
    """The template line an error was raised on (Jinja2 puts it in the traceback)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<template>"]
    return frames[-1].lineno or 1 if frames else 1


def _compile_all(
    text: str, file: str
) -> tuple[dict[tuple[str, str], jinja2.Template], list[Problem]]:
    compiled: dict[tuple[str, str], jinja2.Template] = {}
    problems: list[Problem] = []
    for (locale, kind), source in _sources(text, file).items():
        template, found = _compile(source, locale, kind, file)
        problems += found
        if template is None:
            continue
        for sample in _samples():
            try:
                template.render(**sample)
            except Exception as exc:  # any error a message would hit when it is sent
                line = source.first_line + _template_line(exc) - 1
                problems.append(
                    Problem(file, line, f"{locale}.{kind}", f"fails on a {sample['kind']}: {exc}")
                )
                break
        else:
            compiled[(locale, kind)] = template
    return compiled, problems


def load_templates(path: Path | None = None) -> Templates:
    """The built-in templates, with those of ``path`` (a user's file) in their place.

    Raises:
        ConfigError: the file cannot be read, is not a mapping of locales to templates, or a
            template is not valid or names an unknown field; every problem with file and line.
    """
    compiled, problems = _compile_all(builtin_text(), f"alerts/{_BUILTIN}")
    if problems:  # a defect of the shipped file; the tests load it
        raise ConfigError(problems)
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                [Problem(str(path), None, "", f"cannot read the file: {exc.strerror}")]
            ) from exc
        own, problems = _compile_all(text, str(path))
        if problems:
            raise ConfigError(problems)
        compiled.update(own)
    return Templates(compiled)
