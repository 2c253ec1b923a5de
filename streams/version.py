"""The product's version: one place, read by the worker (build info, ``/health``) and the CLI.

Below ``streams/`` so the Faust layer need not import the command-line package; keep it equal
to ``version`` in pyproject.toml (tests/slawatch/test_cli.py checks the installed one).
"""

__version__ = "0.1.0"
