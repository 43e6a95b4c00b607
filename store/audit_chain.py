"""The keyed hash chain of the audit log (SHARE-4) and the signatures of its checkpoints.

Each entry's ``hash`` is HMAC-SHA256, under an audit key from the settings (never stored in
the database), of the previous entry's hash and the entry's canonical content including the
key id. Someone who can write to the database but does not hold the key cannot re-chain an
edited entry, and cannot pass an entry off as signed by another key. Keys rotate: the first
configured key signs, and an entry names the key it was signed with, so every key an entry
names must stay configured for ``kehu audit verify``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

CHAINED = (
    "id",
    "at",
    "actor_id",
    "actor",
    "roles",
    "purpose",
    "action",
    "operation",
    "customer_ids",
    "fields",
    "detail",
    "key_id",
)
# Separates the two uses of one key, so a checkpoint can never pass for an entry's hash.
ENTRY_DOMAIN = b"kehu-audit-entry\x00"
CHECKPOINT_DOMAIN = b"kehu-audit-checkpoint\x00"


class AuditKeyError(Exception):
    """An entry or checkpoint names a key that is not configured (or none is)."""


def content(entry: Mapping[str, Any], chained: Sequence[str] = CHAINED) -> bytes:
    """The canonical bytes of an entry that its hash covers (detail decrypted)."""
    values = {key: entry[key] for key in chained}
    if entry.get("via"):
        # Only hashed when present, so entries written before grants existed still verify.
        values["via"] = entry["via"]
    at: datetime = values["at"]
    values["at"] = at.isoformat(timespec="microseconds")
    return orjson.dumps(values, option=orjson.OPT_SORT_KEYS)


def legacy_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    """The plain SHA-256 chain of entries written before 0007 (only the migration uses it)."""
    data = content(entry, CHAINED[:-1])  # without key_id
    return hashlib.sha256(prev_hash.encode() + data).hexdigest()


class AuditKeys:
    """The configured audit keys: the first signs, every one verifies."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise AuditKeyError("at least one audit key (KEHU_AUDIT_KEYS) is required")
        self.active_key_id = keys[0][0]
        self._keys = dict(keys)

    def _key(self, key_id: str | None) -> bytes:
        key = self._keys.get(key_id or "")
        if key is None:
            raise AuditKeyError(f"audit key {key_id!r} is not configured (KEHU_AUDIT_KEYS)")
        return key

    def entry_hash(self, prev_hash: str, entry: Mapping[str, Any]) -> str:
        """The chained hash of ``entry`` under the key its ``key_id`` names."""
        key = self._key(entry["key_id"])
        message = ENTRY_DOMAIN + prev_hash.encode() + content(entry)
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def sign(self, key_id: str, payload: Mapping[str, Any]) -> str:
        """The signature of a checkpoint's fields (everything but the signature itself)."""
        message = CHECKPOINT_DOMAIN + orjson.dumps(dict(payload), option=orjson.OPT_SORT_KEYS)
        return hmac.new(self._key(key_id), message, hashlib.sha256).hexdigest()

    def signature_holds(self, key_id: str, payload: Mapping[str, Any], signature: str) -> bool:
        return hmac.compare_digest(self.sign(key_id, payload), signature)


_keys: AuditKeys | None = None


def configure(keys: Sequence[tuple[str, bytes]]) -> None:
    """Install the process-wide audit keys (done by ``kehu`` at start-up, like the cipher)."""
    global _keys
    _keys = AuditKeys(keys)


def keys() -> AuditKeys:
    if _keys is None:
        raise AuditKeyError("store.audit_chain.configure() has not been called")
    return _keys
