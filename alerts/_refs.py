"""References to values kept outside the alerts file: ``${ENV_VAR}`` and ``secret_file:/path``.

Contact details may be written in the file or referenced; secrets (HMAC keys, SMTP passwords,
Slack webhook URLs) must be referenced, so the file can be committed and reviewed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

__all__ = ["ENV_REF", "FILE_PREFIX", "is_reference", "resolve"]

ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
FILE_PREFIX = "secret_file:"


def is_reference(text: str) -> bool:
    """Whether ``text`` points at the environment or a file rather than holding the value.

    >>> [is_reference(t) for t in ("${SLACK_URL}", "secret_file:/run/secrets/smtp", "x")]
    [True, True, False]
    """
    return bool(ENV_REF.match(text)) or text.startswith(FILE_PREFIX)


def resolve(text: str, env: Mapping[str, str], field: str) -> str:
    """The value ``text`` stands for; a literal is returned as written.

    Errors name the field and the variable or file, never the value.

    >>> resolve("${TOKEN}", {"TOKEN": "abc"}, "channels.ops.secret")
    'abc'
    """
    match = ENV_REF.match(text)
    if match:
        name = match.group(1)
        value = env.get(name)
        if not value:
            raise LookupError(
                f"{field}: environment variable {name} is not set; export it or use a file"
            )
        return value
    if text.startswith(FILE_PREFIX):
        path = Path(text.removeprefix(FILE_PREFIX).strip())
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise LookupError(f"{field}: cannot read secret file {path}: {exc.strerror}") from exc
    return text
