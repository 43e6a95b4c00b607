"""Scorecards (KPI-2) and incentives (KPI-3): weights, frozen assessments, honours, bonus."""
