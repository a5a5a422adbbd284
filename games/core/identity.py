"""Game IDs people can read aloud, the channel-layer group each names, and seat tokens that prove who holds a seat."""

import hashlib
import hmac
import re
import secrets

# No 0/O, 1/I/L: a code read over the phone or typed from a screenshot comes out right.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
GAME_ID_LENGTH = 8
GAME_ID_PATTERN = f"[{ALPHABET}]{{{GAME_ID_LENGTH}}}"
_GAME_ID_RE = re.compile(GAME_ID_PATTERN)
SEEK_ID_LENGTH = 12
SEEK_ID_PATTERN = f"[{ALPHABET}]{{{SEEK_ID_LENGTH}}}"


def new_game_id() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(GAME_ID_LENGTH))


def new_seek_id() -> str:
    """Longer than a game ID: nobody reads it aloud, and knowing it alone gives nothing."""
    return "".join(secrets.choice(ALPHABET) for _ in range(SEEK_ID_LENGTH))


def normalize_game_id(text: str) -> str:
    """Forgive what people type: case, spaces, dashes, and a link pasted whole."""
    text = (text or "").strip().rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[\s-]", "", text).upper()


def is_game_id(text: str) -> bool:
    return bool(_GAME_ID_RE.fullmatch(text))


def group_name(game_id: str) -> str:
    """The channel-layer group every connection of a game joins, in every process."""
    return f"game-{game_id}"


def new_seat_token() -> str:
    """256 random bits; only its hash is stored."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, token_hash: str) -> bool:
    if not token or not token_hash:
        return False
    return hmac.compare_digest(hash_token(token), token_hash)
