"""Surveys (REL-5) over HTTP on SQLite and PostgreSQL: one request per customer and occasion
(after a contact, a closed complaint, an attended club event), answers checked per question
kind with nothing written on a refusal, free text sealed at rest, answers reaching preferences
and — for the risk questionnaire — the risk tolerance with the questionnaire as its source
(INFO-1), and the satisfaction / recommendation KPIs with small counts suppressed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from core import clock
from tests.complaint_steps import (
    assign,
    bj_customer,
    decide_and_call_back,
    do,
    on_the_spot,
    read,
    submit,
)
from tests.conftest import Backend, create_customer
from tests.test_club import ATTEND, case_attend
from tests.test_contacts import _ok as log_contact

REQUEST = """
mutation($input: RequestSurveyInput!) { requestSurvey(input: $input) {
  created request { id occasion answeredAt customer { id }
                    questionnaire { code version purpose questions { key kind required } } }
  errors { field code message } } }
"""
RESPOND = """
mutation($input: RecordSurveyResponseInput!) { recordSurveyResponse(input: $input) {
  response { score questionnaire { code version }
             answers { question scale yesNo choice text } }
  errors { field code message } } }
"""
CUSTOMER = """
query($id: ID!) { customer(id: $id) {
  preferences { contactMethod }
  riskProfile { riskTolerance questionnaireScore isValid }
  sources { informationKind kind detail } } }
"""
RESULTS = """
query($start: Date!, $end: Date!) { surveyResults(start: $start, end: $end) {
  minimumCount satisfaction { numerator denominator value }
  recommend { numerator denominator value } definition } }
"""
PENDING = """
query($where: SurveyRequestWhere) { surveyRequests(first: 20, where: $where) {
  totalCount edges { node { id occasion answeredAt customer { id } } } } }
