"""The check itself: from a pasted SMS or e-mail to a verdict, a score and pointed reasons.

Pure and offline: no DNS, no HTTP, nothing written. Everything that costs more than a regex scan
(the look-alike set, the brand regex, the reason catalogue) is built once per configuration.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from breachwatch.phishing import auth, phones
from breachwatch.phishing.codes import CodeVerifier, find_codes
from breachwatch.phishing.config import Brand, PhishingConfig, ReasonSpec, load_config, load_reasons
from breachwatch.phishing.domains import DomainAnalyzer, HostReport, registrable
from breachwatch.phishing.lures import find_leaks, find_lures
from breachwatch.phishing.message import Kind, Mailbox, Message, parse_message
from breachwatch.phishing.result import CheckResult, Field, Pointer, Reason, Verdict
from breachwatch.phishing.text import fold
from breachwatch.phishing.urls import Link, extract_links

MAX_EXCERPT = 200
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4, "trust": 5}
RISKY_ATTACHMENTS = (
    ".html", ".htm", ".shtml", ".svg", ".exe", ".scr", ".js", ".vbs", ".iso", ".img", ".lnk",
    ".bat", ".cmd", ".msi", ".hta", ".jar", ".ps1",
)  # fmt: skip
_MOBILE_SENDER_RE = re.compile(r"^(?:\+33|0033|0)[67]\d{8}$")


@dataclass
class _Collector:
    """Reasons found so far; a code repeated at the same place is kept once."""

    specs: dict[str, ReasonSpec]
    reasons: list[Reason] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)

    def add(self, code: str, pointer: Pointer, value: str, target: str = "") -> None:
        if (code, pointer.excerpt) in self.seen:
            return
        self.seen.add((code, pointer.excerpt))
        spec = self.specs[code]
        value, target = _clip(value), _clip(target)
        self.reasons.append(
            Reason(
                code=code,
                severity=spec.severity,
                weight=spec.weight,
                pointer=pointer,
                target=target,
                message_fr=spec.fr.format(value=value, target=target),
                message_en=spec.en.format(value=value, target=target),
            )
        )

    def codes(self) -> set[str]:
        return {r.code for r in self.reasons}


def _clip(text: str) -> str:
    return text if len(text) <= MAX_EXCERPT else text[: MAX_EXCERPT - 1] + "…"


def _span(field_name: Field, text: str, start: int, end: int) -> Pointer:
    return Pointer(field_name, _clip(text[start:end]), start, end)


@dataclass
class _Context:
    message: Message
    out: _Collector
    claims: list[Brand]
    unowned_links: int = 0


class Checker:
    """Everything a check needs that does not depend on the message, built once."""

    def __init__(self, config: PhishingConfig) -> None:
        self.config = config
        self.specs = _reason_specs()
        self.domains = DomainAnalyzer(config)
        self.brands = config.all_brands
        self.claim_re = _claim_regex(self.brands)
        self.sms_senders = {_compact(s) for s in config.organisation.sms_senders}

    def check(
        self,
        message: str | bytes,
        *,
        kind: Kind = "auto",
        verifier: CodeVerifier | None = None,
        recipient: str | None = None,
        sender: str | None = None,
    ) -> CheckResult:
        parsed = parse_message(message, kind, sender)
        ctx = _Context(parsed, _Collector(self.specs), self._claims(parsed))
        self._links(ctx)
        self._phones(ctx)
        self._lures(ctx)
        if parsed.kind == "email":
            self._sender_domains(ctx)
            self._email_headers(ctx)
        else:
            self._sms_sender(ctx)
        self._codes(ctx, verifier, recipient or parsed.recipient)
        return self._verdict(ctx)

    # --- who the message claims to be -------------------------------------------------------

    def _claims(self, message: Message) -> list[Brand]:
        display = message.from_.display_name if message.from_ else ""
        text = fold(" \n".join((message.fields.get("subject", ""), display, _body(message))))
        found = {int(m.lastgroup[1:]) for m in self.claim_re.finditer(text) if m.lastgroup}
        return [self.brands[i] for i in sorted(found)]

    # --- links -------------------------------------------------------------------------------

    def _links(self, ctx: _Context) -> None:
        reports: dict[str, HostReport] = {}
        for field_name in ("subject", "body"):
            text = ctx.message.fields.get(field_name, "")
            for link in extract_links(text) if text else ():
                pointer = _span(field_name, text, link.start, link.end)
                self._link(ctx, link, self._report(link.host, reports), pointer)
        # A link already shown in the text part is not reported again from its HTML twin.
        in_text = set(reports)
        for html_link in ctx.message.html_links:
            targets = extract_links(html_link.href.removeprefix("mailto:"))
            if not targets:
                continue
            link, report = targets[0], self._report(targets[0].host, reports)
            if link.host not in in_text:
                self._link(ctx, link, report, Pointer("url", _clip(html_link.href)))
            self._shown_elsewhere(ctx, html_link.text, html_link.text_start, link, report)

    def _report(self, host: str, reports: dict[str, HostReport]) -> HostReport:
        if host not in reports:
            reports[host] = self.domains.analyse(host)
        return reports[host]

    def _shown_elsewhere(
        self, ctx: _Context, shown: str, shown_start: int, link: Link, report: HostReport
    ) -> None:
        """An HTML link whose visible text is another domain than the one it leads to."""
        for displayed in extract_links(shown):
            base = registrable(displayed.host)
            if base and report.registrable and base != report.registrable:
                start = shown_start + displayed.start
                pointer = Pointer("body", _clip(displayed.url), start, start + len(displayed.url))
                ctx.out.add("link_text_mismatch", pointer, link.host, displayed.host)

    def _link(self, ctx: _Context, link: Link, report: HostReport, pointer: Pointer) -> None:
        out = ctx.out
        for finding in report.findings:
            if link.is_address and not finding.code.startswith("domain_"):
                continue
            value = report.host if finding.code.startswith("domain_") else link.url
            out.add(finding.code, pointer, value, finding.target)
        if link.is_address or report.owner is not None:
            return
        ctx.unowned_links += 1
        blatant = any(self.specs[f.code].severity == "critical" for f in report.findings)
        if ctx.claims and not blatant:
            out.add("link_not_official", pointer, link.url, ctx.claims[0].name)
        elif not report.findings:
            out.add("link_unknown", pointer, report.host)

    def _sender_domains(self, ctx: _Context) -> None:
        message = ctx.message
        boxes: tuple[tuple[Field, Mailbox | None], ...] = (
            ("from", message.from_),
            ("reply-to", message.reply_to),
            ("return-path", message.return_path),
        )
        for field_name, box in boxes:
            if box is None or not box.domain:
                continue
            report = self.domains.analyse(box.domain)
            text = message.fields.get(field_name, box.address)
            start = text.find(box.address)
            pointer = (
                _span(field_name, text, start, start + len(box.address))
                if start >= 0
                else Pointer(field_name, box.address)
            )
            for finding in report.findings:
                if finding.code.startswith("domain_") and finding.code != "domain_official":
                    ctx.out.add(finding.code, pointer, report.host, finding.target)

    # --- phone numbers -----------------------------------------------------------------------

    def _phones(self, ctx: _Context) -> None:
        text = _body(ctx.message)
        folded = fold(text)
        ours = self.config.organisation.phone_numbers
        claims_us = self.config.organisation in ctx.claims
        for phone in phones.find_phones(text, folded):
            pointer = _span("body", text, phone.start, phone.end)
            if phone.national in ours:
                continue
            imitated = phones.lookalike_of(phone, ours)
            if phone.is_premium:
                ctx.out.add("phone_premium", pointer, phone.text)
            elif imitated is not None:
                ctx.out.add("phone_lookalike", pointer, phone.text, imitated)
            elif claims_us and not phone.short and not phone.is_mobile:
                ctx.out.add("phone_unofficial", pointer, phone.text, self.config.organisation.name)
            elif phones.asks_to_call(folded, phone):
                code = "phone_callback_mobile" if phone.is_mobile else "phone_callback"
                ctx.out.add(code, pointer, phone.text)

    def _sms_sender(self, ctx: _Context) -> None:
        sender = ctx.message.fields.get("sender", "")
        if not sender:
            return
        pointer = Pointer("sender", sender, 0, len(sender))
        compact = _compact(sender)
        if compact in self.sms_senders:
            ctx.out.add("sender_official", pointer, sender, self.config.organisation.name)
        elif _MOBILE_SENDER_RE.match(compact) and ctx.claims:
            ctx.out.add("sender_mobile", pointer, sender, ctx.claims[0].name)

    # --- lures and leaked data ---------------------------------------------------------------

    def _lures(self, ctx: _Context) -> None:
        for field_name in ("subject", "body"):
            text = ctx.message.fields.get(field_name, "")
            if not text:
                continue
            folded = fold(text)
            for match in (*find_lures(folded), *find_leaks(folded)):
                pointer = _span(field_name, text, match.start, match.end)
                ctx.out.add(match.code, pointer, pointer.excerpt)

    # --- e-mail headers ----------------------------------------------------------------------

    def _email_headers(self, ctx: _Context) -> None:
        self._authentication(ctx)
        self._reply_to(ctx)
        self._display_name(ctx)
        for name in ctx.message.attachments:
            if name.lower().endswith(RISKY_ATTACHMENTS):
                ctx.out.add("attachment_risky", Pointer("header", _clip(name)), name)

    def _authentication(self, ctx: _Context) -> None:
        message, org = ctx.message, self.config.organisation
        results = auth.read_results(
            message.authentication_results, self.config.trusted_authserv_ids
        )
        if not results or message.from_ is None:
            return
        address = message.from_.address
        from_base = registrable(message.from_.domain)
        pointer = self._from_pointer(message)
        aligned = any(
            r.passed and r.method in ("dmarc", "dkim") and registrable(r.domain) == from_base
            for r in results
        )
        if from_base in org.domains:
            code = "auth_official_pass" if aligned else "auth_official_spoof"
            ctx.out.add(code, pointer, address, org.name)
        for result in results:
            failure = _AUTH_FAILURES.get((result.method, result.result))
            if failure:
                header = Pointer("header", f"{result.method}={result.result}")
                ctx.out.add(failure, header, result.domain or address)
        if not any(r.passed for r in results) and from_base not in org.domains:
            methods = "/".join(sorted({r.method.upper() for r in results}))
            ctx.out.add("auth_none", pointer, address, methods)

    def _from_pointer(self, message: Message) -> Pointer:
        assert message.from_ is not None
        text = message.fields.get("from", "")
        start = text.find(message.from_.address)
        if start < 0:
            return Pointer("from", message.from_.address)
        return _span("from", text, start, start + len(message.from_.address))

    def _reply_to(self, ctx: _Context) -> None:
        message = ctx.message
        if message.reply_to is None or message.from_ is None:
            return
        reply_base = registrable(message.reply_to.domain)
        if reply_base and reply_base != registrable(message.from_.domain):
            text = message.fields.get("reply-to", message.reply_to.address)
            start = max(0, text.find(message.reply_to.address))
            pointer = _span("reply-to", text, start, start + len(message.reply_to.address))
            ctx.out.add(
                "reply_to_mismatch", pointer, message.reply_to.address, message.from_.address
            )

    def _display_name(self, ctx: _Context) -> None:
        box = ctx.message.from_
        if box is None or not box.display_name:
            return
        base = registrable(box.domain)
        text = ctx.message.fields.get("from", box.display_name)
        start = max(0, text.find(box.display_name))
        pointer = _span("from", text, start, start + len(box.display_name))
        folded = fold(box.display_name)
        for match in self.claim_re.finditer(folded):
            brand = self.brands[int((match.lastgroup or "b0")[1:])]
            owner = self.domains.analyse(box.domain).owner
            if base not in brand.domains and not (owner is not None and owner.id == "trusted"):
                ctx.out.add("display_name_spoof", pointer, box.display_name, brand.name)
                return
        for shown in extract_links(box.display_name):
            if registrable(shown.host) != base:
                ctx.out.add("display_name_spoof", pointer, box.display_name, shown.host)
                return

    # --- authenticity codes ------------------------------------------------------------------

    def _codes(self, ctx: _Context, verifier: CodeVerifier | None, recipient: str | None) -> None:
        org = self.config.organisation.name
        for field_name in ("subject", "body"):
            text = ctx.message.fields.get(field_name, "")
            for code in find_codes(text) if "-" in text else ():
                pointer = _span(field_name, text, code.start, code.end)
                if not code.well_formed:
                    ctx.out.add("code_invalid", pointer, code.text, org)
                elif verifier is None:
                    ctx.out.add("code_unverifiable", pointer, code.text, org)
                elif verifier.verify(code.normalised, recipient):
                    ctx.out.add("code_valid", pointer, code.text, org)
                else:
                    ctx.out.add("code_invalid", pointer, code.text, org)

    # --- verdict -----------------------------------------------------------------------------

    def _verdict(self, ctx: _Context) -> CheckResult:
        reasons = sorted(ctx.out.reasons, key=lambda r: (SEVERITY_ORDER[r.severity], -r.weight))
        codes = ctx.out.codes()
        critical = any(r.severity == "critical" for r in reasons)
        score = _score(reasons, critical, ctx.unowned_links)
        verdict: Verdict
        if "code_invalid" in codes or (critical and "code_valid" in codes):
            verdict = "phishing"
        elif "code_valid" in codes:
            verdict = "genuine"
        elif score >= self.config.phishing_at:
            verdict = "phishing"
        elif score >= self.config.suspicious_at:
            verdict = "suspicious"
        else:
            verdict = "genuine"
        return CheckResult(
            verdict=verdict,
            score=score,
            kind=ctx.message.kind,
            reasons=tuple(reasons),
            verified=verdict == "genuine" and "code_valid" in codes,
            fields=dict(ctx.message.fields),
        )


_AUTH_FAILURES = {
    ("dmarc", "fail"): "auth_dmarc_fail",
    ("spf", "fail"): "auth_spf_fail",
    ("spf", "softfail"): "auth_spf_softfail",
    ("dkim", "fail"): "auth_dkim_fail",
}


def _score(reasons: Iterable[Reason], critical: bool, unowned_links: int) -> int:
    """Each code counts once, at its weight. Trust counts only when nothing is critical, and an
    official link vouches for nothing when the message also links somewhere unknown."""
    weights: dict[str, int] = {}
    for reason in reasons:
        if reason.weight < 0 and (critical or (reason.code == "domain_official" and unowned_links)):
            continue
        weights[reason.code] = reason.weight
    return max(0, min(100, sum(weights.values())))


def _body(message: Message) -> str:
    return message.fields.get("body", "")


def _compact(text: str) -> str:
    return "".join(text.split()).lower()


def _claim_regex(brands: tuple[Brand, ...]) -> re.Pattern[str]:
    groups = []
    for index, brand in enumerate(brands):
        names = sorted({fold(n) for n in brand.names}, key=len, reverse=True)
        alternatives = "|".join(re.escape(n).replace(r"\ ", r"[\s-]?") for n in names)
        groups.append(rf"(?P<b{index}>(?:{alternatives})\b)")
    return re.compile(r"\b(?:" + "|".join(groups) + ")")


@cache
def _reason_specs() -> dict[str, ReasonSpec]:
    return load_reasons()


_CHECKERS: dict[int, tuple[PhishingConfig, Checker]] = {}
_MAX_CACHED = 8


def checker_for(config: PhishingConfig | None = None) -> Checker:
    """One ``Checker`` per configuration object, built on first use and kept."""
    config = config or default_config()
    hit = _CHECKERS.get(id(config))
    if hit is not None and hit[0] is config:
        return hit[1]
    if len(_CHECKERS) >= _MAX_CACHED:
        _CHECKERS.clear()
    checker = Checker(config)
    _CHECKERS[id(config)] = (config, checker)
    return checker


@cache
def default_config() -> PhishingConfig:
    return load_config()


def check_message(
    message: str | bytes,
    *,
    kind: Kind = "auto",
    config: PhishingConfig | None = None,
    verifier: CodeVerifier | None = None,
    recipient: str | None = None,
    sender: str | None = None,
) -> CheckResult:
    """Check an SMS text, a raw e-mail or ``.eml`` bytes; see docs/phishing.md for the verdict.

    ``recipient`` is who received the message (an e-mail's ``To`` is used when not given): a
    verifier may bind authenticity codes to their recipient. ``sender`` is an SMS's sender (a
    number or a short code), when the caller knows it. Raises ``MessageInputError`` for an
    empty, binary or undecodable message.
    """
    return checker_for(config).check(
        message, kind=kind, verifier=verifier, recipient=recipient, sender=sender
    )
