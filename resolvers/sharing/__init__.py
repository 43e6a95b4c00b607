"""Sharing (SHARE-2, SHARE-3): grants, third parties, consents, and external share approvals.

When a grant or a consent is in force, and whom it opens which rows to, is access control
(``authz.grants``, ``authz.consents``); this package records and revokes them (``commands``),
lists and looks them up inside the caller's scope (``queries``), and holds the service
operations the share-request diagram calls (``operations``).
"""
