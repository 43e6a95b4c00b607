"""The evaluator for scripts and expressions written in diagrams.

Process owners upload diagrams through the API, so what their expressions may do is an
allow-list, and the text never reaches Python's ``eval``/``exec``: a small interpreter walks the
syntax tree. Expressions hold names (process variables), constants, subscripts and slices,
arithmetic, comparisons, ``and``/``or``/``not``, conditional expressions, list/tuple/dict/set
literals, comprehensions, f-strings with a plain format spec, and calls of the functions in
:data:`FUNCTIONS`. Scripts add assignments, ``if`` and ``for``. There is no attribute access, no
``:=``, no lambda, import, function or class: the usual ways out of a Python sandbox (frames of
generators, ``__subclasses__``, ``str.format`` walking attributes) have nothing to start from.

Every evaluation also has a budget (:class:`Limits`): steps, wall-clock seconds, integer bits and
the length of strings and collections. Sizes are checked *before* Python builds a value (``'a' *
n``, ``2 ** n``, ``range(n)``, ``int(text)``), and operations whose cost grows with the depth of a
value (comparing, hashing, ``str``, storing) first pay for walking it, so no single call runs long
while holding the interpreter. :func:`check` refuses what is not allowed, and costs that the text
alone shows (``sum(range(10**10))``), at deploy; the rest stops at run time with
:class:`ExpressionLimit`.
"""

from workflows.sandbox.checks import assigned_names, check, free_names
from workflows.sandbox.functions import FUNCTIONS
from workflows.sandbox.interpreter import evaluate, execute
from workflows.sandbox.limits import LIMITS, Budget, ExpressionLimit, Limits, SandboxError

__all__ = [
    "FUNCTIONS",
    "LIMITS",
    "Budget",
    "ExpressionLimit",
    "Limits",
    "SandboxError",
    "assigned_names",
    "check",
    "evaluate",
    "execute",
    "free_names",
]
