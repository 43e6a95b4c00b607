"""Domain logic floor: queries and commands per domain, validation, pagination."""
