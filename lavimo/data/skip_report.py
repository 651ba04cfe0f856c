"""Counted, logged skips: every input that is left out is recorded with its file and reason."""

from __future__ import annotations

import collections
import logging
from dataclasses import asdict, dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Skip:
    kind: str  # what was left out: "motion" or "caption"
    location: str  # the file (and line) at fault
    reason: str  # a fixed phrase, the unit of counting
    detail: str = ""  # what exactly was wrong


@dataclass
class SkipReport:
    skips: list[Skip] = field(default_factory=list)

    def skip(self, kind: str, location: str, reason: str, detail: str = "") -> None:
        entry = Skip(kind, location, reason, detail)
        log.warning("skipped %s %s: %s%s", kind, location, reason, f" ({detail})" if detail else "")
        self.skips.append(entry)

    def extend(self, entries: list[Skip]) -> None:
        self.skips.extend(entries)

    def counts(self) -> dict[str, int]:
        """Number of skips per "kind: reason"."""
        counter = collections.Counter(f"{s.kind}: {s.reason}" for s in self.skips)
        return dict(sorted(counter.items()))

    def count(self, kind: str) -> int:
        return sum(1 for s in self.skips if s.kind == kind)

    def to_dict(self) -> dict:
        return {"counts": self.counts(), "skips": [asdict(s) for s in self.skips]}

    def summary(self) -> str:
        if not self.skips:
            return "nothing skipped"
        lines = [f"{len(self.skips)} skipped:"] + [f"  {n:6d}  {what}" for what, n in self.counts().items()]
        return "\n".join(lines)
