"""The reliability suite: security, load and fault tests, with figures.

Run alone with ``python -m pytest tests/reliability -s`` (``-s`` shows the figures);
the full test command runs it too. docs/reliability.rst tells what was tried and
what held.
"""
