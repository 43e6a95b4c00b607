"""The audit log for auditors (SHARE-4): read-only, filtered, paginated."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import strawberry

from resolvers import audit
from resolvers.shared.filters import FilterField, compile_where
from schema.shared.base import (
    Connection,
    ContextInfo,
    DateTimeFilter,
    IDFilter,
    StringFilter,
    bilingual_enum,
    node_id,
    page_request,
)
from schema.shared.rights import HasRight
from schema.shared.rights import field as guarded_field
from store.audit import AuditCustomer, AuditEntry


class AuditAction(StrEnum):
    READ = "READ"
    CHANGE = "CHANGE"
    RESTORE = "RESTORE"


AuditActionEnum = bilingual_enum(
    AuditAction,
    "What an audit entry records. 审计事项。",
    {
        "READ": "Personal data revealed 查阅个人信息",
        "CHANGE": "Data changed 变更",
        "RESTORE": "The database was restored from a backup 从备份恢复",
    },
)


class AuditedEffect(StrEnum):
    FULL = "FULL"
    MASKED = "MASKED"
    CHANGED = "CHANGED"


AuditedEffectEnum = bilingual_enum(
    AuditedEffect,
    "What an audit entry records of a field. 审计字段效果。",
    {
        "FULL": "Revealed in full 明文查阅",
        "MASKED": "Revealed masked 脱敏查阅",
        "CHANGED": "Changed 已变更",
    },
)


@strawberry.type(description="A field named by an audit entry and how it was revealed.")
class AuditedField:
    field: str
    effect: AuditedEffectEnum  # type: ignore[valid-type]


@strawberry.type(
    name="AuditEntry", description="One entry of the append-only audit log. 审计日志。"
)
class AuditEntryNode:
    id: int = strawberry.field(description="Position in the hash chain (1, 2, 3 …).")
    at: dt.datetime
    actor: str = strawberry.field(description="Employee number of the staff member.")
    roles: list[str]
    purpose: str | None
    action: AuditActionEnum  # type: ignore[valid-type]
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
            fields=[
                AuditedField(field=k, effect=AuditedEffect(v))
                for k, v in sorted(row.fields.items())
            ],
            prev_hash=row.prev_hash,
            hash=row.hash,
        )


@strawberry.input(description="Audit action filter.")
class AuditActionFilter:
    eq: AuditActionEnum | None = None  # type: ignore[valid-type]
    in_: list[AuditActionEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Filters of the audit log; all given conditions must hold.")
class AuditWhere:
    actor: StringFilter | None = strawberry.field(default=None, description="Employee number.")
    customer: IDFilter | None = strawberry.field(
        default=None, description="Entries concerning these customers."
    )
    action: AuditActionFilter | None = None
    operation: StringFilter | None = None
    at: DateTimeFilter | None = None
    and_: list[AuditWhere] | None = strawberry.field(name="and", default=None)
    or_: list[AuditWhere] | None = strawberry.field(name="or", default=None)


# The sealed detail (before/after values) has no filter: the database holds its ciphertext.
AUDIT_FILTERS = {
    "actor": FilterField(AuditEntry.actor, "text"),
    "customer": FilterField(
        AuditCustomer.customer_id, "id", id_type="Customer", through=audit.concerning
    ),
    "action": FilterField(AuditEntry.action),
    "operation": FilterField(AuditEntry.operation, "text"),
    "at": FilterField(AuditEntry.at),
}


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
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[AuditEntryNode]:
        ctx = info.context
        if ctx.auditor is not None:
            ctx.auditor.flush()  # this process's queued reads are part of the answer
        page = audit.entry_page(
            ctx.session,
            compile_where(where, AUDIT_FILTERS),
            page_request(first, after, last, before),
        )
        return Connection.of(page, [AuditEntryNode.present(r) for r in page.rows])
