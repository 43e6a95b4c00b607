"""Encryption of personal data at rest and keyed hashes for exact-match search (INFO-7).

Values are sealed with AES-256-GCM; the stored text is ``<key id>:<base64(nonce | ciphertext)>``
so that several keys can be live during a rotation (the first configured key encrypts, every
key decrypts). The column name is bound as associated data, so a ciphertext copied into another
column does not decrypt. Search uses an HMAC-SHA256 "blind index" of the normalised value; a
lookup computes it with every configured hash key, so search keeps working while
``kehu rotate-keys`` re-keys the rows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


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

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aeads[self.active_key_id].encrypt(
            nonce, plaintext.encode(), context.encode()
        )
        return f"{self.active_key_id}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, context: str) -> str:
        kid, _, payload = token.partition(":")
        aead = self._aeads.get(kid)
        if aead is None:
            raise DecryptionError(f"no key with id {kid!r} is configured")
        raw = base64.b64decode(payload)
        try:
            return aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag as exc:
            raise DecryptionError("ciphertext failed authentication") from exc

    def is_current(self, token: str) -> bool:
        """True when ``token`` is sealed with the active key."""
        return token.startswith(self.active_key_id + ":")

    def blind_index(self, value: str) -> str:
        """The keyed hash of ``value`` under the active hash key (what is stored)."""
        return self._index(self.active_hash_key_id, value)

    def blind_indexes(self, value: str) -> list[str]:
        """The keyed hashes of ``value`` under every configured key (what a search looks for)."""
        return [self._index(kid, value) for kid in self._hash_keys]

    def _index(self, kid: str, value: str) -> str:
        digest = hmac.new(self._hash_keys[kid], value.encode(), hashlib.sha256).hexdigest()
        return f"{kid}:{digest[:40]}"


_cipher: FieldCipher | None = None


def configure(cipher: FieldCipher) -> None:
    """Install the process-wide cipher (done once by ``kehu`` at start-up)."""
    global _cipher
    _cipher = cipher


def cipher() -> FieldCipher:
    if _cipher is None:
        raise RuntimeError("store.crypto.configure() has not been called")
    return _cipher
