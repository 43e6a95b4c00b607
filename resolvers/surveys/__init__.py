"""Surveys (REL-5): questionnaires, requests after an occasion, responses, KPI aggregates."""
