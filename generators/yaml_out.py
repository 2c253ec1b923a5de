"""YAML output for generated files: stable, readable, with comments where a reader needs them.

Generated files are committed and compared byte for byte, so the output must not depend on
dictionary order surprises or PyYAML's line folding; multi-line strings (PromQL) are written
as literal blocks so that a reviewer reads the query as it was written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

__all__ = ["comment", "dump", "dump_documented"]


class _Dumper(yaml.SafeDumper):
    """Literal blocks for multi-line strings; lists indented under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def dump(data: Any) -> str:
    """``data`` as YAML: keys in insertion order, Unicode kept, no line folding."""
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000,
        default_flow_style=False,
    )  # fmt: skip


def comment(lines: Sequence[str], indent: str = "") -> str:
    """``lines`` as YAML comment lines."""
    return "".join(f"{indent}# {line}".rstrip() + "\n" for line in lines)


def dump_documented(
    header: Sequence[str],
    groups: Sequence[Mapping[str, Any]],
    notes: Mapping[str, Sequence[str]],
) -> str:
    """A Prometheus rule file: ``header`` comment, then each group after its own notes."""
    parts = [comment(header), "groups:\n"]
    for group in groups:
        parts.append(comment(notes.get(str(group["name"]), ()), "  "))
        body = dump([dict(group)])
        parts.append("".join(f"  {line}\n" for line in body.splitlines()))
    return "".join(parts)
