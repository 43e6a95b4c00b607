"""KPIs (KPI-1) as GraphQL: indicators by period and scope, teams."""

from schema.kpis.mutations import KpiMutation
from schema.kpis.queries import NODE_LOADERS, KpiQuery

__all__ = ["NODE_LOADERS", "KpiMutation", "KpiQuery"]
