"""The deploy-time check of a script or expression: its syntax, and the costs its text alone
shows."""

from __future__ import annotations

import ast

from workflows.sandbox.interpreter import Run
from workflows.sandbox.limits import LIMITS, Budget, SandboxError
from workflows.sandbox.syntax import COMPREHENSIONS, parse


def check(source: str, mode: str = "eval", budget: Budget | None = None) -> None:
    """Raise :class:`SandboxError` when ``source`` is not allowed (or not valid Python).

    Beyond the syntax, every part of the text that depends on no process variable is evaluated
    once under the limits, so a cost visible in the text is refused here, with
    :class:`ExpressionLimit`, rather than when an instance runs. A deploy passes one ``budget``
    for all the expressions of a diagram, so many of them cannot add up to a long deploy.
    """
    tree = parse(source, mode)
    _fold(tree, Run({}, LIMITS, budget))


def free_names(source: str, mode: str = "eval") -> set[str]:
    """The process variables ``source`` reads (a script's own assignments excluded; functions
    and comprehension variables are not variables). Raises :class:`SandboxError` as
    :func:`check` does."""
    free = _free_names(parse(source, mode))
    return free if mode == "eval" else free - assigned_names(source)


def assigned_names(source: str) -> set[str]:
    """The variables a script assigns (they are process variables afterwards)."""
    tree = parse(source, "exec")
    return {
        name.id
        for node in ast.walk(tree)
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.For))
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        for name in ast.walk(target)
        if isinstance(name, ast.Name)
    }


def _fold(node: ast.AST, run: Run) -> None:
    """Evaluate each largest part of ``node`` that reads no process variable (deploy-time cost)."""
    if (
        isinstance(node, ast.expr)
        and not isinstance(node, (ast.Constant, ast.Name, ast.FormattedValue, ast.Slice))
        and not isinstance(getattr(node, "ctx", None), ast.Store)
        and not _free_names(node)
    ):
        try:
            run.eval(node)
        except SandboxError:
            raise
        except Exception:  # an error of the expression itself (1/0): runs report it
            pass
        return
    for child in ast.iter_child_nodes(node):
        _fold(child, run)


def _free_names(node: ast.AST) -> set[str]:
    """The variables ``node`` reads (not the functions it calls, not comprehension variables)."""
    if isinstance(node, ast.Name):
        return {node.id} if isinstance(node.ctx, ast.Load) else set()
    if isinstance(node, ast.Call):
        parts = [*node.args, *(k.value for k in node.keywords)]
        return set().union(*(_free_names(part) for part in parts))
    if isinstance(node, COMPREHENSIONS):
        free: set[str] = set()
        bound: set[str] = set()
        for generator in node.generators:
            free |= _free_names(generator.iter) - bound
            bound |= {n.id for n in ast.walk(generator.target) if isinstance(n, ast.Name)}
            for condition in generator.ifs:
                free |= _free_names(condition) - bound
        results = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for result in results:
            free |= _free_names(result) - bound
        return free
    return set().union(*(_free_names(child) for child in ast.iter_child_nodes(node)))
