"""slawatch: the command line and process edge (settings, logging)."""

__version__ = "0.1.0"
