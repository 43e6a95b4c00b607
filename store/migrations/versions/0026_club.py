"""The customer club (REL-4): member tiers and levels, events, invitations, registrations and
attendance; surveys (REL-5): questionnaires (the first satisfaction and risk versions),
requests, responses and answers (free text sealed, its field group); the club and survey rights
for a live policy that predates them.

Revision ID: 0026
Revises: 0025
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from store.migrations import policy_rules

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)
TIER = sa.Enum("LOW", "MEDIUM", "HIGH", name="valuetier", native_enum=False, length=32)

# The rules as in authz/policy.csv (a copy: a migration never reads a file that changes later).
RULES = [
    ("g2", "SurveyAnswer.text", "survey_text", "", ""),
    *policy_rules.p_rules(
        [
            "RELATIONSHIP_MANAGER, club:read, use, allow",
            "BRANCH_SUPERVISOR, club:read, use, allow",
            "HEAD_OFFICE, club:read, use, allow",
            "BRANCH_SUPERVISOR, club:event, use, allow",
            "HEAD_OFFICE, club:event, use, allow",
            "HEAD_OFFICE, club:membership, use, allow",
            "RELATIONSHIP_MANAGER, club:register, use, allow",
            "BRANCH_SUPERVISOR, club:register, use, allow",
            "HEAD_OFFICE, club:register, use, allow",
            "RELATIONSHIP_MANAGER, survey_text, full, allow",
            "BRANCH_SUPERVISOR, survey_text, full, allow",
            "HEAD_OFFICE, survey_text, full, allow",
            "AUDITOR, survey_text, masked, allow",
            "RELATIONSHIP_MANAGER, survey:record, use, allow",
            "BRANCH_SUPERVISOR, survey:record, use, allow",
            "COMPLAINT_HANDLER, survey:record, use, allow",
            "HEAD_OFFICE, survey:record, use, allow",
            "BRANCH_SUPERVISOR, survey:results, use, allow",
            "HEAD_OFFICE, survey:results, use, allow",
            "MARKETING_ANALYST, survey:results, use, allow",
            "HEAD_OFFICE, survey:design, use, allow",
        ]
    ),
]
SUMMARY = "migration 0026: customer club and survey rights"

# Members at the start: high-value customers gold, medium silver; configurable afterwards.
TIERS = [
    {"tier": "HIGH", "level": "GOLD", "label": "金卡会员"},
    {"tier": "MEDIUM", "level": "SILVER", "label": "银卡会员"},
]


SATISFACTION = {
    "questions": [
        {
            "key": "satisfaction",
            "text": "您对本次服务的满意程度（1–5 分）",
            "kind": "SCALE",
            "required": True,
            "metric": "SATISFACTION",
        },
        {
            "key": "recommend",
            "text": "您是否愿意向亲友推荐我行？",
            "kind": "YES_NO",
            "required": True,
            "metric": "RECOMMEND",
        },
        {
            "key": "contact_method",
            "text": "您希望我们今后以哪种方式联系您？",
            "kind": "CHOICE",
            "required": False,
            "preference": "contact_method",
            "choices": [
                {"value": "PHONE", "label": "电话"},
                {"value": "SMS", "label": "短信"},
                {"value": "EMAIL", "label": "电子邮件"},
                {"value": "WECHAT", "label": "微信"},
                {"value": "VISIT", "label": "面谈"},
            ],
        },
        {"key": "comment", "text": "其他意见或建议", "kind": "TEXT", "required": False},
    ]
}


def _risk_question(key: str, text: str, labels: list[str]) -> dict[str, object]:
    choices = [
        {"value": chr(ord("A") + i), "label": label, "points": i * 5}
        for i, label in enumerate(labels)
    ]
    return {"key": key, "text": text, "kind": "CHOICE", "required": True, "choices": choices}


RISK = {
    "questions": [
        _risk_question(
            "age", "您的年龄", ["65 岁以上", "51–65 岁", "41–50 岁", "31–40 岁", "30 岁以下"]
        ),
        _risk_question(
            "experience",
            "您的投资经验",
            ["没有", "1 年以内", "1–3 年", "3–5 年", "5 年以上"],
        ),
        _risk_question(
            "horizon", "您的投资期限", ["1 年以内", "1–2 年", "2–3 年", "3–5 年", "5 年以上"]
        ),
        _risk_question(
            "loss",
            "您能承受的最大本金亏损",
            ["不能亏损", "5% 以内", "10% 以内", "20% 以内", "20% 以上"],
        ),
        _risk_question(
            "goal",
            "您的投资目标",
            ["保本", "稳定收益", "稳健增值", "较高收益", "高收益"],
        ),
        {
            "key": "loss_reaction",
            "text": "出现亏损时您会如何应对？",
            "kind": "SCALE",
            "required": True,
            "points_per_step": 5,
        },
    ],
    # The score (0 … 100) → risk tolerance: the last band whose lower bound it reaches.
    "bands": [
        {"from": 0, "tolerance": "C1_CONSERVATIVE"},
        {"from": 20, "tolerance": "C2_CAUTIOUS"},
        {"from": 40, "tolerance": "C3_BALANCED"},
        {"from": 60, "tolerance": "C4_GROWTH"},
        {"from": 80, "tolerance": "C5_AGGRESSIVE"},
    ],
}
PUBLISHED = "2026-01-01T00:00:00+00:00"


def upgrade() -> None:
    tiers = op.create_table(
        "club_tiers",
        sa.Column("tier", TIER, nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("tier", name=op.f("pk_club_tiers")),
    )
    op.bulk_insert(tiers, TIERS)
    op.create_table(
        "club_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "LECTURE",
                "INVESTMENT_SALON",
                "FAMILY_ACTIVITY",
                name="clubeventkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", TIME, nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("registered", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_club_events_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["staff.id"], name=op.f("fk_club_events_created_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_club_events")),
    )
    op.create_index("ix_club_events_branch", "club_events", ["branch_id", "starts_at", "id"])
    for table, by in (("club_invitations", "invited"), ("club_registrations", "registered")):
        extra: list[Any] = (
            [
                sa.Column("attended_at", TIME, nullable=True),
                sa.Column("attendance_recorded_by_id", sa.Integer(), nullable=True),
                sa.ForeignKeyConstraint(
                    ["attendance_recorded_by_id"],
                    ["staff.id"],
                    name=op.f(f"fk_{table}_attendance_recorded_by_id_staff"),
                ),
            ]
            if table == "club_registrations"
            else []
        )
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("event_id", sa.Integer(), nullable=False),
            sa.Column("customer_id", sa.Integer(), nullable=False),
            sa.Column(f"{by}_by_id", sa.Integer(), nullable=False),
            sa.Column(f"{by}_at", TIME, nullable=False),
            *extra,
            sa.ForeignKeyConstraint(
                ["event_id"], ["club_events.id"], name=op.f(f"fk_{table}_event_id_club_events")
            ),
            sa.ForeignKeyConstraint(
                ["customer_id"], ["customers.id"], name=op.f(f"fk_{table}_customer_id_customers")
            ),
            sa.ForeignKeyConstraint(
                [f"{by}_by_id"], ["staff.id"], name=op.f(f"fk_{table}_{by}_by_id_staff")
            ),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
            sa.UniqueConstraint("event_id", "customer_id", name=op.f(f"uq_{table}_event_id")),
        )
        op.create_index(op.f(f"ix_{table}_customer_id"), table, ["customer_id"])
    _surveys()
    policy_rules.add_missing(op.get_bind(), RULES, SUMMARY)


def _surveys() -> None:
    questionnaires = op.create_table(
        "questionnaires",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "SATISFACTION",
                "RISK_TOLERANCE",
                name="questionnairepurpose",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("published_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaires")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_questionnaires_code")),
    )
    from datetime import datetime

    published = datetime.fromisoformat(PUBLISHED)
    op.bulk_insert(
        questionnaires,
        [
            {
                "id": 1,
                "code": "SATISFACTION",
                "version": 1,
                "purpose": "SATISFACTION",
                "title": "客户满意度调查",
                "definition": SATISFACTION,
                "published_at": published,
            },
            {
                "id": 2,
                "code": "RISK",
                "version": 1,
                "purpose": "RISK_TOLERANCE",
                "title": "风险承受能力评估问卷",
                "definition": RISK,
                "published_at": published,
            },
        ],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT setval('questionnaires_id_seq', 2)")
    op.create_table(
        "survey_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("questionnaire_id", sa.Integer(), nullable=False),
        sa.Column(
            "occasion",
            sa.Enum(
                "CONTACT",
                "COMPLAINT",
                "CLUB_EVENT",
                "RISK_REVIEW",
                name="surveyoccasion",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("occasion_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", TIME, nullable=False),
        sa.Column("answered_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_survey_requests_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["questionnaire_id"],
            ["questionnaires.id"],
            name=op.f("fk_survey_requests_questionnaire_id_questionnaires"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["staff.id"], name=op.f("fk_survey_requests_requested_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_requests")),
        sa.UniqueConstraint(
            "customer_id", "occasion", "occasion_id", name=op.f("uq_survey_requests_customer_id")
        ),
    )
    op.create_index("ix_survey_requests_requested_at", "survey_requests", ["requested_at", "id"])
    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("questionnaire_id", sa.Integer(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("risk_assessment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["survey_requests.id"],
            name=op.f("fk_survey_responses_request_id_survey_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_survey_responses_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["questionnaire_id"],
            ["questionnaires.id"],
            name=op.f("fk_survey_responses_questionnaire_id_questionnaires"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["staff.id"], name=op.f("fk_survey_responses_recorded_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["risk_assessment_id"],
            ["risk_assessments.id"],
            name=op.f("fk_survey_responses_risk_assessment_id_risk_assessments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint("request_id", name=op.f("uq_survey_responses_request_id")),
    )
    op.create_index(op.f("ix_survey_responses_customer_id"), "survey_responses", ["customer_id"])
    op.create_index("ix_survey_responses_recorded_at", "survey_responses", ["recorded_at", "id"])
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=50), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=True),
        sa.Column("scale", sa.Integer(), nullable=True),
        sa.Column("yes_no", sa.Boolean(), nullable=True),
        sa.Column("choice", sa.String(length=50), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["survey_responses.id"],
            name=op.f("fk_survey_answers_response_id_survey_responses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_answers")),
        sa.UniqueConstraint("response_id", "question", name=op.f("uq_survey_answers_response_id")),
    )
    op.create_index(op.f("ix_survey_answers_metric"), "survey_answers", ["metric"])


def downgrade() -> None:
    policy_rules.remove(op.get_bind(), RULES, SUMMARY)
    op.drop_index(op.f("ix_survey_answers_metric"), table_name="survey_answers")
    op.drop_table("survey_answers")
    op.drop_index("ix_survey_responses_recorded_at", table_name="survey_responses")
    op.drop_index(op.f("ix_survey_responses_customer_id"), table_name="survey_responses")
    op.drop_table("survey_responses")
    op.drop_index("ix_survey_requests_requested_at", table_name="survey_requests")
    op.drop_table("survey_requests")
    op.drop_table("questionnaires")
    for table in ("club_registrations", "club_invitations"):
        op.drop_index(op.f(f"ix_{table}_customer_id"), table_name=table)
        op.drop_table(table)
    op.drop_index("ix_club_events_branch", table_name="club_events")
    op.drop_table("club_events")
    op.drop_table("club_tiers")