"""
GOOD = [
    {"question": "satisfaction", "scale": 5},
    {"question": "recommend", "yesNo": True},
    {"question": "contact_method", "choice": "WECHAT"},
    {"question": "comment", "text": "理财经理服务很耐心"},
]


def _request(backend: Backend, customer: str, occasion: str, occasion_id: str | None) -> Any:
    given = {"customerId": customer, "occasion": occasion, "occasionId": occasion_id}
    return backend.gql(REQUEST, {"input": given}, staff="RM0001")["requestSurvey"]


def _respond(
    backend: Backend, request: str, answers: list[dict[str, Any]], staff: str = "RM0001"
) -> Any:
    given = {"requestId": request, "answers": answers}
    return backend.gql(RESPOND, {"input": given}, staff=staff)["recordSurveyResponse"]


def _rows(backend: Backend, table: str) -> int:
    with backend.engine.connect() as connection:
        return int(connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


def _contact_survey(backend: Backend) -> tuple[str, str]:
    """A customer and the survey a visit opened by itself."""
    customer = create_customer(backend, staff="RM0001")["id"]
    contact = log_contact(backend, customer)["id"]
    first = _request(backend, customer, "CONTACT", contact)
    assert first["errors"] == [] and first["created"] is False
    return customer, first["request"]["id"]


def _quiet_contact(backend: Backend, customer: str) -> str:
    """A contact that opens no survey by itself (market information by SMS)."""
    return str(log_contact(backend, customer, channel="SMS", purpose="MARKET_INFORMATION")["id"])


def test_one_request_per_customer_and_occasion_REL_5(backend: Backend) -> None:
    customer = create_customer(backend, staff="RM0001")["id"]
    contact = _quiet_contact(backend, customer)
    first = _request(backend, customer, "CONTACT", contact)
    assert first["created"] is True
    assert first["request"]["questionnaire"]["code"] == "SATISFACTION"
    rows = _rows(backend, "survey_requests")
    again = _request(backend, customer, "CONTACT", contact)
    assert again["created"] is False and again["request"]["id"] == first["request"]["id"]
    assert _rows(backend, "survey_requests") == rows
    # Another customer's contact is no occasion for this one (as if it did not exist).
    other = create_customer(backend, staff="RM0001")["id"]
    refused = _request(backend, other, "CONTACT", contact)
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [(["occasionId"], "NOT_FOUND")]


def test_after_a_complaint_only_once_it_is_closed_REL_5(backend: Backend) -> None:
    customer = bj_customer(backend)
    complaint_ref = submit(backend, customer)
    complaint = complaint_ref["id"]
    refused = _request(backend, customer["id"], "COMPLAINT", complaint)
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [(["occasionId"], "NOT_CLOSED")]
    assign(backend, complaint_ref)
    do(backend, "SH01CH01", complaint_ref, "Task_Investigate", on_the_spot())
    decide_and_call_back(backend, complaint_ref)
    assert read(backend, complaint_ref)["status"] == "CLOSED"
    # Closing opened the survey by itself (REL-5); asking again answers with it.
    asked = _request(backend, customer["id"], "COMPLAINT", complaint)
    assert asked["errors"] == [] and asked["created"] is False


def test_after_a_club_event_only_for_those_who_came_REL_5(backend: Backend) -> None:
    _, values = case_attend(backend)
    event, customer = values["eventId"], values["customerId"]
    refused = _request(backend, customer, "CLUB_EVENT", event)
    assert [e["code"] for e in refused["errors"]] == ["NOT_ATTENDED"]
    came = backend.gql(ATTEND, {"input": values}, staff="RM0001")["recordClubAttendance"]
    assert came["errors"] == []
    # Attendance asked for the survey already: it waits in the manager's list, once.
    waiting = backend.gql(
        PENDING,
        {"where": {"customer": {"eq": customer}, "answered": {"eq": False}}},
        staff="RM0001",
    )["surveyRequests"]
    assert [n["node"]["occasion"] for n in waiting["edges"]] == ["CLUB_EVENT"]
    # … and sent: its invitation is in the outbox (REL-5).
    assert [a["invitation"]["channel"] for a in _asked(backend, customer)] == ["SMS"]
    again = _request(backend, customer, "CLUB_EVENT", event)
    assert again["created"] is False
    assert again["request"]["id"] == waiting["edges"][0]["node"]["id"]
    assert _respond(backend, again["request"]["id"], GOOD[:2])["errors"] == []
    answered = backend.gql(
        PENDING,
        {"where": {"customer": {"eq": customer}, "answered": {"eq": False}}},
        staff="RM0001",
    )["surveyRequests"]
    assert answered["totalCount"] == 0


def test_answers_are_checked_per_question_kind_with_nothing_written_REL_5(
    backend: Backend,
) -> None:
    _, request = _contact_survey(backend)
    before = (_rows(backend, "survey_responses"), _rows(backend, "survey_answers"))
    bad = [
        {"question": "satisfaction", "scale": 6},
        {"question": "contact_method", "choice": "PIGEON"},
        {"question": "comment", "text": "\u200b \u2060"},
        {"question": "nonsense", "yesNo": True},
    ]
    errors = _respond(backend, request, bad)["errors"]
    assert {(tuple(e["field"]), e["code"]) for e in errors} == {
        (("answers", "0", "scale"), "OUT_OF_RANGE"),
        (("answers", "1", "choice"), "UNKNOWN_CHOICE"),
        (("answers", "3", "question"), "UNKNOWN_QUESTION"),
        (("answers",), "REQUIRED"),  # "recommend" is required and missing
    }
    assert all("PIGEON" not in e["message"] for e in errors)
    zero = _respond(backend, request, [{**GOOD[0], "scale": 0}, GOOD[1]])["errors"]
    assert [(e["field"], e["code"]) for e in zero] == [(["answers", "0", "scale"], "OUT_OF_RANGE")]
    wrong_kind = _respond(backend, request, [{"question": "satisfaction", "yesNo": True}, GOOD[1]])
    assert {e["code"] for e in wrong_kind["errors"]} == {"INVALID", "REQUIRED"}
    assert (_rows(backend, "survey_responses"), _rows(backend, "survey_answers")) == before


def test_answers_reach_preferences_and_free_text_is_sealed_REL_5(backend: Backend) -> None:
    customer, request = _contact_survey(backend)
    done = _respond(backend, request, GOOD)
    assert done["errors"] == []
    assert {a["question"]: a["text"] for a in done["response"]["answers"]}["comment"] == (
        "理财经理服务很耐心"
    )
    seen = backend.gql(CUSTOMER, {"id": customer}, staff="RM0001")["customer"]
    assert seen["preferences"]["contactMethod"] == "WECHAT"
    assert {
        "informationKind": "PREFERENCES",
        "kind": "QUESTIONNAIRE",
        "detail": (f"SATISFACTION v1 问卷 #{_last_response(backend)}"),
    } in seen["sources"]
    with backend.engine.connect() as connection:
        stored = connection.scalars(text("SELECT text FROM survey_answers WHERE text IS NOT NULL"))
        assert all("理财经理" not in value for value in stored)
    twice = _respond(backend, request, GOOD)
    assert [(e["field"], e["code"]) for e in twice["errors"]] == [
        (["requestId"], "ALREADY_ANSWERED")
    ]


def _last_response(backend: Backend) -> int:
    with backend.engine.connect() as connection:
        return int(connection.scalar(text("SELECT max(id) FROM survey_responses")) or 0)


RISK_ANSWERS = [
    {"question": "age", "choice": "D"},  # 15 of 20
    {"question": "experience", "choice": "C"},  # 10
    {"question": "horizon", "choice": "C"},  # 10
    {"question": "loss", "choice": "B"},  # 5
    {"question": "goal", "choice": "C"},  # 10
    {"question": "loss_reaction", "scale": 3},  # 10 of 20
]


def test_a_risk_questionnaire_sets_the_risk_tolerance_with_its_source_REL_5_INFO_1(
    backend: Backend,
) -> None:
    customer = create_customer(backend, staff="RM0001")["id"]
    review = _request(backend, customer, "RISK_REVIEW", None)
    assert review["request"]["questionnaire"]["purpose"] == "RISK_TOLERANCE"
    # An open review is asked once.
    assert _request(backend, customer, "RISK_REVIEW", None)["created"] is False
    done = _respond(backend, review["request"]["id"], RISK_ANSWERS)
    assert done["errors"] == []
    # 60 of 120 points: 50, in the C3 band [40, 60).
    assert done["response"]["score"] == 50
    seen = backend.gql(CUSTOMER, {"id": customer}, staff="RM0001")["customer"]
    assert seen["riskProfile"] == {
        "riskTolerance": "C3_BALANCED",
        "questionnaireScore": 50,
        "isValid": True,
    }
    assert {
        "informationKind": "RISK",
        "kind": "QUESTIONNAIRE",
        "detail": (f"RISK v1 问卷 #{_last_response(backend)}"),
    } in seen["sources"]
    # The next review is a new request; a higher score moves the tolerance up at the band edge.
    again = _request(backend, customer, "RISK_REVIEW", None)
    assert again["created"] is True
    edge = [{**a, "choice": "E"} if "choice" in a else {**a, "scale": 5} for a in RISK_ANSWERS]
    edge[0] = {"question": "age", "choice": "A"}  # 100 - 20 points: 100 * 100 // 120 = 83
    assert _respond(backend, again["request"]["id"], edge)["response"]["score"] == 83
    profile = backend.gql(CUSTOMER, {"id": customer}, staff="RM0001")["customer"]["riskProfile"]
    assert profile["riskTolerance"] == "C5_AGGRESSIVE"


def test_satisfaction_results_with_small_counts_suppressed_REL_5(backend: Backend) -> None:
    # A day of its own (no other test records responses then). The supervisor types the
    # answers in: the customers' own manager's typing would not count (KPI-2).
    moment = datetime(2031, 3, 10, 2, 0, tzinfo=UTC)
    day = clock.business_date(moment).isoformat()
    with clock.travel_to(moment, all_threads=True):
        scores = [5, 4, 3, 5]
        for score in scores:
            _, request = _contact_survey(backend)
            answers = [{"question": "satisfaction", "scale": score}, GOOD[1]]
            if score == 3:
                answers[1] = {"question": "recommend", "yesNo": False}
            assert _respond(backend, request, answers, "SUP0001")["errors"] == []
        few = backend.gql(RESULTS, {"start": day, "end": day})["surveyResults"]
        assert few["minimumCount"] == 5
        assert few["satisfaction"] == {"numerator": None, "denominator": None, "value": None}
        _, request = _contact_survey(backend)
        assert (
            _respond(
                backend, request, [{"question": "satisfaction", "scale": 4}, GOOD[1]], "SUP0001"
            )["errors"]
            == []
        )
        five = backend.gql(RESULTS, {"start": day, "end": day})["surveyResults"]
        assert five["satisfaction"] == {"numerator": 21, "denominator": 5, "value": 4.2}
        assert five["recommend"] == {"numerator": 4, "denominator": 5, "value": 0.8}
        # The day before holds none of them.
        before = (clock.business_date(moment) - timedelta(days=1)).isoformat()
        empty = backend.gql(RESULTS, {"start": before, "end": before})["surveyResults"]
        assert empty["satisfaction"]["denominator"] is None
    future = backend.post(RESULTS, {"start": "2099-01-01", "end": "2099-01-02"}).json()
    assert future["errors"][0]["extensions"]["code"] != "INTERNAL"


def case_request(backend: Backend) -> tuple[str, dict[str, Any]]:
    """(staff, input) of a ``requestSurvey`` that creates (tests/test_unit_of_work.py)."""
    customer = create_customer(backend, staff="RM0001")["id"]
    contact = _quiet_contact(backend, customer)
    return "RM0001", {"customerId": customer, "occasion": "CONTACT", "occasionId": contact}


def case_respond(backend: Backend) -> tuple[str, dict[str, Any]]:
    _, request = _contact_survey(backend)
    return "RM0001", {"requestId": request, "answers": GOOD}


PUBLISH = """
mutation($input: PublishQuestionnaireInput!) { publishQuestionnaire(input: $input) {
  questionnaire { code version purpose questions { key kind required choices { value } } }
  errors { field code message } } }
