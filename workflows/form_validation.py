"""Checking a user task's data against its form's JSON schema, each problem naming its field."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jsonschema

from core.text import blank
from workflows.errors import ProcessError


def form_problems(schema: dict[str, Any], data: dict[str, Any]) -> list[ProcessError]:
    """Every way ``data`` fails the form's JSON schema, each naming the field.

    The field comes from the error's structured parts (``path``, ``validator_value``,
    ``instance``, ``schema``), never from its message: a property name may hold any character.
    """
    validator = jsonschema.Draft202012Validator(schema)
    problems: list[ProcessError] = []
    missing_seen: set[tuple[str, ...]] = set()
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.path]):
        path = tuple(str(p) for p in error.path)
        if error.validator == "required":
            # jsonschema reports each missing property with its own error, all alike but for
            # the message: name each missing property once.
            fields = [
                (*path, name) for name in _missing(error) if (*path, name) not in missing_seen
            ]
            missing_seen.update(fields)
        elif error.validator == "additionalProperties":
            fields = [(*path, name) for name in _additional(error)]
        else:
            fields = [path]
        problems.extend(
            ProcessError("FORM_INVALID", _form_message(error), field=("data", *field))
            for field in fields
        )
    return problems


def blank_texts(schema: dict[str, Any], data: dict[str, Any]) -> list[ProcessError]:
    """Text a form requires (``minLength`` 1 or more) that shows nothing — spaces or invisible
    characters only — is REQUIRED, naming its field: a supervisor's 督办措施 of zero-width
    spaces records nothing. For the code's own tasks (no service step behind them checks the
    answers, as the complaint's operations do for the diagram's tasks)."""
    problems = []
    for name, spec in (schema.get("properties") or {}).items():
        value = data.get(name)
        if _needs_text(spec) and isinstance(value, str) and blank(value):
            problems.append(ProcessError("REQUIRED", "must not be blank", field=("data", name)))
        elif isinstance(value, list) and _needs_text(spec.get("items") or {}):
            problems.extend(
                ProcessError("REQUIRED", "must not be blank", field=("data", name, str(n)))
                for n, item in enumerate(value)
                if isinstance(item, str) and blank(item)
            )
    return problems


def _needs_text(spec: Any) -> bool:
    return isinstance(spec, dict) and spec.get("type") == "string" and spec.get("minLength", 0) > 0


def _missing(error: jsonschema.ValidationError) -> list[str]:
    """The required properties ``error`` (a ``required`` failure) found missing."""
    instance = error.instance if isinstance(error.instance, dict) else {}
    return [str(name) for name in error.validator_value if name not in instance]


def _additional(error: jsonschema.ValidationError) -> list[str]:
    """The properties an ``additionalProperties`` failure refused (as jsonschema decides)."""
    instance = error.instance if isinstance(error.instance, dict) else {}
    declared = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    patterns = error.schema.get("patternProperties", {}) if isinstance(error.schema, dict) else {}
    return [
        str(name)
        for name in instance
        if name not in declared and not any(re.search(p, str(name)) for p in patterns)
    ]


def _form_message(error: jsonschema.ValidationError) -> str:
    # jsonschema's own message quotes the value that failed, which may be personal data.
    rule, value = str(error.validator), error.validator_value
    messages: dict[str, Callable[[], str]] = {
        "required": lambda: "is required",
        "additionalProperties": lambda: "is not a field of this form",
        "type": lambda: f"must be of type {value}",
        "enum": lambda: "must be one of " + ", ".join(map(str, value)),
        "minLength": lambda: f"must have at least {value} characters",
        "maxLength": lambda: f"must have at most {value} characters",
        "minimum": lambda: f"must be at least {value}",
        "maximum": lambda: f"must be at most {value}",
        "minItems": lambda: f"needs at least {value} entries",
        "format": lambda: f"must be a valid {value}",
        "pattern": lambda: "has the wrong format",
    }
    return messages[rule]() if rule in messages else f"fails the form rule {rule}"
