"""Gossip encryption with the agent's `encrypt` key (AES-GCM, as `consul keygen` keys are used).

A sealed message is `version(1) | nonce(12) | ciphertext+tag`. Several keys may be installed
(key rotation): the first encrypts, all are tried to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = 1
_NONCE = 12


class DecryptError(ValueError):
    """A message that no installed key opens (wrong key, tampered, or plaintext)."""


def parse_key(text: str) -> bytes:
    """Decode a base64 key; AES-128/192/256 sizes as Consul accepts. Raises ValueError clearly."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("encrypt: key is not valid base64") from None
    if len(key) not in (16, 24, 32):
        raise ValueError(f"encrypt: key must be 16, 24 or 32 bytes, got {len(key)}")
    return key


class Keyring:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("keyring needs at least one key")
        self._ciphers = [AESGCM(k) for k in keys]

    @classmethod
    def from_config(cls, encrypt: str) -> Keyring | None:
        return cls([parse_key(encrypt)]) if encrypt else None

    def seal(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return bytes([_VERSION]) + nonce + self._ciphers[0].encrypt(nonce, plaintext, None)

    def open(self, data: bytes) -> bytes:
        if len(data) < 1 + _NONCE + 16 or data[0] != _VERSION:
            raise DecryptError("not an encrypted gossip message")
        nonce, body = data[1 : 1 + _NONCE], data[1 + _NONCE :]
        for cipher in self._ciphers:
            try:
                return cipher.decrypt(nonce, body, None)
            except InvalidTag:
                continue
        raise DecryptError("no installed key decrypts this message")