"""


def _quick_poll(code: str) -> dict[str, Any]:
    return {
        "code": code,
        "purpose": "SATISFACTION",
        "title": "活动满意度",
        "questions": [
            {
                "key": "score",
                "text": "活动满意度",
                "kind": "SCALE",
                "required": True,
                "metric": "SATISFACTION",
            },
            {"key": "again", "text": "是否愿意再次参加", "kind": "YES_NO"},
        ],
    }


def case_publish(backend: Backend) -> tuple[str, dict[str, Any]]:
    return "HO0001", _quick_poll("AUDIT_POLL")


def test_questionnaires_are_versioned_and_checked_REL_5(backend: Backend) -> None:
    first = backend.gql(PUBLISH, {"input": _quick_poll("EVENT_POLL")})["publishQuestionnaire"]
    assert first["errors"] == [] and first["questionnaire"]["version"] == 1
    second = backend.gql(PUBLISH, {"input": _quick_poll("EVENT_POLL")})["publishQuestionnaire"]
    assert second["questionnaire"]["version"] == 2
    rows = _rows(backend, "questionnaires")
    bad = _quick_poll("EVENT_POLL")
    bad["purpose"] = "RISK_TOLERANCE"
    bad["questions"] = [
        {"key": "Score", "text": " ", "kind": "SCALE", "metric": "RECOMMEND"},
        {
            "key": "pick",
            "text": "选一个",
            "kind": "CHOICE",
            "choices": [{"value": "A", "label": "甲"}],
        },
        {"key": "pick", "text": "再选", "kind": "TEXT", "choices": [{"value": "B", "label": "乙"}]},
    ]
    errors = backend.gql(PUBLISH, {"input": bad})["publishQuestionnaire"]["errors"]
    assert {(tuple(e["field"]), e["code"]) for e in errors} == {
        (("questions", "0", "key"), "INVALID"),
        (("questions", "0", "text"), "REQUIRED"),
        (("questions", "0", "metric"), "INVALID"),
        (("questions", "1", "choices"), "REQUIRED"),
        (("questions", "2", "choices"), "INVALID"),
        (("questions",), "DUPLICATE"),
        (("bands",), "INVALID"),  # a risk questionnaire needs its bands
        (("purpose",), "INVALID"),  # EVENT_POLL is a satisfaction questionnaire
    }
    assert _rows(backend, "questionnaires") == rows
    refused = backend.post(PUBLISH, {"input": _quick_poll("X")}, staff="RM0001").json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_new_version_is_asked_from_then_on_and_old_answers_keep_theirs_REL_5(
    backend: Backend,
) -> None:
    customer, old_request = _contact_survey(backend)
    # Version 1's questions and one more (optional): other tests keep answering as before.
    methods = ["PHONE", "SMS", "EMAIL", "WECHAT", "VISIT"]
    v2 = {
        "code": "SATISFACTION",
        "purpose": "SATISFACTION",
        "title": "客户满意度调查",
        "questions": [
            {
                "key": "satisfaction",
                "text": "满意程度",
                "kind": "SCALE",
                "required": True,
                "metric": "SATISFACTION",
            },
            {
                "key": "recommend",
                "text": "是否愿意推荐",
                "kind": "YES_NO",
                "required": True,
                "metric": "RECOMMEND",
            },
            {
                "key": "contact_method",
                "text": "联系方式",
                "kind": "CHOICE",
                "preference": "CONTACT_METHOD",
                "choices": [{"value": m, "label": m} for m in methods],
            },
            {"key": "comment", "text": "其他意见", "kind": "TEXT"},
            {"key": "visit_again", "text": "是否愿意再来网点", "kind": "YES_NO"},
        ],
    }
    published = backend.gql(PUBLISH, {"input": v2})["publishQuestionnaire"]
    assert published["errors"] == []
    version = published["questionnaire"]["version"]
    assert version >= 2
    contact = log_contact(backend, customer)["id"]
    new = _request(backend, customer, "CONTACT", contact)["request"]["questionnaire"]
    assert (new["code"], new["version"]) == ("SATISFACTION", version)
    # The request made before answers version 1's questions.
    old = _respond(backend, old_request, GOOD)
    assert old["errors"] == [] and old["response"]["questionnaire"]["version"] == 1
    refused = _respond(backend, old_request, [*GOOD, {"question": "visit_again", "yesNo": True}])
    assert refused["errors"][0]["code"] == "ALREADY_ANSWERED"
    answered = _respond(
        backend,
        _request(backend, customer, "CONTACT", contact)["request"]["id"],
        [*GOOD, {"question": "visit_again", "yesNo": True}],
    )
    assert answered["errors"] == [] and answered["response"]["questionnaire"]["version"] == version


def test_a_survey_of_a_customer_one_cannot_see_is_not_found_REL_5(backend: Backend) -> None:
    customer, request = _contact_survey(backend)
    rows = _rows(backend, "survey_responses")
    given = {"requestId": request, "answers": GOOD}
    theirs = backend.gql(RESPOND, {"input": given}, staff="SH01RM01")["recordSurveyResponse"]
    none = {"requestId": "U3VydmV5UmVxdWVzdDo5OTk5OTk=", "answers": GOOD}  # SurveyRequest:999999
    nothing = backend.gql(RESPOND, {"input": none}, staff="SH01RM01")["recordSurveyResponse"]
    assert (
        theirs["errors"]
        == nothing["errors"]
        == [{"field": ["requestId"], "code": "NOT_FOUND", "message": "no survey with this ID"}]
    )
    assert _rows(backend, "survey_responses") == rows
    node = "query($id: ID!) { node(id: $id) { id } }"
    assert backend.gql(node, {"id": request}, staff="SH01RM01")["node"] is None
    pending = backend.gql(PENDING, {"where": {"customer": {"eq": customer}}}, staff="SH01RM01")
    assert pending["surveyRequests"]["totalCount"] == 0


def test_risk_bands_at_their_exact_edges_REL_5() -> None:
    """The published v1 bands: a score at a band's lower bound is in it, one below is not."""
    import importlib

    from resolvers.surveys.commands import tolerance_of
    from store.surveys import Questionnaire

    migration = importlib.import_module("store.migrations.versions.0026_club")
    questionnaire = Questionnaire(definition=migration.RISK)
    expected = {
        0: "C1",
        19: "C1",
        20: "C2",
        39: "C2",
        40: "C3",
        59: "C3",
        60: "C4",
        79: "C4",
        80: "C5",
        100: "C5",
    }
    for score, tolerance in expected.items():
        assert tolerance_of(questionnaire, score).value.startswith(tolerance), score


