"""Tell whether the pseudonymization key changed since the last build, without storing a
cheap test for key guesses in the warehouse.

`marts._build_state` is readable by every analyst. It used to hold an unsalted sha256 over
the settings' repr, key included: one sha256 per guess tested a key offline (the development
key first). Now the key enters the build state only as a salted scrypt verifier: a random
salt per build, stored beside it, and scrypt (n=2**14, r=8: ~16 MiB and tens of
milliseconds per guess) instead of one hash. A guess still can be checked against it, as it
can against any `customer_key` whose customer id is known, but not cheaply, and a strong
random key not at all; the development key is recognised, which the run announces anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import os

SALT_BYTES = 16
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32, "maxmem": 64 * 1024 * 1024}


def new_salt() -> str:
    """A fresh random salt, hex."""
    return os.urandom(SALT_BYTES).hex()


def key_verifier(key: str, salt: str) -> str:
    """scrypt of `key` with `salt` (hex), hex."""
    return hashlib.scrypt(key.encode(), salt=bytes.fromhex(salt), **_SCRYPT).hex()


def same_key(key: str, salt: str | None, verifier: str | None) -> bool:
    """Whether `key` is the key that `verifier` was made from (False when none was stored)."""
    if not salt or not verifier:
        return False
    try:
        return hmac.compare_digest(key_verifier(key, salt), verifier)
    except ValueError:  # not hex: a damaged or foreign build state
        return False
