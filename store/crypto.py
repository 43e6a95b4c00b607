"""Encryption of personal data at rest and keyed hashes for exact-match search (INFO-7).

Values are sealed with AES-256-GCM; the stored text is ``v2:<key id>:<base64(nonce | ciphertext)>``
so that several keys can be live during a rotation (the first configured key encrypts, every
key decrypts). The table, the column and the row's primary key are bound as associated data, so
a ciphertext copied into another column or another row (two rows' values swapped) does not
decrypt. Values sealed before rows were bound (``<key id>:<base64>``, the column alone as
associated data) are still read until ``kehu rotate-keys`` has rewritten them. Search uses an
HMAC-SHA256 "blind index" of the normalised value; a lookup computes it with every configured
hash key, so search keeps working while ``kehu rotate-keys`` re-keys the rows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections import Counter
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Marks a value bound to its row; values without it are the older, column-bound format.
ROW_BOUND = "v2"
NONCE_BYTES = 12
RowKey = int | str  # a row's id, or its composite primary key as ``"<part>/<part>"``


class DecryptionError(Exception):
    """A stored value could not be decrypted (unknown key id or tampered ciphertext)."""


class FieldCipher:
    """Seals and opens personal values; computes blind indexes."""

    def __init__(
        self,
        keys: Sequence[tuple[str, bytes]],
        hash_keys: Sequence[tuple[str, bytes]],
    ) -> None:
        if not keys or not hash_keys:
            raise ValueError("at least one encryption key and one hash key are required")
        self.active_key_id = keys[0][0]
        self._aeads = {kid: AESGCM(key) for kid, key in keys}
        self.active_hash_key_id = hash_keys[0][0]
        self._hash_keys = dict(hash_keys)
        # Values opened per "<table>.<column>" since start: lists open only what they serve
        # (tests assert an unselected or withheld column stays sealed).
        self.opened: Counter[str] = Counter()

    def seal(self, plaintext: str, table: str, column: str, row_id: RowKey) -> str:
        """``plaintext`` sealed with the active key for one row's column."""
        sealed = self._sealed(plaintext, row_context(table, column, row_id))
        return f"{ROW_BOUND}:{self.active_key_id}:{sealed}"

    def open(self, token: str, table: str, column: str, row_id: RowKey) -> str:
        """The plaintext of ``token`` read from ``table.column`` of row ``row_id``.

        Errors name the place (never the value): a value that fails here was tampered with,
        moved from another row or column, or sealed with a key that is no longer configured.
        """
        self.opened[f"{table}.{column}"] += 1
        where = f"{table}.{column} of row {row_id}"
        parts = token.split(":")
        if len(parts) == 3 and parts[0] == ROW_BOUND:
            kid, payload, context = parts[1], parts[2], row_context(table, column, row_id)
        elif len(parts) == 2:
            kid, payload, context = parts[0], parts[1], f"{table}.{column}".encode()
        else:
            raise DecryptionError(f"{where} is not a sealed value")
        return self._opened(kid, payload, context, where)

    def encrypt(self, plaintext: str, context: str) -> str:
        """``plaintext`` sealed for a named use that is no table row (e.g. a list's cursors)."""
        return f"{self.active_key_id}:{self._sealed(plaintext, context.encode())}"

    def decrypt(self, token: str, context: str) -> str:
        """The plaintext of a token made by ``encrypt`` for the same ``context``."""
        kid, _, payload = token.partition(":")
        return self._opened(kid, payload, context.encode(), context)

    def _sealed(self, plaintext: str, context: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aeads[self.active_key_id].encrypt(nonce, plaintext.encode(), context)
        return base64.b64encode(nonce + sealed).decode()

    def _opened(self, kid: str, payload: str, context: bytes, where: str) -> str:
        aead = self._aeads.get(kid)
        if aead is None:
            raise DecryptionError(f"{where}: no key with id {kid!r} is configured")
        try:
            raw = base64.b64decode(payload, validate=True)
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context).decode()
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise DecryptionError(
                f"{where} failed authentication (tampered with, or moved from another row)"
            ) from exc

    def is_current(self, token: str) -> bool:
        """True when ``token`` is bound to its row and sealed with the active key."""
        return token.startswith(f"{ROW_BOUND}:{self.active_key_id}:")

    def blind_index(self, value: str) -> str:
        """The keyed hash of ``value`` under the active hash key (what is stored)."""
        return self._index(self.active_hash_key_id, value)

    def blind_indexes(self, value: str) -> list[str]:
        """The keyed hashes of ``value`` under every configured key (what a search looks for)."""
        return [self._index(kid, value) for kid in self._hash_keys]

    def _index(self, kid: str, value: str) -> str:
        digest = hmac.new(self._hash_keys[kid], value.encode(), hashlib.sha256).hexdigest()
        return f"{kid}:{digest[:40]}"


_COMPOSITE_KEY = re.compile(r"\d+(/\d+)+")


def row_context(table: str, column: str, row_id: RowKey) -> bytes:
    """The associated data of a row-bound value: table, column and primary key."""
    key = str(row_id)
    if not _COMPOSITE_KEY.fullmatch(key):
        key = str(int(row_id))
    return f"{table}.{column}#{key}".encode()


_cipher: FieldCipher | None = None


def configure(cipher: FieldCipher) -> None:
    """Install the process-wide cipher (done once by ``kehu`` at start-up)."""
    global _cipher
    _cipher = cipher


def cipher() -> FieldCipher:
    if _cipher is None:
        raise RuntimeError("store.crypto.configure() has not been called")
    return _cipher