# --- surveys open by themselves and are sent (REL-5) -------------------------------------------

INVITATIONS = """
query($where: SurveyRequestWhere) { surveyRequests(first: 20, where: $where) {
  totalCount edges { node { id occasion
    invitation { channel deliveryStatus sendAt } } } } }
"""
# A Wednesday, 10:30 in Beijing.
WEDNESDAY = datetime(2031, 4, 9, 10, 30, tzinfo=clock.BUSINESS_TIME)


def _asked(backend: Backend, customer: str) -> list[dict[str, Any]]:
    found = backend.gql(INVITATIONS, {"where": {"customer": {"eq": customer}}}, staff="RM0001")
    return [e["node"] for e in found["surveyRequests"]["edges"]]


def _prefers(backend: Backend, method: str, time_: str) -> tuple[str, int]:
    """A customer of RM0001 with a phone, an e-mail address and these contact preferences."""
    from tests.test_care import SOURCE as CARE_SOURCE

    customer = create_customer(
        backend, staff="RM0001", phone="13912345678", email="kehu@example.com"
    )
    preferences = {
        "customerId": customer["id"],
        "contactMethod": method,
        "contactTime": time_,
        "marketingOptIn": False,
        "source": CARE_SOURCE,
    }
    saved = backend.gql(
        "mutation($input: RecordPreferencesInput!) { recordPreferences(input: $input) "
        "{ errors { code } } }",
        {"input": preferences},
        staff="RM0001",
    )["recordPreferences"]
    assert saved["errors"] == []
    from core.ids import pk_of

    return customer["id"], pk_of(customer["id"], "Customer", "customerId")


