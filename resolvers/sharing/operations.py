"""The service operations the share-request diagram calls (installed by ``kehu.wiring``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from authz.consents import consented_categories, consents_naming
from core import clock
from core.errors import UserInputError
from core.text import blank
from resolvers.sharing.commands import SHARE_PROCESS_KEY, note_change
from store.sharing import Consent, ShareRequest, ShareRequestStatus
from workflows.operations import OperationCall, OperationSet, Parameter, ProcessRules


def _share_request(call: OperationCall) -> ShareRequest:
    request = call.session.scalar(
        select(ShareRequest).where(ShareRequest.instance_id == call.instance.id)
    )
    if request is None:
        raise LookupError("no share request belongs to this process instance")
    return request


def _consents_covering(session: Session, request: ShareRequest) -> list[int]:
    """The consents in force now that together cover the request (empty when they do not).

    Union by purpose (SHARE-3): only the consents naming the request's purpose count, and the
    IDs returned are those giving some of the requested categories, oldest first.
    """
    consents = list(
        session.scalars(
            consents_naming(
                clock.now(), request.customer_id, request.third_party_id, request.purpose
            ).order_by(Consent.id)
        )
    )
    wanted = set(request.data_categories)
    if not consents or not wanted <= consented_categories(consents):
        return []
    return [c.id for c in consents if wanted & set(c.data_categories)]


# The service operations the share-request diagram calls (installed by kehu.wiring), and the
# data ``commands.request_share`` starts it with.
OPERATIONS = OperationSet(ProcessRules(SHARE_PROCESS_KEY, start_variables=("share_request_id",)))


@OPERATIONS("check_consent", "Whether the consents in force cover the request's purpose/categories")
def check_consent(call: OperationCall) -> dict[str, Any]:
    request = _share_request(call)
    covering = _consents_covering(call.session, request)
    if not covering:
        return {"in_force": False, "consent_id": None, "consent_ids": []}
    # The first covering consent is the one recorded on the request.
    request.consent_id = covering[0]
    return {"in_force": True, "consent_id": covering[0], "consent_ids": covering}


# Why an approval is turned into a refusal: the consent went while security reviewed.
CONSENT_GONE = "refused: the customer's consent is no longer in force (revoked or expired)"


@OPERATIONS(
    "decide_share_request",
    "Approve or refuse a data share request (audited)",
    [Parameter("approved", bool), Parameter("note", str, required=False)],
)
def decide_share_request(call: OperationCall) -> dict[str, Any]:
    request = _share_request(call)
    approved = bool(call.params.get("approved"))
    note = str(call.params.get("note") or "")[:300]
    if "note" in call.params and blank(note):
        # The reviewer's reasons are the record of the decision: spaces or invisible
        # characters alone are none (the shared rule of core/text.py).
        raise UserInputError.one(("data", "note"), "REQUIRED", "must not be blank")
    # Revoking consent stops sharing at once (SHARE-3): an approval is only as good as the
    # consent in force at the moment of the decision, not the one checked at the request.
    if approved and not _consents_covering(call.session, request):
        approved, note = False, CONSENT_GONE
    request.status = ShareRequestStatus.APPROVED if approved else ShareRequestStatus.DENIED
    request.decided_by_id = call.actor.id if call.actor else None
    request.decided_at = clock.now()
    request.decision_note = note
    if call.actor is not None:
        note_change(
            call.session,
            call.actor,
            f"share request {request.id} {request.status.lower()}",
            [request.customer_id],
            {"third_party": request.third_party_id, "categories": request.data_categories},
            f"consent:{request.consent_id}" if request.consent_id else "share_request",
        )
    return {"status": str(request.status)}
