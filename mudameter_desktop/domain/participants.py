"""Who a participant is to others: a public handle, never the secret id."""

from __future__ import annotations

import hashlib

HANDLE_LENGTH = 10  # hex digits: 40 bits, unique enough within one meeting
MAX_LIVE_PER_ADDRESS = 5  # live participants one LAN address may hold in one meeting


def handle_of(participant_id: str) -> str:
    """The participant's public handle: a one-way digest of the secret id.

    The id is 122 random bits, so the handle cannot be turned back into it,
    and anyone holding the id can find themselves in a meeting's detail.
    """
    digest = hashlib.sha256(b"mudameter-handle:" + participant_id.encode()).hexdigest()
    return digest[:HANDLE_LENGTH]