def _bodies(backend: Backend, customer_pk: int) -> list[tuple[str, str, str]]:
    from tests.test_care import _messages

    return [(m.channel, m.subject, m.body) for m in _messages(backend, customer_pk)]


def test_a_conversation_opens_its_survey_and_sends_the_invitation_REL_5(
    backend: Backend,
) -> None:
    with clock.travel_to(WEDNESDAY, all_threads=True):
        customer, pk = _prefers(backend, "WECHAT", "WORKDAY_EVENING")
        log_contact(backend, customer, channel="PHONE", phoneLine="MANAGER")
        [asked] = _asked(backend, customer)
        # Over WeChat, at 19:00 Beijing the same workday, as the customer prefers.
        assert asked["occasion"] == "CONTACT"
        assert asked["invitation"] == {
            "channel": "WECHAT",
            "deliveryStatus": "QUEUED",
            "sendAt": datetime(2031, 4, 9, 11, 0, tzinfo=UTC).isoformat(),
        }
        [(channel, subject, body)] = _bodies(backend, pk)
        assert (channel, subject) == ("WECHAT", "满意度调查邀请")
        assert "测试客户" in body and "客户满意度调查" in body and body.endswith("【客户银行】")
        # Market information, an SMS, an e-mail or a Weibo post opens nothing (surveys.toml).
        other, other_pk = _prefers(backend, "SMS", "ANY_TIME")
        for channel_, purpose in (
            ("VISIT", "MARKET_INFORMATION"),
            ("SMS", "CARE_AND_FEEDBACK"),
            ("EMAIL", "CONSULTATION"),
            ("WEIBO", "CONSULTATION"),
        ):
            log_contact(backend, other, channel=channel_, purpose=purpose)
        assert _asked(backend, other) == [] and _bodies(backend, other_pk) == []
        # A visit is a conversation: asked, at 10:00 the next day (10:00 today has begun).
        log_contact(backend, other, channel="VISIT", purpose="CONSULTATION")
        assert [a["invitation"] for a in _asked(backend, other)] == [
            {
                "channel": "SMS",
                "deliveryStatus": "QUEUED",
                "sendAt": datetime(2031, 4, 10, 2, 0, tzinfo=UTC).isoformat(),
            }
        ]


