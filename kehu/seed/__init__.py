"""Demo data: branches, staff of every role, realistic customers with their information.

Customers are generated with Faker ``zh_CN``. ID numbers are valid GB 11643 numbers built from
a real area code of the customer's branch region, the birth date and the gender; the address
lies in the same region. Rows are written with bulk inserts in chunks, so 100,000 customers take
well under two minutes on a small machine (``bench/seed_speed.py`` measures it).
"""

from kehu.seed.complaints import DEMO_DECISION, DEMO_INVESTIGATION, seed_complaints
from kehu.seed.customers import customer_count, seed_customers
from kehu.seed.staff import DEMO_STAFF, ensure_reference_data

__all__ = [
    "DEMO_DECISION",
    "DEMO_INVESTIGATION",
    "DEMO_STAFF",
    "customer_count",
    "ensure_reference_data",
    "seed_complaints",
    "seed_customers",
]
