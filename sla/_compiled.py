"""Use the mypyc-compiled build of the engine's hot modules when it matches the sources.

The engine runs per event and per due timer in the worker, the shadow and replay; compiled
with mypyc (``make native``, ``scripts/build_native.py``) the same Python source replays a
log 1.3-1.5x as fast (bench/README.md, 2026-12-06 night). The build lives outside the
package, in ``build/native/``, beside a manifest holding the SHA-256 of every source it was
compiled from. :func:`compiled_path` puts it in
front of the package's search path only when every source still matches, so an edited
``.py`` file is never shadowed by a stale build: the package then runs as plain Python.

``SLAWATCH_PURE_PYTHON=1`` runs plain Python even with a fresh build (to compare the two);
``SLAWATCH_NATIVE_DIR`` names another build directory (an image built elsewhere).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path

__all__ = ["MODULES", "compiled_path", "running_compiled", "source_digests"]

#: The modules compiled, relative to the repository root: the engine and what it calls per event.
MODULES = (
    "sla/calendar.py",
    "sla/case.py",
    "sla/clock.py",
    "sla/effects.py",
    "sla/engine.py",
    "sla/timesource.py",
    "sla/trusted.py",
    "sla/zones.py",
    "sla/readmodels/replay.py",
)
#: The name of the library the compiled modules share (mypyc's ``group_name``).
GROUP = "slawatch_native"
MANIFEST = "manifest.json"
ROOT = Path(__file__).resolve().parents[1]


def native_dir() -> Path:
    """Where the compiled build is looked for."""
    return Path(os.environ.get("SLAWATCH_NATIVE_DIR") or ROOT / "build" / "native")


def source_digests(root: Path = ROOT) -> dict[str, str]:
    """Module path -> SHA-256 of its source: what a build records and is checked against."""
    return {m: hashlib.sha256((root / m).read_bytes()).hexdigest() for m in MODULES}


def _fresh(build: Path) -> bool:
    """Whether ``build`` holds a build of exactly these sources for this interpreter."""
    try:
        manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(manifest, dict)
        and manifest.get("cache_tag") == sys.implementation.cache_tag
        and manifest.get("sources") == source_digests()
    )


def _load_group(build: Path) -> bool:
    """Load the library the compiled modules share, under the name they import it by."""
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    found = [p for p in (build / f"{GROUP}__mypyc{s}" for s in suffixes) if p.exists()]
    if not found:
        return False
    name = f"{GROUP}__mypyc"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, found[0])
        if spec is None or spec.loader is None:
            return False
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return True


def compiled_path(subpackage: str = "") -> list[str]:
    """The directories to search before ``sla/`` (or its ``subpackage``) itself: the build
    when it is fresh, else none."""
    if os.environ.get("SLAWATCH_PURE_PYTHON", "") not in ("", "0"):
        return []
    build = native_dir()
    if not _fresh(build) or not _load_group(build):
        return []
    return [str(build / "sla" / subpackage)]


def running_compiled() -> bool:
    """Whether the engine imported in this process is the compiled one (for benchmarks)."""
    import sla.engine

    return not sla.engine.__file__.endswith(".py") if sla.engine.__file__ else False
