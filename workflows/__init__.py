"""Workflow floor: BPMN diagrams and the SpiffWorkflow engine service (complaints issue)."""
