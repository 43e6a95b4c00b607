"""The customer club (REL-4) over HTTP on SQLite and PostgreSQL: membership by tier as data,
events of a branch with a capacity, invitations by segment (one statement, idempotent),
registrations (full and duplicate refused with nothing written, the last seat won by one of two
concurrent registrations), attendance, and no existence leak across branches."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from core import clock
from tests.conftest import Backend, create_customer
from tests.test_contacts import _tier

CREATE = """
mutation($input: CreateClubEventInput!) { createClubEvent(input: $input) {
  event { id kind title startsAt startsOn capacity registered seatsLeft invited attended
          branch { code } }
  errors { field code message } } }
"""
INVITE = """
mutation($input: InviteToClubEventInput!) { inviteToClubEvent(input: $input) {
  invited event { invited } errors { field code message } } }
"""
REGISTER = """
mutation($input: RegisterForClubEventInput!) { registerForClubEvent(input: $input) {
  registration { registeredAt attendedAt customer { id } event { id registered seatsLeft } }
  errors { field code message } } }
"""
ATTEND = """
mutation($input: RecordClubAttendanceInput!) { recordClubAttendance(input: $input) {
  registration { attendedAt event { attended } } errors { field code message } } }
"""
EVENTS = """
query { clubEvents(first: 100, where: {startsAt: {gte: "2020-01-01T00:00:00Z"}}) {
  totalCount edges { node { id title registered invited } } } }
"""
NODE = "query($id: ID!) { node(id: $id) { id ... on ClubEvent { title } } }"
MEMBERSHIP = """
mutation($input: SetClubMembershipInput!) { setClubMembership(input: $input) {
  tiers { tier level label } errors { field code } } }
