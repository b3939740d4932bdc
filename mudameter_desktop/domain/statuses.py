"""The three statuses and the per-minute counts built from them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    SPEAKING = "speaking"
    ENGAGED = "engaged"
    DISENGAGED = "disengaged"


class ParticipantKind(StrEnum):
    LOCAL = "local"  # the person at the tray
    LAN = "lan"  # a browser or API client


@dataclass(frozen=True, slots=True)
class Counts:
    """Distinct participants per status (one bucket, or a meeting's totals)."""

    speaking: int = 0
    engaged: int = 0
    disengaged: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.speaking + other.speaking,
            self.engaged + other.engaged,
            self.disengaged + other.disengaged,
        )

    @property
    def total(self) -> int:
        return self.speaking + self.engaged + self.disengaged

    @property
    def muda(self) -> float | None:
        """Share of disengaged participant-minutes, or None with no data."""
        return self.disengaged / self.total if self.total else None

    def share(self, status: Status) -> float | None:
        return getattr(self, status.value) / self.total if self.total else None

    @classmethod
    def of(cls, statuses: list[Status]) -> Counts:
        return cls(
            statuses.count(Status.SPEAKING),
            statuses.count(Status.ENGAGED),
            statuses.count(Status.DISENGAGED),
        )
