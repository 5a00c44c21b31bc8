"""What a check returns: a verdict, a score and the reasons, each pointing at the part it found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["genuine", "suspicious", "phishing"]
Field = Literal["body", "subject", "from", "reply-to", "return-path", "sender", "url", "header"]
LANGUAGES = ("fr", "en")


@dataclass(frozen=True)
class Pointer:
    """The part of the message that triggered a reason.

    ``excerpt`` is the exact substring; ``start``/``end`` its span in the text of ``field`` (as
    returned in ``CheckResult.fields``) when it has one: a link's target inside an HTML ``href``,
    or a header that only exists as a parsed value, has no span.
    """

    field: Field
    excerpt: str
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class Reason:
    code: str
    severity: str
    weight: int
    pointer: Pointer
    target: str
    message_fr: str
    message_en: str

    def message(self, lang: str = "fr") -> str:
        return self.message_fr if lang == "fr" else self.message_en

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "weight": self.weight,
            "field": self.pointer.field,
            "excerpt": self.pointer.excerpt,
            "start": self.pointer.start,
            "end": self.pointer.end,
            "target": self.target,
            "message": {"fr": self.message_fr, "en": self.message_en},
        }


@dataclass(frozen=True)
class CheckResult:
    """``score`` is 0-100 points, higher = more likely phishing; see docs/phishing.md.

    ``verified`` is true only when a valid authenticity code proved the message genuine.
    ``fields`` holds the texts the pointers' spans refer to (the body after MIME and HTML
    decoding, the subject, the headers that were read).
    """

    verdict: Verdict
    score: int
    kind: Literal["sms", "email"]
    reasons: tuple[Reason, ...]
    verified: bool = False
    fields: dict[str, str] = field(default_factory=dict)

    def to_json(self, *, with_fields: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verdict": self.verdict,
            "score": self.score,
            "kind": self.kind,
            "verified": self.verified,
            "reasons": [r.to_json() for r in self.reasons],
        }
        if with_fields:
            out["fields"] = dict(self.fields)
        return out