"""


def _event(backend: Backend, staff: str = "SUP0001", **values: Any) -> dict[str, Any]:
    given = {
        "kind": "INVESTMENT_SALON",
        "title": "理财沙龙",
        "startsAt": (clock.now() + timedelta(days=3)).isoformat(),
        "capacity": 2,
        **values,
    }
    payload = backend.gql(CREATE, {"input": given}, staff=staff)["createClubEvent"]
    assert payload["errors"] == [], payload["errors"]
    return dict(payload["event"])


def _member(backend: Backend, tier: str = "HIGH") -> str:
    customer = create_customer(backend, staff="RM0001")
    _tier(backend, customer["id"], tier)
    return str(customer["id"])


def _register(backend: Backend, event: str, customer: str, staff: str = "RM0001") -> Any:
    given = {"eventId": event, "customerId": customer}
    return backend.gql(REGISTER, {"input": given}, staff=staff)["registerForClubEvent"]


def _count(backend: Backend, table: str) -> int:
    with backend.engine.connect() as connection:
        return int(connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


def test_an_event_shows_its_beijing_date_and_refuses_bad_input_REL_4(backend: Backend) -> None:
    # 16:30 UTC is half past midnight the next day in Beijing.
    day = clock.today() + timedelta(days=5)
    starts = datetime(day.year, day.month, day.day, 16, 30, tzinfo=UTC)
    event = _event(backend, startsAt=starts.isoformat())
    assert event["startsOn"] == (day + timedelta(days=1)).isoformat()
    assert event["branch"]["code"] == "BJ01" and event["seatsLeft"] == 2
    before = _count(backend, "club_events")
    bad = {
        "kind": "LECTURE",
        "title": " \u200b ",
        "startsAt": (clock.now() - timedelta(seconds=1)).isoformat(),
        "capacity": 0,
    }
    errors = backend.gql(CREATE, {"input": bad}, staff="SUP0001")["createClubEvent"]["errors"]
    assert {(tuple(e["field"]), e["code"]) for e in errors} == {
        (("title",), "REQUIRED"),
        (("startsAt",), "DATE_IN_PAST"),
        (("capacity",), "OUT_OF_RANGE"),
    }
    assert _count(backend, "club_events") == before
    # Managers do not plan events.
    refused = backend.post(CREATE, {"input": {**bad, "title": "x"}}, staff="RM0001").json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_invitations_by_segment_are_one_set_and_idempotent_REL_4(backend: Backend) -> None:
    high, medium, low = (
        _member(backend, "HIGH"),
        _member(backend, "MEDIUM"),
        _member(backend, "LOW"),
    )
    event = _event(backend, capacity=50)
    given = {"eventId": event["id"], "tiers": ["HIGH", "MEDIUM", "LOW"]}
    first = backend.gql(INVITE, {"input": given}, staff="SUP0001")["inviteToClubEvent"]
    assert first["errors"] == [] and first["invited"] >= 2
    with backend.engine.connect() as connection:
        invited = {
            row[0]
            for row in connection.execute(
                text(
                    "SELECT c.id FROM club_invitations i JOIN customers c ON c.id = i.customer_id"
                    " JOIN club_events e ON e.id = i.event_id WHERE e.title = '理财沙龙'"
                )
            )
        }
    assert _pk(high) in invited and _pk(medium) in invited
    assert _pk(low) not in invited  # LOW is not a member tier
    rows = _count(backend, "club_invitations")
    again = backend.gql(INVITE, {"input": given}, staff="SUP0001")["inviteToClubEvent"]
    assert again["invited"] == 0 and again["event"]["invited"] == first["event"]["invited"]
    assert _count(backend, "club_invitations") == rows


def test_the_membership_tiers_are_data_REL_4(backend: Backend) -> None:
    low = _member(backend, "LOW")
    event = _event(backend)
    refused = _register(backend, event["id"], low)
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [
        (["customerId"], "NOT_A_MEMBER")
    ]
    change = {"tier": "LOW", "level": "BLUE", "label": "普卡会员"}
    tiers = backend.gql(MEMBERSHIP, {"input": change})["setClubMembership"]["tiers"]
    try:
        assert {"tier": "LOW", "level": "BLUE", "label": "普卡会员"} in tiers
        assert _register(backend, event["id"], low)["errors"] == []
    finally:
        backend.gql(MEMBERSHIP, {"input": {"tier": "LOW", "level": None}})


def test_a_full_event_and_a_second_registration_are_typed_errors_REL_4(
    backend: Backend,
) -> None:
    event = _event(backend, capacity=1)
    one, two = _member(backend), _member(backend)
    ok = _register(backend, event["id"], one)
    assert ok["errors"] == [] and ok["registration"]["event"]["seatsLeft"] == 0
    rows = _count(backend, "club_registrations")
    twice = _register(backend, event["id"], one)
    assert [(e["field"], e["code"]) for e in twice["errors"]] == [
        (["customerId"], "ALREADY_REGISTERED")
    ]
    full = _register(backend, event["id"], two)
    assert [(e["field"], e["code"]) for e in full["errors"]] == [(["eventId"], "FULL")]
    assert _count(backend, "club_registrations") == rows
    listed = [e["node"] for e in backend.gql(EVENTS, staff="SUP0001")["clubEvents"]["edges"]]
    assert [e["registered"] for e in listed if e["id"] == event["id"]] == [1]


def test_two_registrations_for_the_last_seat_one_wins_REL_4(backend: Backend) -> None:
    event = _event(backend, capacity=1)
    customers = [_member(backend), _member(backend)]
    answers: list[Any] = []
    start = threading.Barrier(2)

    def register(customer: str) -> None:
        start.wait()
        answers.append(_register(backend, event["id"], customer))

    threads = [threading.Thread(target=register, args=(c,)) for c in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(e["code"] for a in answers for e in a["errors"])
    assert codes == ["FULL"], answers
    with backend.engine.connect() as connection:
        registered, seats = connection.execute(
            text(
                "SELECT e.registered, count(r.id) FROM club_events e LEFT JOIN club_registrations"
                " r ON r.event_id = e.id WHERE e.id = :id GROUP BY e.registered"
            ),
            {"id": int(_pk(event["id"]))},
        ).one()
    assert (registered, seats) == (1, 1)


def _pk(global_id: str) -> int:
    from core.ids import parse_global_id

    parsed = parse_global_id(global_id)
    assert parsed is not None
    return parsed[1]


def test_attendance_after_the_start_REL_4(backend: Backend) -> None:
    starts = clock.now() + timedelta(minutes=5)
    event = _event(backend, startsAt=starts.isoformat())
    customer = _member(backend)
    assert _register(backend, event["id"], customer)["errors"] == []
    given = {"eventId": event["id"], "customerId": customer}
    early = backend.gql(ATTEND, {"input": given}, staff="RM0001")["recordClubAttendance"]
    assert [e["code"] for e in early["errors"]] == ["EVENT_NOT_STARTED"]
    with clock.travel_to(starts, all_threads=True):
        late = _register(backend, event["id"], _member(backend))
        assert [e["code"] for e in late["errors"]] == ["EVENT_STARTED"]
        came = backend.gql(ATTEND, {"input": given}, staff="RM0001")["recordClubAttendance"]
        assert came["errors"] == [] and came["registration"]["attendedAt"] == starts.isoformat()
        assert came["registration"]["event"]["attended"] == 1
        stranger = {"eventId": event["id"], "customerId": _member(backend)}
        missing = backend.gql(ATTEND, {"input": stranger}, staff="RM0001")
        assert [e["code"] for e in missing["recordClubAttendance"]["errors"]] == ["NOT_REGISTERED"]


def test_another_branch_learns_nothing_of_an_event_REL_4(backend: Backend) -> None:
    event = _event(backend)
    customer = _member(backend)
    registrations = _count(backend, "club_registrations")
    assert backend.gql(NODE, {"id": event["id"]}, staff="SH01SUP01")["node"] is None
    theirs_listed = backend.gql(EVENTS, staff="SH01SUP01")["clubEvents"]["edges"]
    assert event["id"] not in [e["node"]["id"] for e in theirs_listed]
    theirs = backend.gql(INVITE, {"input": {"eventId": event["id"]}}, staff="SH01SUP01")[
        "inviteToClubEvent"
    ]
    nothing = backend.gql(
        INVITE, {"input": {"eventId": "Q2x1YkV2ZW50Ojk5OTk5OQ=="}}, staff="SH01SUP01"
    )["inviteToClubEvent"]
    assert (
        theirs["errors"]
        == nothing["errors"]
        == [{"field": ["eventId"], "code": "NOT_FOUND", "message": "no club event with this ID"}]
    )
    # Registering for it from another branch: the event is not found, as one that never was.
    given = {"eventId": event["id"], "customerId": customer}
    there = backend.gql(REGISTER, {"input": given}, staff="SH01RM01")["registerForClubEvent"]
    assert there["errors"] == nothing["errors"]
    # A manager of the branch who does not manage the customer: not found, as any unseen one.
    refused = backend.post(REGISTER, {"input": given}, staff="BJ01RM01").json()
    assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert _count(backend, "club_registrations") == registrations
    assert backend.gql(NODE, {"id": event["id"]}, staff="HO0001")["node"]["title"] == "理财沙龙"


def case_create_event(backend: Backend) -> tuple[str, dict[str, Any]]:
    """(staff, input) of a ``createClubEvent`` that succeeds (tests/test_unit_of_work.py)."""
    start = (clock.now() + timedelta(days=2)).isoformat()
    return "SUP0001", {"kind": "LECTURE", "title": "养老规划讲座", "startsAt": start, "capacity": 5}


def case_invite(backend: Backend) -> tuple[str, dict[str, Any]]:
    _member(backend)
    return "SUP0001", {"eventId": _event(backend, capacity=50)["id"], "tiers": ["HIGH"]}


def case_register(backend: Backend) -> tuple[str, dict[str, Any]]:
    return "RM0001", {"eventId": _event(backend)["id"], "customerId": _member(backend)}


def case_attend(backend: Backend) -> tuple[str, dict[str, Any]]:
    event, customer = _event(backend)["id"], _member(backend)
    assert _register(backend, event, customer)["errors"] == []
    # The event has begun (moved back in the table: the API plans events in the future only).
    with backend.engine.begin() as connection:
        connection.execute(
            text("UPDATE club_events SET starts_at = :at WHERE id = :id"),
            {"at": clock.now() - timedelta(hours=1), "id": _pk(event)},
        )
    return "RM0001", {"eventId": event, "customerId": customer}


def test_two_registrations_of_one_customer_at_once_one_wins_REL_4(backend: Backend) -> None:
    event = _event(backend, capacity=5)
    customer = _member(backend)
    answers: list[Any] = []
    start = threading.Barrier(2)

    def register() -> None:
        start.wait()
        answers.append(_register(backend, event["id"], customer))

    threads = [threading.Thread(target=register) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(e["code"] for a in answers for e in a["errors"]) == ["ALREADY_REGISTERED"]
    with backend.engine.connect() as connection:
        registered = connection.scalar(
            text("SELECT registered FROM club_events WHERE id = :id"), {"id": _pk(event["id"])}
        )
    assert registered == 1


SET_NEED = """
mutation($input: SetCustomerNeedInput!) { setCustomerNeed(input: $input) { errors { code } } }
"""


def _invited(backend: Backend, event: str) -> set[int]:
    with backend.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT customer_id FROM club_invitations WHERE event_id = :id"),
            {"id": _pk(event)},
        )
        return {row[0] for row in rows}


def test_invitations_by_needs_and_risk_grade_REL_4(backend: Backend) -> None:
    investor, saver = _member(backend), _member(backend)
    need = {"customerId": investor, "need": "INVESTMENT", "present": True, "reason": "基金客户"}
    assert backend.gql(SET_NEED, {"input": need}, staff="RM0001")["setCustomerNeed"]["errors"] == []
    event = _event(backend, capacity=50)["id"]
    given = {"eventId": event, "tiers": ["HIGH"], "needs": ["INVESTMENT"]}
    assert (
        backend.gql(INVITE, {"input": given}, staff="SUP0001")["inviteToClubEvent"]["errors"] == []
    )
    invited = _invited(backend, event)
    assert _pk(investor) in invited and _pk(saver) not in invited
    # Never assessed: the unscored grade (MEDIUM) since registration, so a HIGH segment leaves
    # both out.
    other = _event(backend, capacity=50)["id"]
    graded = {"eventId": other, "riskGrades": ["HIGH"]}
    assert (
        backend.gql(INVITE, {"input": graded}, staff="SUP0001")["inviteToClubEvent"]["errors"] == []
    )
    assert not {_pk(investor), _pk(saver)} & _invited(backend, other)


def test_two_invitations_of_one_segment_at_once_invite_each_member_once_REL_4(
    backend: Backend,
) -> None:
    """Both calls answer without an error; together they invited every member once (the unique
    key skips, never fails)."""
    event = _event(backend, capacity=50)
    members = {_pk(_member(backend, "HIGH")) for _ in range(3)}
    answers: list[Any] = []
    start = threading.Barrier(2)

    def invite() -> None:
        start.wait()
        given = {"input": {"eventId": event["id"], "tiers": ["HIGH"]}}
        answers.append(backend.gql(INVITE, given, staff="SUP0001")["inviteToClubEvent"])

    threads = [threading.Thread(target=invite) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a["errors"] for a in answers] == [[], []], answers
    invited = _invited(backend, event["id"])
    assert members <= invited
    assert sum(a["invited"] for a in answers) == len(invited)


# --- cancelling and changing events, withdrawing registrations (REL-4) -------------------------

CANCEL = """
mutation($input: CancelClubEventInput!) { cancelClubEvent(input: $input) {
  event { id cancelledAt cancelReason registered } errors { field code message } } }
