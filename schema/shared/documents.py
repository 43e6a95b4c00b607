"""The operation a request runs, read from its parsed document (used by request extensions)."""

from __future__ import annotations

from graphql import DocumentNode, FragmentDefinitionNode, OperationDefinitionNode


def chosen_operation(
    document: DocumentNode | None, operation_name: str | None
) -> tuple[OperationDefinitionNode, dict[str, FragmentDefinitionNode]] | None:
    """The operation to execute and the document's fragments, or None if there is none."""
    if document is None:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            operation_name is None
            or (definition.name is not None and definition.name.value == operation_name)
        ):
            return definition, fragments
    return None
