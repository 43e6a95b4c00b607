"""Demo complaints at every stage, run through the real complaint process."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select, true

from store.staff import Branch, Staff

DEMO_INVESTIGATION: dict[str, Any] = {
    "findings": "核实扣费记录，开户时未书面告知收费标准",
    "evidence": ["扣费流水", "开户申请书"],
    "cause": "PROCESS_DEFECT",
    "systemic": False,
    "on_the_spot": True,
    "complexity": "STANDARD",
}
DEMO_DECISION: dict[str, Any] = {
    "verified_facts": "开户时未书面告知账户管理费",
    "basis": "《商业银行服务价格管理办法》",
    "reasons": "收费前未履行告知义务，应予退还",
    "outcome": "UPHELD",
    # Handed over at the counter: the handler's record is the proof of delivery.
    "channel": "IN_PERSON",
    "proof_of_delivery": "客户签收回执",
}


def seed_complaints(engine: Engine, count: int) -> int:
    """Demo complaints at every stage: registered, investigating, decided, closed (CMP).

    They run through the real complaint process, so inboxes, timelines and statistics show data.
    """
    from kehu.wiring import wire
    from resolvers import workflows as tasks
    from resolvers.complaints import commands as complaints
    from store.complaints import Category, Channel, Complaint
    from store.customers import Customer
    from store.db import make_session_factory, transaction
    from store.workflows import ProcessTask, TaskStatus
    from workflows.deployment import ensure_deployed

    # The diagrams call service operations and notify task listeners: install them first.
    wire()
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        ensure_deployed(session)
        if session.scalar(select(Complaint.id).limit(1)) is not None:
            return 0
        staff = {s.employee_no: s for s in session.scalars(select(Staff))}
        branches = {b.id: b.code for b in session.scalars(select(Branch))}
        people = session.scalars(
            select(Customer)
            .where(Customer.relationship_manager_id.is_not(None))
            .order_by(Customer.id)
            .limit(count)
        ).all()
        categories, channels = list(Category), list(Channel)
        for n, customer in enumerate(people):
            code = branches[customer.branch_id]
            supervisor = staff["SUP0001" if code == "BJ01" else f"{code}SUP01"]
            handler = staff["CH0001" if code == "BJ01" else f"{code}CH01"]
            manager = session.get(Staff, customer.relationship_manager_id)
            complaint, _ = complaints.submit(
                session,
                staff["HO0001"],
                complaints.ComplaintDraft(
                    customer_id=customer.id,
                    channel=channels[n % len(channels)],
                    category=categories[n % len(categories)],
                    description="客户反映账户管理费扣收未提前告知",
                    idempotency_key=f"demo-{n}",
                    requested_remedy="退还费用",
                    regulator_reference=f"JG{n:06d}"
                    if channels[n % len(channels)] is Channel.REGULATOR_REFERRAL
                    else None,
                ),
                true(),  # head office registers them: every customer is visible
            )
            # By form: after the decision, the call-back and the review request wait side by side.
            steps: list[tuple[Staff | None, str, dict[str, Any]]] = [
                (supervisor, "assign_handler", {"handler": handler.employee_no}),
                (handler, "investigate", DEMO_INVESTIGATION),
                (handler, "decision_notice", DEMO_DECISION),
                (manager, "call_back", {"satisfaction_score": 4 + n % 2, "satisfied": True}),
                (manager, "review_request", {"review_requested": False}),
            ][: n % 6]
            for actor, form, data in steps:
                task = session.scalars(
                    select(ProcessTask).where(
                        ProcessTask.instance_id == complaint.instance_id,
                        ProcessTask.status == TaskStatus.OPEN,
                        ProcessTask.form_name == form,
                    )
                ).first()
                assert task is not None and actor is not None
                tasks.complete_task(session, actor, task.id, data)
    return len(people)