def test_invitations_follow_the_preferred_channel_and_day_REL_5(backend: Backend) -> None:
    """A weekend customer is invited on Saturday; one who prefers a call gets a PHONE message
    the manager delivers; a Saturday's workday customer waits for Monday."""
    with clock.travel_to(WEDNESDAY, all_threads=True):
        weekend, _ = _prefers(backend, "EMAIL", "WEEKEND")
        log_contact(backend, weekend)
        assert [a["invitation"] for a in _asked(backend, weekend)] == [
            {
                "channel": "EMAIL",
                "deliveryStatus": "QUEUED",
                "sendAt": datetime(2031, 4, 12, 2, 0, tzinfo=UTC).isoformat(),  # Sat 10:00
            }
        ]
        caller, _ = _prefers(backend, "PHONE", "WORKDAY_MORNING")
        log_contact(backend, caller)
        # 09:00 has passed on Wednesday: Thursday 09:00.
        assert [a["invitation"]["channel"] for a in _asked(backend, caller)] == ["PHONE"]
        assert _asked(backend, caller)[0]["invitation"]["sendAt"] == (
            datetime(2031, 4, 10, 1, 0, tzinfo=UTC).isoformat()
        )
    saturday = WEDNESDAY + timedelta(days=3)
    with clock.travel_to(saturday, all_threads=True):
        workday, _ = _prefers(backend, "SMS", "WORKDAY_AFTERNOON")
        log_contact(backend, workday)
        assert _asked(backend, workday)[0]["invitation"]["sendAt"] == (
            datetime(2031, 4, 14, 6, 0, tzinfo=UTC).isoformat()  # Monday 14:00
        )


