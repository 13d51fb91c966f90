"""Gossip encryption and the agent's keyring (AES-GCM, as `consul keygen` keys are used).

A sealed message is `version(1) | nonce(12) | ciphertext+tag`. Several keys may be installed
(key rotation): the primary encrypts, every installed key is tried to decrypt. The keyring is
changed in place (install / use / remove), so the transport holding it sees a change at once.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = 1
_NONCE = 12

# memberlist's texts, which Consul relays to the API and CLI.
NOT_INSTALLED = "Requested key is not in the keyring"
REMOVE_PRIMARY = "Removing the primary key is not allowed"


class DecryptError(ValueError):
    """A message that no installed key opens (wrong key, tampered, or plaintext)."""


class KeyringError(ValueError):
    """A keyring change refused, with the text Consul gives for it."""


def parse_key(text: str) -> bytes:
    """Decode a base64 key; AES-128/192/256 sizes as Consul accepts. Raises ValueError clearly."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("encrypt: key is not valid base64") from None
    if len(key) not in (16, 24, 32):
        raise ValueError(f"encrypt: key must be 16, 24 or 32 bytes, got {len(key)}")
    return key


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode()


class Keyring:
    """The installed keys, primary first. Never empty."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("keyring needs at least one key")
        self._keys: list[bytes] = []
        for k in keys:
            if k not in self._keys:
                self._keys.append(k)
        self._ciphers = {k: AESGCM(k) for k in self._keys}

    @classmethod
    def from_config(cls, encrypt: str) -> Keyring | None:
        return cls([parse_key(encrypt)]) if encrypt else None

    @classmethod
    def from_text(cls, keys: list[str]) -> Keyring:
        """Keys as base64 text, primary first (the keyring file's order)."""
        return cls([parse_key(k) for k in keys])

    @property
    def keys(self) -> list[str]:
        """Every installed key as base64, primary first."""
        return [encode_key(k) for k in self._keys]

    @property
    def primary(self) -> str:
        return encode_key(self._keys[0])

    def install(self, text: str) -> None:
        """Add a secondary key (installing one already there changes nothing)."""
        key = _key_arg(text)
        if key not in self._ciphers:
            self._keys.append(key)
            self._ciphers[key] = AESGCM(key)

    def use(self, text: str) -> None:
        """Make an installed key the primary: from now on messages are sealed with it."""
        key = _key_arg(text)
        if key not in self._ciphers:
            raise KeyringError(NOT_INSTALLED)
        self._keys.remove(key)
        self._keys.insert(0, key)

    def remove(self, text: str) -> None:
        """Drop a secondary key; the primary cannot be removed. Removing an absent key is a no-op,
        as in memberlist."""
        key = _key_arg(text)
        if key == self._keys[0]:
            raise KeyringError(REMOVE_PRIMARY)
        if key in self._ciphers:
            self._keys.remove(key)
            del self._ciphers[key]

    def seal(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return bytes([_VERSION]) + nonce + self._ciphers[self._keys[0]].encrypt(nonce, plaintext, None)

    def open(self, data: bytes) -> bytes:
        if len(data) < 1 + _NONCE + 16 or data[0] != _VERSION:
            raise DecryptError("not an encrypted gossip message")
        nonce, body = data[1 : 1 + _NONCE], data[1 + _NONCE :]
        for key in self._keys:
            try:
                return self._ciphers[key].decrypt(nonce, body, None)
            except InvalidTag:
                continue
        raise DecryptError("no installed key decrypts this message")


def _key_arg(text: str) -> bytes:
    # Serf's texts for a key it cannot take: bad base64, then a bad size.
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyringError(f"Failed to decode key: {exc}") from None
    if len(key) not in (16, 24, 32):
        raise KeyringError("key size must be 16, 24 or 32 bytes")
    return key
