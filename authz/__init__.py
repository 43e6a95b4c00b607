"""Access-control floor: who may see which customers and which fields (issue: access control)."""
