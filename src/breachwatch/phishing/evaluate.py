"""Accuracy of the check on a labelled set: precision, recall, F1 and MCC for phishing.

Labels are ``phishing``, ``genuine`` (an official notice) and ``ordinary`` (a benign message);
only ``phishing`` is positive. A verdict "flags" a message when it is ``phishing`` or, by default,
``suspicious``: the person is told not to act on it. Both readings are reported, because
"suspicious" is meant to make a person stop and check.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from breachwatch.phishing.codes import CodeVerifier
from breachwatch.phishing.config import PhishingConfig
from breachwatch.phishing.engine import check_message
from breachwatch.phishing.result import CheckResult

LABELS = ("phishing", "genuine", "ordinary")


@dataclass(frozen=True)
class Sample:
    id: str
    split: str
    label: str
    kind: str
    lang: str
    category: str
    text: str
    sender: str | None = None
    recipient: str | None = None


@dataclass
class Scores:
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    def add(self, positive: bool, flagged: bool) -> None:
        if positive and flagged:
            self.tp += 1
        elif positive:
            self.fn += 1
        elif flagged:
            self.fp += 1
        else:
            self.tn += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def mcc(self) -> float:
        """Matthews correlation: unlike accuracy, a constant answer scores 0 on any class mix."""
        tp, fp, tn, fn = self.tp, self.fp, self.tn, self.fn
        denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return (tp * tn - fp * fn) / denominator if denominator else 0.0


@dataclass
class Evaluation:
    samples: int = 0
    flagged_strict: Scores = field(default_factory=Scores)
    """Suspicious counts as flagged."""
    flagged_phishing_only: Scores = field(default_factory=Scores)
    """Only a phishing verdict counts as flagged."""
    genuine: int = 0
    genuine_flagged: int = 0
    errors: list[tuple[Sample, CheckResult]] = field(default_factory=list)

    @property
    def genuine_flagged_share(self) -> float:
        return self.genuine_flagged / self.genuine if self.genuine else 0.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"samples": self.samples}
        for name, scores in (
            ("suspicious_flagged", self.flagged_strict),
            ("phishing_only", self.flagged_phishing_only),
        ):
            out[name] = {
                "tp": scores.tp,
                "fp": scores.fp,
                "tn": scores.tn,
                "fn": scores.fn,
                "precision": round(scores.precision, 4),
                "recall": round(scores.recall, 4),
                "f1": round(scores.f1, 4),
                "mcc": round(scores.mcc, 4),
            }
        out["genuine_notices"] = self.genuine
        out["genuine_flagged"] = self.genuine_flagged
        out["genuine_flagged_share"] = round(self.genuine_flagged_share, 4)
        return out


def load_samples(path: Path, split: str | None = None) -> list[Sample]:
    samples = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                samples.append(_sample(json.loads(line)))
    return [s for s in samples if split is None or s.split == split]


def _sample(item: dict[str, Any]) -> Sample:
    if item["label"] not in LABELS:
        raise ValueError(f"sample {item.get('id')}: unknown label {item['label']!r}")
    keys = Sample.__dataclass_fields__
    return Sample(**{k: v for k, v in item.items() if k in keys})


def check_sample(
    sample: Sample, config: PhishingConfig | None, verifier: CodeVerifier | None
) -> CheckResult:
    return check_message(
        sample.text,
        kind="sms" if sample.kind == "sms" else "email",
        config=config,
        verifier=verifier,
        recipient=sample.recipient,
        sender=sample.sender,
    )


def evaluate(
    samples: Iterable[Sample],
    config: PhishingConfig | None = None,
    verifier: CodeVerifier | None = None,
) -> Evaluation:
    evaluation = Evaluation()
    for sample in samples:
        result = check_sample(sample, config, verifier)
        positive = sample.label == "phishing"
        strict = result.verdict != "genuine"
        evaluation.samples += 1
        evaluation.flagged_strict.add(positive, strict)
        evaluation.flagged_phishing_only.add(positive, result.verdict == "phishing")
        if sample.label == "genuine":
            evaluation.genuine += 1
            evaluation.genuine_flagged += strict
        if positive != strict:
            evaluation.errors.append((sample, result))
    return evaluation


def format_table(evaluation: Evaluation, title: str) -> str:
    rows: Sequence[tuple[str, Scores]] = (
        ("suspicious = flagged", evaluation.flagged_strict),
        ("phishing only", evaluation.flagged_phishing_only),
    )
    lines = [
        title,
        f"{'reading':<22}{'TP':>5}{'FP':>5}{'TN':>5}{'FN':>5}"
        f"{'precision':>11}{'recall':>8}{'F1':>8}{'MCC':>8}",
    ]
    for name, s in rows:
        lines.append(
            f"{name:<22}{s.tp:>5}{s.fp:>5}{s.tn:>5}{s.fn:>5}"
            f"{s.precision:>11.3f}{s.recall:>8.3f}{s.f1:>8.3f}{s.mcc:>8.3f}"
        )
    lines.append(
        f"genuine notices flagged: {evaluation.genuine_flagged}/{evaluation.genuine} "
        f"({evaluation.genuine_flagged_share:.1%})"
    )
    return "\n".join(lines)
