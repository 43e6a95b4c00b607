"""The audit log for auditors (SHARE-4): read-only, filtered, paginated."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

import strawberry

from core.ids import pk_of
from resolvers import audit
from resolvers.shared.pagination import PageRequest
from schema.shared.base import Connection, ContextInfo, node_id
from schema.shared.rights import HasRight
from schema.shared.rights import field as guarded_field
from store.audit import AuditEntry


@strawberry.enum(description="What an audit entry records. 审计事项。")
class AuditAction(Enum):
    READ = strawberry.enum_value("READ", description="Personal data revealed 查阅个人信息")
    CHANGE = strawberry.enum_value("CHANGE", description="Customer information changed 变更")
    RESTORE = strawberry.enum_value(
        "RESTORE", description="The database was restored from a backup 从备份恢复"
    )


@strawberry.type(description="A field named by an audit entry and how it was revealed.")
class AuditedField:
    field: str
    effect: str = strawberry.field(description="FULL, MASKED, or CHANGED for changes.")


@strawberry.type(
    name="AuditEntry", description="One entry of the append-only audit log. 审计日志。"
)
class AuditEntryNode:
    id: int = strawberry.field(description="Position in the hash chain (1, 2, 3 …).")
    at: dt.datetime
    actor: str = strawberry.field(description="Employee number of the staff member.")
    roles: list[str]
    purpose: str | None
    action: AuditAction
    operation: str
    customer_ids: list[strawberry.ID]
    fields: list[AuditedField]
    prev_hash: str
    hash: str

    @classmethod
    def present(cls, row: AuditEntry) -> AuditEntryNode:
        return cls(
            id=row.id,
            at=row.at,
            actor=row.actor,
            roles=list(row.roles),
            purpose=row.purpose,
            action=AuditAction(row.action),
            operation=row.operation,
            customer_ids=[node_id("Customer", c) for c in row.customer_ids],
            fields=[AuditedField(field=k, effect=v) for k, v in sorted(row.fields.items())],
            prev_hash=row.prev_hash,
            hash=row.hash,
        )


@strawberry.input(description="Filters of the audit log; all given conditions must hold.")
class AuditWhere:
    actor: str | None = strawberry.field(default=None, description="Employee number.")
    customer_id: strawberry.ID | None = None
    action: AuditAction | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


@strawberry.type
class AuditQuery:
    @guarded_field(
        "The audit log, newest first (auditors). Nobody can change or delete entries. "
        "审计日志查询。",
        HasRight("admin:audit"),
    )
    def audit_log(
        self,
        info: ContextInfo,
        where: AuditWhere | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEntryNode]:
        ctx = info.context
        if ctx.auditor is not None:
            ctx.auditor.flush()  # this process's queued reads are part of the answer
        conditions: list[Any] = []
        if where is not None:
            if where.actor:
                conditions.append(AuditEntry.actor == where.actor)
            if where.customer_id:
                customer = pk_of(where.customer_id, "Customer", ("where", "customerId"))
                conditions.append(audit.customer_condition(customer))
            if where.action:
                conditions.append(AuditEntry.action == where.action.value)
            if where.since:
                conditions.append(AuditEntry.at >= where.since)
            if where.until:
                conditions.append(AuditEntry.at <= where.until)
        page = audit.entry_page(ctx.session, conditions, PageRequest(first=first, after=after))
        return Connection.of(page, [AuditEntryNode.present(r) for r in page.rows])
