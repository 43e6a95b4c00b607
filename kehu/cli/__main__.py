"""``python -m kehu.cli``: the ``kehu`` command."""

from kehu.cli import app

app()
