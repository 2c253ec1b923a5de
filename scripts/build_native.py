"""Compile the engine's hot modules with mypyc into ``build/native/`` (``make native``).

The same sources, compiled to C extension modules; ``sla/_compiled.py`` uses them only while
the manifest written here matches every source, so editing a module falls back to plain
Python until the next build. Needs a C compiler and the Python headers (``gcc``,
``python3-dev``); without them the build fails and slawatch runs as plain Python.

Usage::

    .venv/bin/python scripts/build_native.py
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sla._compiled import GROUP, MANIFEST, MODULES, native_dir, source_digests  # noqa: E402


def build(out: Path) -> None:
    """Compile :data:`MODULES` into ``out`` and write the manifest last (a half build is unused)."""
    from mypyc.build import mypycify
    from setuptools import setup

    digests = source_digests()
    shutil.rmtree(out, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="slawatch-native-") as work:
        os.chdir(ROOT)  # mypy reads the project's settings (pydantic plugin) from here
        extensions = mypycify(list(MODULES), opt_level="3", group_name=GROUP, target_dir=work)
        os.chdir(work)  # and setuptools would read the project file too: it is not ours to build
        setup(
            name="slawatch-native",
            ext_modules=extensions,
            script_args=["--quiet", "build_ext", "--build-lib", str(out), "--build-temp", work],
        )
    manifest = {"cache_tag": sys.implementation.cache_tag, "sources": digests}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    target = native_dir()
    build(target)
    print(f"compiled {len(MODULES)} modules into {target.relative_to(ROOT)}")
