"""slawatch: the command line and process edge (settings, logging)."""

from streams.version import __version__

__all__ = ["__version__"]