"""
UPDATE = """
mutation($input: UpdateClubEventInput!) { updateClubEvent(input: $input) {
  event { id title capacity startsAt registered seatsLeft } errors { field code message } } }
"""
WITHDRAW = """
mutation($input: WithdrawClubRegistrationInput!) { withdrawClubRegistration(input: $input) {
  event { id registered seatsLeft } errors { field code message } } }
"""


def _codes(payload: dict[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    return [(tuple(e["field"]), e["code"]) for e in payload["errors"]]


def _notices(backend: Backend, customer: str, subject: str) -> list[tuple[str, str]]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from store.outbox import OutboxMessage

    with Session(backend.engine) as session:
        return [
            (m.channel, m.body)
            for m in session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.customer_id == _pk(customer), OutboxMessage.subject == subject
                )
            )
        ]


def test_a_cancelled_event_tells_its_registrants_and_takes_no_one_REL_4(backend: Backend) -> None:
    event = _event(backend, capacity=5, title="新春理财讲座")
    registrant, later = _member(backend), _member(backend)
    assert _register(backend, event["id"], registrant)["errors"] == []
    # A manager may not cancel; another branch's supervisor finds no such event.
    by_manager = backend.post(
        CANCEL, {"input": {"eventId": event["id"], "reason": "场地"}}, staff="RM0001"
    ).json()
    assert by_manager["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    theirs = backend.gql(
        CANCEL, {"input": {"eventId": event["id"], "reason": "场地"}}, staff="SH01SUP01"
    )["cancelClubEvent"]
    assert _codes(theirs) == [(("eventId",), "NOT_FOUND")]
    blank = backend.gql(
        CANCEL, {"input": {"eventId": event["id"], "reason": " "}}, staff="SUP0001"
    )["cancelClubEvent"]
    assert _codes(blank) == [(("reason",), "REQUIRED")]
    assert _notices(backend, registrant, "活动取消通知") == []  # nothing half-written
    done = backend.gql(
        CANCEL, {"input": {"eventId": event["id"], "reason": "场地检修"}}, staff="SUP0001"
    )["cancelClubEvent"]
    assert done["errors"] == [] and done["event"]["cancelReason"] == "场地检修"
    assert done["event"]["cancelledAt"] is not None
    [(channel, body)] = _notices(backend, registrant, "活动取消通知")
    assert channel == "SMS" and "新春理财讲座" in body and "已取消" in body
    assert "场地检修" not in body  # the reason is staff's record
    # Later: registration, invitation, change and a second cancellation refused, typed.
    assert _codes(_register(backend, event["id"], later)) == [(("eventId",), "EVENT_CANCELLED")]
    invite = backend.gql(INVITE, {"input": {"eventId": event["id"]}}, staff="SUP0001")[
        "inviteToClubEvent"
    ]
    assert _codes(invite) == [(("eventId",), "EVENT_CANCELLED")]
    change = backend.gql(
        UPDATE, {"input": {"eventId": event["id"], "capacity": 9}}, staff="SUP0001"
    )["updateClubEvent"]
    assert _codes(change) == [(("eventId",), "EVENT_CANCELLED")]
    again = backend.gql(
        CANCEL, {"input": {"eventId": event["id"], "reason": "再次"}}, staff="SUP0001"
    )["cancelClubEvent"]
    assert _codes(again) == [(("eventId",), "EVENT_CANCELLED")]
    # Head office may cancel any branch's event.
    other = _event(backend, staff="SH01SUP01")
    by_head_office = backend.gql(
        CANCEL, {"input": {"eventId": other["id"], "reason": "总行统一安排"}}, staff="HO0001"
    )["cancelClubEvent"]
    assert by_head_office["errors"] == []


def test_changing_an_event_keeps_its_registrants_seats_REL_4(backend: Backend) -> None:
    event = _event(backend, capacity=3)
    first, second = _member(backend), _member(backend)
    for customer in (first, second):
        assert _register(backend, event["id"], customer)["errors"] == []

    def update(**values: Any) -> dict[str, Any]:
        given = {"eventId": event["id"], **values}
        return dict(backend.gql(UPDATE, {"input": given}, staff="SUP0001")["updateClubEvent"])

    # Capacity: the seats taken (2) is the least; one below is refused, nothing written.
    assert _codes(update(capacity=1)) == [(("capacity",), "BELOW_REGISTERED")]
    assert _codes(update(capacity=0)) == [
        (("capacity",), "OUT_OF_RANGE"),
        (("capacity",), "BELOW_REGISTERED"),
    ]
    assert _codes(update(title=" ", startsAt=clock.now().isoformat())) == [
        (("title",), "REQUIRED"),
        (("startsAt",), "DATE_IN_PAST"),
    ]
    exact = update(capacity=2)
    assert exact["errors"] == [] and exact["event"]["seatsLeft"] == 0
    assert _codes(_register(backend, event["id"], _member(backend))) == [(("eventId",), "FULL")]
    moved_to = (clock.now() + timedelta(days=10)).replace(microsecond=0)
    moved = update(title="资产配置沙龙（改期）", startsAt=moved_to.isoformat())
    assert moved["errors"] == []
    assert (moved["event"]["title"], moved["event"]["startsAt"]) == (
        "资产配置沙龙（改期）",
        moved_to.astimezone(UTC).isoformat(),
    )
    when = moved_to.astimezone(clock.BUSINESS_TIME).strftime("%Y年%m月%d日 %H:%M")
    for customer in (first, second):
        [(_, body)] = _notices(backend, customer, "活动时间变更通知")
        assert when in body
    # A title alone tells no one anything.
    assert update(title="资产配置沙龙")["errors"] == []
    assert len(_notices(backend, first, "活动时间变更通知")) == 1
    with clock.travel_to(moved_to, all_threads=True):
        assert _codes(update(capacity=5)) == [(("eventId",), "EVENT_STARTED")]


def test_withdrawing_a_registration_frees_the_seat_until_the_start_REL_4(
    backend: Backend,
) -> None:
    starts = clock.now() + timedelta(days=2)
    event = _event(backend, capacity=1, startsAt=starts.isoformat())
    customer, waiting = _member(backend), _member(backend)
    given = {"eventId": event["id"], "customerId": customer}
    nobody = backend.gql(WITHDRAW, {"input": given}, staff="RM0001")["withdrawClubRegistration"]
    assert _codes(nobody) == [(("customerId",), "NOT_REGISTERED")]
    assert _register(backend, event["id"], customer)["errors"] == []
    assert _codes(_register(backend, event["id"], waiting)) == [(("eventId",), "FULL")]
    done = backend.gql(WITHDRAW, {"input": given}, staff="RM0001")["withdrawClubRegistration"]
    assert done["errors"] == [] and done["event"]["registered"] == 0
    assert done["event"]["seatsLeft"] == 1
    assert _register(backend, event["id"], waiting)["errors"] == []
    # Registered again, the first customer may withdraw only before the start (1 s before: yes).
    assert _register(backend, event["id"], customer)["errors"] != []  # full again
    later = {"eventId": event["id"], "customerId": waiting}
    with clock.travel_to(starts, all_threads=True):
        late = backend.gql(WITHDRAW, {"input": later}, staff="RM0001")["withdrawClubRegistration"]
        assert _codes(late) == [(("eventId",), "EVENT_STARTED")]
    with clock.travel_to(starts - timedelta(seconds=1), all_threads=True):
        just = backend.gql(WITHDRAW, {"input": later}, staff="RM0001")["withdrawClubRegistration"]
        assert just["errors"] == [] and just["event"]["registered"] == 0


def case_cancel(backend: Backend) -> tuple[str, dict[str, Any]]:
    """(staff, input) of a ``cancelClubEvent`` that succeeds (tests/test_unit_of_work.py)."""
    return "SUP0001", {"eventId": _event(backend)["id"], "reason": "审计测试"}


def case_update(backend: Backend) -> tuple[str, dict[str, Any]]:
    return "SUP0001", {"eventId": _event(backend)["id"], "capacity": 7}


def case_withdraw(backend: Backend) -> tuple[str, dict[str, Any]]:
    event, customer = _event(backend)["id"], _member(backend)
    assert _register(backend, event, customer)["errors"] == []
    return "RM0001", {"eventId": event, "customerId": customer}
