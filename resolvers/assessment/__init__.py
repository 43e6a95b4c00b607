"""Assessment (KPI-2): spot checks with findings and rectifications, staff evaluations."""