def test_one_contact_survey_per_quiet_period_REL_5(backend: Backend) -> None:
    """30 days (surveys.toml): a contact exactly 30 days after the last request asks nothing,
    one a second later asks again."""
    with clock.travel_to(WEDNESDAY, all_threads=True):
        customer, _ = _prefers(backend, "SMS", "ANY_TIME")
        log_contact(backend, customer)
        log_contact(backend, customer)
        assert len(_asked(backend, customer)) == 1
    with clock.travel_to(WEDNESDAY + timedelta(days=30), all_threads=True):
        log_contact(backend, customer)
        assert len(_asked(backend, customer)) == 1
    with clock.travel_to(WEDNESDAY + timedelta(days=30, seconds=1), all_threads=True):
        log_contact(backend, customer)
        assert len(_asked(backend, customer)) == 2
    # A risk review does not count: it is no satisfaction survey.
    with clock.travel_to(WEDNESDAY + timedelta(days=70), all_threads=True):
        assert _request(backend, customer, "RISK_REVIEW", None)["created"] is True
        log_contact(backend, customer)
        assert [a["occasion"] for a in _asked(backend, customer)].count("CONTACT") == 3


def test_a_closed_complaint_asks_by_itself_a_withdrawn_one_does_not_REL_5(
    backend: Backend,
) -> None:
    customer = bj_customer(backend)
    complaint = submit(backend, customer)
    assign(backend, complaint)
    do(backend, "SH01CH01", complaint, "Task_Investigate", on_the_spot())
    assert _asked(backend, customer["id"]) == []
    decide_and_call_back(backend, complaint)
    assert read(backend, complaint)["status"] == "CLOSED"
    after = _asked(backend, customer["id"])
    # No contact method recorded: SMS; no phone number on record either, so the invitation
    # is FAILED at once (the failure shows rather than a message waiting forever).
    assert [(a["occasion"], a["invitation"]["channel"]) for a in after] == [("COMPLAINT", "SMS")]
    assert after[0]["invitation"]["deliveryStatus"] == "FAILED"
    # Withdrawn: the customer ended it — nothing to judge, nothing asked.
    withdrawn = submit(backend, customer)
    ended = backend.gql(
        "mutation($input: WithdrawComplaintInput!) { withdrawComplaint(input: $input) "
        "{ complaint { status } errors { code } } }",
        {"input": {"id": withdrawn["id"], "reason": "客户已与网点协商解决"}},
        staff="RM0001",
    )["withdrawComplaint"]
    assert ended["complaint"]["status"] == "WITHDRAWN"
    assert len(_asked(backend, customer["id"])) == len(after)


