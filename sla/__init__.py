"""The pure domain of slawatch: policies, calendars, clocks. No I/O lives here.

The engine's hot modules run compiled when a fresh build of them exists (``sla/_compiled.py``).
"""

from sla._compiled import compiled_path

__path__[:0] = compiled_path()
