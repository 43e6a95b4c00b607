"""Every model, imported in one place so that metadata is complete (Alembic, tests)."""

from store.assessment import (
    SpotCheck,
    SpotCheckFinding,
    SpotCheckItem,
    SpotCheckRectification,
    StaffEvaluation,
)
from store.audit import AuditCustomer, AuditEntry, AuditHead
from store.base import Base
from store.care import CareOccasion, CareRun
from store.club import ClubEvent, ClubInvitation, ClubRegistration, ClubTier
from store.complaints import (
    Complaint,
    ComplaintDeadline,
    ComplaintEvent,
    CustomerMessage,
    Rectification,
)
from store.contacts import Contact, ContactStatus, Product, Recommendation
from store.customers import (
    Account,
    Customer,
    CustomerChange,
    CustomerWatcher,
    FinancialSnapshot,
    InformationSource,
    Notification,
    Preferences,
    RiskAssessment,
    Transaction,
    Verification,
    VerificationDue,
)
from store.idempotency import IdempotencyKey
from store.kpis import Team, TeamMembership
from store.outbox import OutboxMessage
from store.policy import PolicyRule, PolicyVersion
from store.scorecards import (
    Scorecard,
    ScorecardHonour,
    ScorecardLine,
    ScorecardRun,
    ScorecardWeightVersion,
)
from store.segments import (
    CustomerNeed,
    CustomerSegment,
    SegmentChange,
    SegmentOverride,
    SegmentRuleSet,
    SegmentRun,
    SegmentStaging,
)
from store.sharing import Consent, ShareGrant, ShareGrantCustomer, ShareRequest, ThirdParty
from store.staff import Branch, Staff
from store.surveys import (
    Questionnaire,
    SurveyAnswer,
    SurveyRequest,
    SurveyResponse,
)
from store.workflows import ProcessInstance, ProcessTask, ProcessVersion

__all__ = [
    "Account",
    "AuditCustomer",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Branch",
    "CareOccasion",
    "CareRun",
    "ClubEvent",
    "ClubInvitation",
    "ClubRegistration",
    "ClubTier",
    "Complaint",
    "ComplaintDeadline",
    "ComplaintEvent",
    "Consent",
    "Contact",
    "ContactStatus",
    "Customer",
    "CustomerChange",
    "CustomerMessage",
    "CustomerNeed",
    "CustomerSegment",
    "CustomerWatcher",
    "FinancialSnapshot",
    "IdempotencyKey",
    "InformationSource",
    "Notification",
    "OutboxMessage",
    "PolicyRule",
    "PolicyVersion",
    "Preferences",
    "ProcessInstance",
    "ProcessTask",
    "ProcessVersion",
    "Product",
    "Questionnaire",
    "Recommendation",
    "Rectification",
    "RiskAssessment",
    "Scorecard",
    "ScorecardHonour",
    "ScorecardLine",
    "ScorecardRun",
    "ScorecardWeightVersion",
    "SegmentChange",
    "SegmentOverride",
    "SegmentRuleSet",
    "SegmentRun",
    "SegmentStaging",
    "ShareGrant",
    "ShareGrantCustomer",
    "ShareRequest",
    "SpotCheck",
    "SpotCheckFinding",
    "SpotCheckItem",
    "SpotCheckRectification",
    "Staff",
    "StaffEvaluation",
    "SurveyAnswer",
    "SurveyRequest",
    "SurveyResponse",
    "Team",
    "TeamMembership",
    "ThirdParty",
    "Transaction",
    "Verification",
    "VerificationDue",
]
