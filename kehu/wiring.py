"""Where the domains are plugged in: one visible list, no registration by import side effects.

The GraphQL parts (query, mutation and subscription types, node loaders) are listed in
``schema.schema``; the workflow parts (service operations diagrams may call, listeners of
completed tasks, guards of who may hold tasks) here. The app, the worker and every CLI
command call :func:`wire` first.
"""

from __future__ import annotations

from resolvers import workflows as processes
from resolvers.complaints import commands as complaint_commands
from resolvers.complaints import deadlines as complaint_clocks
from resolvers.complaints import operations as complaints
from resolvers.contacts import operations as contacts
from resolvers.outbox import commands as outbox
from resolvers.outbox import delivery
from resolvers.outbox.senders import Sender
from resolvers.segments import applied as segment_measures
from resolvers.sharing import operations as sharing
from workflows import engine, operations, runtime

# Gateways of the channels other than e-mail (SMS, WECHAT, LETTER, MOBILE_APP): channel → an
# object with ``send(Outgoing) -> Answer`` (see resolvers.outbox.senders). Until one is listed,
# that channel's messages stay QUEUED.
GATEWAYS: dict[str, Sender] = {}


def wire() -> None:
    """Install every domain's service operations and task listeners (idempotent)."""
    operations.install(complaints.OPERATIONS, sharing.OPERATIONS, contacts.OPERATIONS)
    processes.install_task_listeners(dict(complaints.TASK_LISTENERS))
    # A risk re-assessment's outcome is audited with its customer (SEG-5).
    processes.install_task_listeners(dict(segment_measures.TASK_LISTENERS))
    runtime.install_task_guards(dict(complaints.TASK_GUARDS))
    delivery.install_failure_listeners(complaint_commands.on_outbox_failure)
    # One breach, one supervise task: the clocks open it; a diagram's own copy passes (CMP-6).
    engine.install_superseded_forms({"complaint": complaint_clocks.SUPERSEDED_FORMS})
    # Staff may not record a delivery of a message a gateway still owns (CMP-3).
    outbox.install_gateways(GATEWAYS)
    # Complaint tasks are due when the rules say, whatever the diagram says (CMP-6).
    runtime.install_task_clocks({"complaint": complaint_clocks.sync_task_clocks})