REVIEWED = """
query($id: ID!) { customer(id: $id) {
  riskProfile { riskTolerance questionnaireScore }
  segment { run classifiedAt riskGrade }
  segmentHistory { reason fromRiskGrade toRiskGrade changedAt changedBy } } }
"""


def test_a_risk_questionnaire_reclassifies_the_customer_REL_5_SEG_3(backend: Backend) -> None:
    """The answers record a risk assessment, and the customer is classified again in the same
    transaction: a new run at the response's instant. The credit score carries over (the
    questionnaire does not set it), so the grade stays and no history entry is added; a grade
    that changes shows in the history (tests/test_segment_risk.py)."""
    customer = create_customer(backend, staff="RM0001")["id"]
    before = backend.gql(REVIEWED, {"id": customer}, staff="HO0001")["customer"]
    review = _request(backend, customer, "RISK_REVIEW", None)["request"]["id"]
    moment = clock.now() + timedelta(minutes=5)
    with clock.travel_to(moment, all_threads=True):
        assert _respond(backend, review, RISK_ANSWERS)["errors"] == []
    after = backend.gql(REVIEWED, {"id": customer}, staff="HO0001")["customer"]
    assert after["riskProfile"] == {"riskTolerance": "C3_BALANCED", "questionnaireScore": 50}
    assert after["segment"]["run"] != before["segment"]["run"]
    assert after["segment"]["classifiedAt"] == moment.astimezone(UTC).isoformat()
    assert after["segment"]["riskGrade"] == before["segment"]["riskGrade"] == "MEDIUM"
    assert after["segmentHistory"] == before["segmentHistory"]


def test_two_requests_for_one_occasion_at_once_make_one_request_REL_5(backend: Backend) -> None:
    """Two staff ask for the same contact's survey, and for a risk review, at the same moment:
    both answer with the one request (one of them ``created``), never INTERNAL; one invitation.
    Several rounds, so that the two inserts meet on the unique key."""
    import threading

    def at_once(customer: str, occasion: str, occasion_id: str | None) -> list[Any]:
        answers: list[Any] = []
        start = threading.Barrier(2)

        def ask() -> None:
            start.wait()
            given = {"customerId": customer, "occasion": occasion, "occasionId": occasion_id}
            answers.append(backend.post(REQUEST, {"input": given}, staff="RM0001").json())

        threads = [threading.Thread(target=ask) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return answers

    for round_ in range(4):
        customer = create_customer(backend, staff="RM0001")["id"]
        contact = _quiet_contact(backend, customer)
        for occasion, occasion_id in (("CONTACT", contact), ("RISK_REVIEW", None)):
            answers = at_once(customer, occasion, occasion_id)
            assert all("errors" not in a for a in answers), (round_, answers)
            payloads = [a["data"]["requestSurvey"] for a in answers]
            assert [p["errors"] for p in payloads] == [[], []]
            assert len({p["request"]["id"] for p in payloads}) == 1
            assert sorted(p["created"] for p in payloads) == [False, True]
        assert sorted(a["occasion"] for a in _asked(backend, customer)) == [
            "CONTACT",
            "RISK_REVIEW",
        ]
