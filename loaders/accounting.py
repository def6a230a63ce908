"""Load accounting: ``read = loaded + quarantined + duplicates``, with reasons counted."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Accounting:
    """What happened to the rows of one load (or of several, summed)."""

    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    quarantined_by_reason: Counter[str] = field(default_factory=Counter)

    def add(self, other: Accounting) -> None:
        self.read += other.read
        self.loaded += other.loaded
        self.quarantined += other.quarantined
        self.duplicates += other.duplicates
        self.quarantined_by_reason.update(other.quarantined_by_reason)

    @property
    def balanced(self) -> bool:
        """The invariant every load keeps."""
        return self.read == self.loaded + self.quarantined + self.duplicates

    def as_dict(self) -> dict[str, object]:
        return {"read": self.read, "loaded": self.loaded, "quarantined": self.quarantined,
                "duplicates": self.duplicates,
                "quarantined_by_reason": dict(sorted(self.quarantined_by_reason.items()))}
