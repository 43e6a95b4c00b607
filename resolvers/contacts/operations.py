"""What the follow-up diagram of a contact (``workflows/contact_follow_up.bpmn``) may rely on:
the data ``commands.log_contact`` starts it with. It calls no service operation."""

from __future__ import annotations

from resolvers.contacts.commands import FOLLOW_UP_DATA, FOLLOW_UP_PROCESS
from workflows.operations import OperationSet, ProcessRules

OPERATIONS = OperationSet(ProcessRules(FOLLOW_UP_PROCESS, start_variables=FOLLOW_UP_DATA))
