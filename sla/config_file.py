"""Read a YAML configuration file into a pydantic model, reporting mistakes by file, line and field.

Configuration is validated once, at the edge. Every mistake names the file, the line and the
field, in words a platform engineer can act on, and all mistakes are reported at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = [
    "MAX_ALIASES",
    "MAX_CONFIG_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "ConfigError",
    "Problem",
    "load_model",
    "read_yaml",
]

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


#: The largest configuration file read (1 MiB): a policy pack with years of holidays and many
#: clocks is a few tens of KiB; a bigger file is a mistake or an attack, and YAML parsing of
#: tens of MB takes minutes.
MAX_CONFIG_BYTES = 1024 * 1024
#: The deepest nesting of mappings and lists accepted (the default pack nests 6 deep).
MAX_DEPTH = 32
#: The most aliases (``*name``) a file may use: a few share lists; thousands build bombs.
MAX_ALIASES = 100
#: The most values a file may stand for once its aliases are expanded (a "billion laughs"
#: file of 360 bytes stands for billions).
MAX_NODES = 100_000
_TOO_DEEP = f"is nested more than {MAX_DEPTH} levels deep; flatten it"
#: libyaml's parser when PyYAML was built with it (several times faster on a 1 MiB file).
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_text(path: Path) -> str:
    """The file's text; too large, unreadable or not UTF-8 becomes a :class:`ConfigError`."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise _refuse(
                name,
                None,
                f"is {size} bytes; a configuration file may hold at most {MAX_CONFIG_BYTES} "
                "bytes (is it the right file?)",
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            [Problem(name, None, "", f"cannot read the file: {exc.strerror}")]
        ) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(
            name,
            data[: exc.start].count(b"\n") + 1,
            f"is not UTF-8: byte {data[exc.start]:#04x} at offset {exc.start}; save the file as "
            "UTF-8",
        ) from None


def _refuse(name: str, line: int | None, message: str) -> ConfigError:
    return ConfigError([Problem(name, line, "", message)])


def _check_shape(text: str, name: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` and more than :data:`MAX_ALIASES` aliases.

    Runs on the event stream, which PyYAML produces without recursion, before anything is
    composed: composing a deeply nested file recurses in PyYAML and ends in RecursionError.
    """
    depth = aliases = 0
    for event in yaml.parse(text, Loader=_LOADER):
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _refuse(name, line, _TOO_DEEP)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _refuse(
                    name,
                    line,
                    f"uses more than {MAX_ALIASES} aliases (*name); write the values out",
                )


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many nodes ``node`` stands for with every alias expanded (counted, not expanded)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(item, memo) for item in node.value)
    memo[id(node)] = size = min(size, MAX_NODES + 1)
    return size


def read_yaml(path: Path) -> tuple[Any, LineIndex]:
    """Parse ``path``; a syntax error or a duplicated key becomes a :class:`ConfigError`.

    Hostile files are refused before they cost memory or time: over :data:`MAX_CONFIG_BYTES`,
    not UTF-8, nested deeper than :data:`MAX_DEPTH`, more than :data:`MAX_ALIASES` aliases,
    or standing for more than :data:`MAX_NODES` values once aliases are expanded. The data is
    built from the composed document (no second parse), with libyaml when PyYAML has it: a
    1 MiB policy of 5,000 clocks loads in about 1 s instead of 11.
    """
    name = str(path)
    text = _read_text(path)
    try:
        _check_shape(text, name)
        node = yaml.compose(text, Loader=_LOADER)
        if node is not None and _expanded_size(node, {}) > MAX_NODES:
            raise _refuse(
                name,
                None,
                f"stands for more than {MAX_NODES} values once its aliases are expanded; "
                "write the values out",
            )
        data = None if node is None else _LOADER("").construct_document(node)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        if "maximum nesting depth" in str(exc.problem):  # libyaml's own bound, met first
            raise _refuse(name, line, _TOO_DEEP) from None
        raise ConfigError([Problem(name, line, "", f"not valid YAML: {exc.problem}")]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(name, None, "", f"not valid YAML: {exc}")]) from exc
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


def _same(loc: Loc) -> Loc:
    return loc


def problems_from(
    exc: ValidationError, path: Path, index: LineIndex, in_file: Callable[[Loc], Loc] = _same
) -> list[Problem]:
    """Turn pydantic's errors into :class:`Problem` lines.

    Args:
        in_file: turns a cleaned pydantic location into the keys written in the file, for
            steps pydantic adds that the file has not (a discriminated union's tag).
    """
    out = []
    for error in exc.errors():
        loc = in_file(_clean_loc(tuple(error["loc"])))
        out.append(Problem(str(path), index.line_of(loc), field_name(loc), _message(dict(error))))
    return out


def load_model(
    path: Path, model: type[Model], in_file: Callable[[Loc], Loc] = _same
) -> tuple[Model, LineIndex]:
    """Read ``path`` and validate it as ``model``; :class:`ConfigError` lists every mistake.

    ``in_file`` as in :func:`problems_from`.
    """
    data, index = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError([Problem(str(path), 1, "", "must be a mapping of keys to values")])
    try:
        return model.model_validate(data), index
    except ValidationError as exc:
        raise ConfigError(problems_from(exc, path, index, in_file)) from exc
