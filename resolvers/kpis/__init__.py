"""KPIs (KPI-1): the indicator registry, its SQL and the organisation it is scoped by."""
