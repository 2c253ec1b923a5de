"""Read models over the SLA core: replay of a log, explanations of a case, reports.

They use the engine and never change it; the core (``sla/``) does not import them."""

from sla._compiled import compiled_path

__path__[:0] = compiled_path("readmodels")
