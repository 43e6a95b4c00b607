"""Complaints (CMP-1 … CMP-6): intake, the operations of the complaint diagram, and queries."""
