"""The indicator registry (KPI-1): every indicator's definition, in one place, for the API, the
README and the code that computes it.

An indicator reads measures of one or two *families*; a family is one SQL aggregate over one
source table (``resolvers.kpis.families``), grouped by scope and period, so indicators that
share a table share its statement. Values:

- ``RATIO``: numerator ÷ denominator (4 decimals); ``PER_THOUSAND``: × 1,000 (2 decimals);
  ``AVERAGE``: the sum ÷ the number of answers (2 decimals) — null when the denominator is 0,
  with the reason ``EMPTY_DENOMINATOR``;
- ``COUNT`` and ``AMOUNT`` (CNY): the numerator itself; they have no denominator.

``customers`` names the measure that counts the distinct customers a cell describes: a cell of
fewer customers than the minimum is suppressed for callers who see aggregates only.

Most indicators count customers in scope (``COMMON``: by the customer's branch and manager);
the two of the assessment (KPI-2) count what a member of staff did — the ratings customers gave
them, the spot-checked records they were responsible for — and say so in their ``scope``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ValueKind(StrEnum):
    RATIO = "RATIO"
    PER_THOUSAND = "PER_THOUSAND"
    AVERAGE = "AVERAGE"
    COUNT = "COUNT"
    AMOUNT = "AMOUNT"


class Area(StrEnum):
    SATISFACTION = "SATISFACTION"
    LOYALTY = "LOYALTY"
    GROWTH = "GROWTH"
    VALUE_UPLIFT = "VALUE_UPLIFT"
    COMPLAINTS = "COMPLAINTS"
    CADENCE = "CADENCE"
    ASSESSMENT = "ASSESSMENT"


@dataclass(frozen=True)
class Indicator:
    code: str
    area: Area
    title: str  # Chinese, as the bank's staff read it
    kind: ValueKind
    numerator: str  # "<family>.<measure>"
    denominator: str | None
    customers: str
    definition: str  # numerator, denominator and inclusion rules, in the API's words
    breakdown: str | None = None  # a family whose rows split the numerator (lost: reasons)
    # The denominator's customers when they are not ``customers`` (suppression: a cell is
    # withheld when either population is under the minimum, KPI-1).
    population: str | None = None
    # Who the figures belong to when it is not the customers in scope (``COMMON``).
    scope: str | None = None

    @property
    def families(self) -> set[str]:
        names = {self.numerator, self.customers, *([self.denominator] if self.denominator else [])}
        names |= {self.population} if self.population else set()
        found = {name.partition(".")[0] for name in names}
        return found | ({self.breakdown} if self.breakdown else set())


COMMON = (
    " Customers in scope: as attributed by the scope (branch and relationship manager now; the "
    "manager's team at the period's end). Periods are Beijing dates."
)

INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "SATISFACTION_SCORE",
        Area.SATISFACTION,
        "客户满意度（调查平均分）",
        ValueKind.AVERAGE,
        "survey.score_sum",
        "survey.scored",
        "survey.responders",
        "Average survey score: numerator = sum of the answers (1 … 5) to satisfaction "
        "questions of survey responses recorded in the period; denominator = the number of "
        "those answers. Every questionnaire version counts; unanswered surveys do not; answers "
        "typed in by the customer's own relationship manager do not count.",
    ),
    Indicator(
        "COMPLAINT_RATE",
        Area.SATISFACTION,
        "投诉率（每千名客户）",
        ValueKind.PER_THOUSAND,
        "accepted.complaints",
        "base.customers",
        "accepted.complainants",
        "Complaints per 1,000 customers: numerator = complaints accepted in the period "
        "(withdrawn ones included, repeats merged into an earlier complaint excluded); "
        "denominator = customers registered before the period's end. The rate is "
        "numerator ÷ denominator × 1,000. For callers who see aggregates only a cell is also "
        "withheld when its denominator counts fewer customers than the minimum.",
        population="base.customers",
    ),
    Indicator(
        "REPEAT_PURCHASE_RATE",
        Area.LOYALTY,
        "重复购买率",
        ValueKind.RATIO,
        "purchases.repeaters",
        "purchases.buyers",
        "purchases.buyers",
        "Repeat purchase rate: denominator = customers with at least one product purchase "
        "(transaction type PRODUCT_PURCHASE) in the period; numerator = those of them with "
        "two or more.",
    ),
    Indicator(
        "REFERRAL_RATE",
        Area.LOYALTY,
        "推荐意愿率",
        ValueKind.RATIO,
        "survey.recommend_yes",
        "survey.recommend_answered",
        "survey.responders",
        "Referral rate (would recommend): numerator = yes answers to recommendation questions "
        "of survey responses recorded in the period; denominator = all answers to them. "
        "Answers typed in by the customer's own relationship manager do not count.",
    ),
    Indicator(
        "NEW_CUSTOMERS",
        Area.GROWTH,
        "新增客户数",
        ValueKind.COUNT,
        "new.customers",
        None,
        "new.customers",
        "New customers: customers registered (created) in the period.",
    ),
    Indicator(
        "LOST_CUSTOMERS",
        Area.GROWTH,
        "流失客户数",
        ValueKind.COUNT,
        "lost.customers",
        None,
        "lost.customers",
        "Lost customers (churn): customers who had at least one account, all of whose "
        "accounts are closed, the last of them closed in the period (closing date). Customers "
        "who never had an account are not counted. Each lost customer has one reason, the "
        "first that holds in the 180 days before the period's end (from 180 days before its "
        "start): COMPLAINT — a complaint was accepted; TIER_DOWN — the computed value tier "
        "went down; NOT_CONTACTED — no contact was logged; OTHER. The bank records no exit "
        "reason of its own: these are the signals it has.",
        breakdown="lost",
    ),
    Indicator(
        "DEPOSIT_GROWTH",
        Area.VALUE_UPLIFT,
        "存款净增额",
        ValueKind.AMOUNT,
        "flows.deposit",
        None,
        "flows.depositors",
        "Deposit growth (CNY): money into demand and time deposit accounts (deposits, "
        "transfers in, interest, loan disbursements, product redemptions) minus money out of "
        "them (every other transaction type) in the period — the change of deposit balances "
        "the imported transactions show. Compare with the previous period and the same period "
        "last year (change fields).",
    ),
    Indicator(
        "LOAN_GROWTH",
        Area.VALUE_UPLIFT,
        "贷款净增额",
        ValueKind.AMOUNT,
        "flows.loan",
        None,
        "flows.borrowers",
        "Loan growth (CNY): loan disbursements minus loan repayments on loan accounts in the "
        "period.",
    ),
    Indicator(
        "FEE_INCOME",
        Area.VALUE_UPLIFT,
        "手续费收入",
        ValueKind.AMOUNT,
        "flows.fee",
        None,
        "flows.fee_payers",
        "Fee income (CNY): the sum of fee transactions (type FEE) in the period; its growth is "
        "the change against the previous period and the same period last year.",
    ),
    Indicator(
        "TIER_UPGRADES",
        Area.VALUE_UPLIFT,
        "价值层级上迁",
        ValueKind.COUNT,
        "tiers.up",
        None,
        "tiers.up_customers",
        "Tier migrations up: changes of the computed value tier in the period (segment "
        "history: first classifications, input changes, reclassifications; overrides excluded) "
        "to a higher tier (LOW → MEDIUM → HIGH).",
    ),
    Indicator(
        "TIER_DOWNGRADES",
        Area.VALUE_UPLIFT,
        "价值层级下迁",
        ValueKind.COUNT,
        "tiers.down",
        None,
        "tiers.down_customers",
        "Tier migrations down: changes of the computed value tier in the period to a lower "
        "tier (as TIER_UPGRADES, the other way).",
    ),
    Indicator(
        "COMPLAINT_COUNT",
        Area.COMPLAINTS,
        "投诉件数",
        ValueKind.COUNT,
        "accepted.complaints",
        None,
        "accepted.complainants",
        "Complaints: complaints accepted in the period (withdrawn ones included, repeats "
        "merged into an earlier complaint excluded).",
    ),
    Indicator(
        "COMPLAINT_ON_TIME_RATE",
        Area.COMPLAINTS,
        "投诉按时办结率",
        ValueKind.RATIO,
        "decided.on_time",
        "decided.decided",
        "decided.complainants",
        "On-time handling rate: denominator = complaints decided in the period (decision "
        "time); numerator = those decided before their decision deadline instant (the deadline "
        "in force then, extensions included; decided at the deadline instant is late).",
    ),
    Indicator(
        "COMPLAINT_HANDLING_SATISFACTION",
        Area.COMPLAINTS,
        "投诉处理满意度",
        ValueKind.AVERAGE,
        "closed.score_sum",
        "closed.scored",
        "closed.complainants",
        "Satisfaction with handling: numerator = sum of the call-back satisfaction scores "
        "(1 … 5) of complaints closed in the period; denominator = the number of those "
        "complaints with a score.",
    ),
    Indicator(
        "COMPLAINT_REVIEWS",
        Area.COMPLAINTS,
        "投诉复核申请数",
        ValueKind.COUNT,
        "reviews.requests",
        None,
        "reviews.complainants",
        "Reviews: customers' review requests recorded in the period (request time).",
    ),
    Indicator(
        "CADENCE_COMPLIANCE",
        Area.CADENCE,
        "联系频次达标率",
        ValueKind.RATIO,
        "cadence.met",
        "cadence.due",
        "cadence.customers",
        "Contact cadence compliance (as contactCadence): denominator = for each customer in "
        "scope, each cadence period — ISO week for HIGH, calendar month for MEDIUM, calendar "
        "quarter for LOW — that ends in the period (a week belongs to the period of its "
        "Sunday), has ended by today, began on or after the day the customer joined, and is "
        "of the tier the customer had just before it ended (the override in force then, else "
        "the computed tier of its last computed change before then; none: LOW); numerator = "
        "those periods with at least one logged contact, by anyone, over any channel.",
    ),
    Indicator(
        "STAFF_RATING",
        Area.ASSESSMENT,
        "客户对员工评价（平均分）",
        ValueKind.AVERAGE,
        "ratings.rating_sum",
        "ratings.rated",
        "ratings.raters",
        "Average customer rating of staff: numerator = sum of the ratings (1 … 5) customers "
        "gave the member of staff who served them (recordStaffEvaluation: who made a contact, "
        "or the handler of a closed complaint) recorded in the period (recording time); "
        "denominator = the number of those ratings. One rating per occasion, never recorded "
        "by the member of staff rated. The suppression count is the number of distinct "
        "customers who rated.",
        scope=" Ratings in scope: attributed to the rated member of staff, their team at the "
        "period's end and their branch now, whoever the customer is — a rating of a member of "
        "staff of another branch does not count for this branch, a rating this branch's staff "
        "got from another branch's customer does. Periods are Beijing dates.",
    ),
    Indicator(
        "SPOT_CHECK_PASS_RATE",
        Area.ASSESSMENT,
        "抽查通过率",
        ValueKind.RATIO,
        "inspections.passed",
        "inspections.inspected",
        "inspections.customers",
        "Spot-check pass rate: denominator = sampled items (customer records, contacts, "
        "complaints) of completed spot checks whose findings were recorded in the period "
        "(inspection time); numerator = those of them with no failed criterion. Items of a "
        "check still open do not count until it is completed (findings are final, and shown "
        "to the checked branch, only then). The suppression count is the number of distinct "
        "customers whose records were inspected.",
        scope=" Items in scope: attributed to the member of staff responsible for the checked "
        "record (the customer's relationship manager, who made the contact, the complaint's "
        "handler) and their team at the period's end, and to the branch of the record as "
        "drawn; an item with nobody responsible counts for its branch only. Periods are "
        "Beijing dates.",
    ),
)

BY_CODE = {indicator.code: indicator for indicator in INDICATORS}

# Lost-customer reasons, in the order they are tested.
LOST_REASONS = ("COMPLAINT", "TIER_DOWN", "NOT_CONTACTED", "OTHER")


def definition(indicator: Indicator) -> str:
    """The full definition shown in the API and the README."""
    return indicator.definition + (COMMON if indicator.scope is None else indicator.scope)
