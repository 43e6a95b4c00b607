"""The bottom floor every other package may import: the clock, settings, regions, shared errors.

It imports nothing of Kehu's, so ``kehu``, ``schema``, ``resolvers``, ``workflows``, ``authz``
and ``store`` can all depend on it without an upward import (``make lint`` checks the layers).
"""
