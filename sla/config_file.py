"""Read a YAML configuration file into a pydantic model, reporting mistakes by file, line and field.

Configuration is validated once, at the edge. Every mistake names the file, the line and the
field, in words a platform engineer can act on, and all mistakes are reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["ConfigError", "Problem", "load_model", "read_yaml"]

Model = TypeVar("Model", bound=BaseModel)
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One mistake in a configuration file."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ConfigError(Exception):
    """A configuration file that cannot be used; ``problems`` lists every mistake found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class LineIndex:
    """Maps a field path inside a YAML document to the line it was written on."""

    def __init__(self, lines: dict[Loc, int]) -> None:
        self._lines = lines

    def line_of(self, loc: Loc) -> int | None:
        """The line of the deepest part of ``loc`` that the document has."""
        for end in range(len(loc), -1, -1):
            line = self._lines.get(loc[:end])
            if line is not None:
                return line
        return None


def _index(node: yaml.Node, path: Loc, out: dict[Loc, int], dupes: list[tuple[Loc, int]]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in seen:
                dupes.append((child, key_node.start_mark.line + 1))
            seen.add(key)
            out[child] = key_node.start_mark.line + 1
            _index(value_node, child, out, dupes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), out, dupes)


def field_name(loc: Loc) -> str:
    """``('clocks', 2, 'limit')`` -> ``clocks[2].limit``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def read_yaml(path: Path) -> tuple[Any, LineIndex]:
    """Parse ``path``; a syntax error or a duplicated key becomes a :class:`ConfigError`."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [Problem(name, None, "", f"cannot read the file: {exc.strerror}")]
        ) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError([Problem(name, line, "", f"not valid YAML: {exc.problem}")]) from exc
    lines: dict[Loc, int] = {}
    dupes: list[tuple[Loc, int]] = []
    if node is not None:
        _index(node, (), lines, dupes)
    if dupes:
        raise ConfigError(
            [
                Problem(name, line, field_name(loc), "is given twice; keep one")
                for loc, line in dupes
            ]
        )
    return data, LineIndex(lines)


def _clean_loc(loc: Loc) -> Loc:
    """Drop pydantic's internal steps (``function-after[...]``, union tags) from a location."""
    return tuple(p for p in loc if isinstance(p, int) or ("[" not in p and "-" not in p))


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required but missing"
    if kind == "extra_forbidden":
        return "is not a known field (check the spelling)"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    value = error.get("input")
    if kind not in ("value_error",) and isinstance(value, str | int | float | bool):
        message = f"{message} (got {value!r})"
    return message


def problems_from(exc: ValidationError, path: Path, index: LineIndex) -> list[Problem]:
    """Turn pydantic's errors into :class:`Problem` lines."""
    out = []
    for error in exc.errors():
        loc = _clean_loc(tuple(error["loc"]))
        out.append(Problem(str(path), index.line_of(loc), field_name(loc), _message(dict(error))))
    return out


def load_model(path: Path, model: type[Model]) -> tuple[Model, LineIndex]:
    """Read ``path`` and validate it as ``model``; :class:`ConfigError` lists every mistake."""
    data, index = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError([Problem(str(path), 1, "", "must be a mapping of keys to values")])
    try:
        return model.model_validate(data), index
    except ValidationError as exc:
        raise ConfigError(problems_from(exc, path, index)) from exc
