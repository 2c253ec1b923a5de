"""Write requirements.lock: every runtime dependency of slawatch[rocksdb], pinned to the version
installed in this virtualenv (the versions the tests ran with). The image installs from it.

    .venv/bin/python scripts/lock_requirements.py

rocksdict (the ``rocksdb`` extra) is not part of the development virtualenv; its pin is kept
from the existing lock file (``ROCKSDICT`` below when there is none).

``make`` installs the virtualenv with this file as pip constraints, so a release upstream
does not move it. To take newer versions: ``.venv/bin/pip install -U NAME``, run the tests,
then this script.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import sys
from pathlib import Path

from packaging.requirements import Requirement

LOCK = Path(__file__).resolve().parents[1] / "requirements.lock"
ROCKSDICT = "0.3.29"
HEADER = """\
# Runtime dependencies of slawatch[rocksdb], pinned: the Docker image installs exactly these
# (`pip install -r requirements.lock`, then slawatch itself with --no-deps). Regenerate with
# `.venv/bin/python scripts/lock_requirements.py` after changing pyproject.toml's dependencies;
# tests/deploy/test_manifests.py checks it against pyproject.toml and the virtualenv.
"""


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(root: str) -> dict[str, str]:
    """Installed name -> version of ``root``'s runtime requirements, transitively."""
    found: dict[str, str] = {}

    def walk(name: str) -> None:
        key = _key(name)
        if key in found:
            return
        dist = md.distribution(name)
        found[key] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                walk(req.name)

    walk(root)
    found.pop(_key(root))
    return found


def main() -> int:
    pins = closure("slawatch")
    old = LOCK.read_text(encoding="utf-8") if LOCK.exists() else ""
    kept = re.search(r"^rocksdict==(\S+)", old, re.M)
    pins["rocksdict"] = kept.group(1) if kept else ROCKSDICT
    body = "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))
    LOCK.write_text(HEADER + body, encoding="utf-8")
    print(f"wrote {len(pins)} pins to {LOCK}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
