"""Idempotency keys: a bot may send the same creating call again after any error or lost answer.

``POST /api/games``, ``POST /api/seeks`` and ``POST /api/games/<id>/join`` take an
``Idempotency-Key`` header. The first attempt that commits records the key in the same
transaction as the game or seek it made (games/storage/store.py), so the same call sent again finds it
and answers with it instead of making a second; a join's retry finds the seat the first took.

Nothing secret is kept for this: the seat token of a keyed call is derived from the key (an HMAC
under ``SECRET_KEY``), so the retry's answer can carry the token again while the database still
holds only its hash. A key belongs to one call and one client address: the same key from
another address, or for another call, is another key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

from games.storage import journal, store
from games.web import limits

HEADER = "Idempotency-Key"
MAX_LENGTH = 255


class BadKey(ValueError):
    """The header is there but not a key this server takes."""


@dataclass(frozen=True)
class Keyed:
    """A call made with a key: what is recorded for it, and the seat token it hands out."""

    record: store.RequestKeyRecord
    token: str


def keyed(request: HttpRequest, call: str, body: dict) -> Keyed | None:
    """The call's key, or None if it was sent without one. ``call`` names the endpoint (a join's
    includes its game ID); BadKey for a header that is empty, too long, or not printable ASCII."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not 0 < len(raw) <= MAX_LENGTH or not raw.isascii() or not raw.isprintable():
        raise BadKey(f"'{HEADER}' must be 1 to {MAX_LENGTH} printable ASCII characters.")
    address = limits.request_address(request) or ""
    key = hashlib.sha256(f"{call}\n{address}\n{raw}".encode()).hexdigest()
    digest = hmac.digest(settings.SECRET_KEY.encode(), f"seat token\n{key}".encode(), "sha256")
    token = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()  # 43 characters, as a random token
    body_text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    fingerprint = hashlib.sha256(body_text.encode()).hexdigest()
    return Keyed(store.RequestKeyRecord(key, fingerprint), token)


async def made_before(call: Keyed) -> store.AlreadyMade | None:
    """What an earlier call with the same key made, if one committed."""
    return await journal.read(store.made_with, call.record.key)


def same_request(call: Keyed, made: store.AlreadyMade) -> bool:
    """Whether ``made`` was made by a call with the same body (else the key is being reused)."""
    return hmac.compare_digest(call.record.fingerprint, made.fingerprint)
