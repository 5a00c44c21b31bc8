"""From what a person pasted (an SMS, a raw e-mail, ``.eml`` bytes) to the parts the check reads."""

from __future__ import annotations

import email
import re
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Literal

from breachwatch.errors import InputError

Kind = Literal["auto", "sms", "email"]
KINDS = ("auto", "sms", "email")
MAX_MESSAGE_BYTES = 2 * 1024 * 1024

# A pasted e-mail starts with header lines, and among them at least one that every e-mail has;
# an SMS that starts with "Info: ..." is not an e-mail.
_HEADER_LINE_RE = re.compile(rb"[A-Za-z][A-Za-z0-9-]{0,60}:[ \t]")
_MAIL_HEADERS = {
    b"from",
    b"to",
    b"subject",
    b"date",
    b"received",
    b"return-path",
    b"message-id",
    b"mime-version",
    b"delivered-to",
    b"authentication-results",
}
_BLOCK_TAGS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "td", "title"}


class MessageInputError(InputError):
    """A message that cannot be checked at all (empty, binary, not decodable): exit code 2."""

    exit_code = 2


@dataclass(frozen=True)
class HtmlLink:
    href: str
    text: str
    text_start: int


@dataclass
class Mailbox:
    display_name: str
    address: str

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].lower().strip(".")


@dataclass
class Message:
    kind: Literal["sms", "email"]
    fields: dict[str, str] = field(default_factory=dict)
    html_links: list[HtmlLink] = field(default_factory=list)
    from_: Mailbox | None = None
    reply_to: Mailbox | None = None
    return_path: Mailbox | None = None
    recipient: str | None = None
    authentication_results: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)


def parse_message(raw: str | bytes, kind: Kind = "auto", sender: str | None = None) -> Message:
    if kind not in KINDS:
        raise MessageInputError(f"unknown message kind {kind!r}: expected auto, sms or email")
    data = _encode(raw) if isinstance(raw, str) else raw
    if len(data) > MAX_MESSAGE_BYTES:
        raise MessageInputError(f"message too large ({len(data):,} bytes; at most 2 MiB)")
    if not data.strip():
        raise MessageInputError("empty message: paste the text of the SMS or the whole e-mail")
    if b"\x00" in data:
        raise MessageInputError("this is binary data, not the text of a message or an .eml file")
    if kind == "email" or (kind == "auto" and looks_like_email(data)):
        return _parse_email(data)
    return _sms(raw if isinstance(raw, str) else _decode_text(data), sender)


def _encode(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no byte stood for
        return text.encode("utf-8", "replace")


def looks_like_email(data: bytes) -> bool:
    head, _, _ = data.lstrip().partition(b"\n\n") if b"\r\n" not in data else _crlf_head(data)
    names = set()
    for line in head.splitlines()[:200]:
        if line[:1] in (b" ", b"\t"):
            continue
        if not _HEADER_LINE_RE.match(line):
            return False
        names.add(line.partition(b":")[0].lower())
    return bool(names & _MAIL_HEADERS) and len(names) >= 2


def _crlf_head(data: bytes) -> tuple[bytes, bytes, bytes]:
    return data.lstrip().replace(b"\r\n", b"\n").partition(b"\n\n")


def _decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MessageInputError(
            f"the message is not UTF-8 text (undecodable byte at offset {exc.start}); "
            "save it as UTF-8, or give the .eml file for an e-mail"
        ) from None


def _sms(text: str, sender: str | None) -> Message:
    message = Message(kind="sms", fields={"body": text})
    if sender:
        message.fields["sender"] = sender.strip()
    return message


def _parse_email(data: bytes) -> Message:
    parsed = email.message_from_bytes(data.lstrip(), policy=policy.default)
    if not isinstance(parsed, EmailMessage):  # pragma: no cover - policy.default guarantees it
        raise MessageInputError("this e-mail could not be parsed")
    message = Message(kind="email")
    message.from_ = _mailbox(parsed, "From")
    message.reply_to = _mailbox(parsed, "Reply-To")
    message.return_path = _mailbox(parsed, "Return-Path")
    to = _mailbox(parsed, "To")
    message.recipient = to.address if to else None
    message.authentication_results = [str(v) for v in parsed.get_all("Authentication-Results", [])]
    _set_field(message, "subject", _header(parsed, "Subject"))
    for name, box in (("from", message.from_), ("reply-to", message.reply_to)):
        if box is not None:
            _set_field(message, name, _header(parsed, name))
    if message.return_path is not None:
        _set_field(message, "return-path", message.return_path.address)
    body, links = _body(parsed)
    message.fields["body"] = body
    message.html_links = links
    message.attachments = [
        part.get_filename() or "" for part in parsed.iter_attachments() if part.get_filename()
    ]
    return message


def _set_field(message: Message, name: str, value: str) -> None:
    if value:
        message.fields[name] = value


def _header(parsed: EmailMessage, name: str) -> str:
    try:
        return _unescape(str(parsed.get(name, "") or ""))
    except (ValueError, IndexError, TypeError):
        return ""


def _mailbox(parsed: EmailMessage, name: str) -> Mailbox | None:
    try:
        header = parsed.get(name)
        addresses: tuple[Address, ...] = getattr(header, "addresses", ()) if header else ()
    except (ValueError, IndexError, TypeError):
        return None
    if addresses and addresses[0].addr_spec and "@" in addresses[0].addr_spec:
        first = addresses[0]
        return Mailbox(_unescape(first.display_name or ""), _unescape(first.addr_spec))
    if header and "@" in str(header):
        return Mailbox("", str(header).strip(" <>"))
    return None


def _body(parsed: EmailMessage) -> tuple[str, list[HtmlLink]]:
    plain = _content(parsed.get_body(preferencelist=("plain",)))
    html = _content(parsed.get_body(preferencelist=("html",)))
    links: list[HtmlLink] = []
    if html:
        html_text, links = html_to_text(html)
        if not plain:
            return html_text, links
    if not plain and not parsed.is_multipart():
        plain = _content(parsed)
    return plain, links


def _content(part: object) -> str:
    if not isinstance(part, EmailMessage):
        return ""
    if part.get_content_charset() is None and part.get_content_maintype() == "text":
        # Pasted or sloppy mail: 8-bit text with no declared charset is read as us-ascii by
        # the email package; read the bytes as UTF-8 (or Windows-1252) instead.
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            return _text_of(payload)
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = _text_of(payload) if isinstance(payload, bytes) else ""
    if isinstance(content, bytes):
        return _text_of(content)
    return content if isinstance(content, str) else ""


def _text_of(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("cp1252", "replace")


def _unescape(text: str) -> str:
    """Raw 8-bit header bytes come back as surrogate escapes: read them as UTF-8."""
    if text.isascii() or not any("\udc80" <= c <= "\udcff" for c in text):
        return text
    return _text_of(text.encode("utf-8", "surrogateescape"))


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.length = 0
        self.links: list[HtmlLink] = []
        self._open: tuple[str, int] | None = None
        self._skip = 0

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self._open = (href.strip(), self.length)
        elif tag in _BLOCK_TAGS:
            self._emit("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag == "a" and self._open is not None:
            href, start = self._open
            text = "".join(self.parts)[start:]
            self.links.append(HtmlLink(href, text, start))
            self._open = None
        elif tag in _BLOCK_TAGS:
            self._emit("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._emit(re.sub(r"[ \t\r\n]+", " ", data))


def html_to_text(html: str) -> tuple[str, list[HtmlLink]]:
    """The visible text of an HTML part and its links (target, shown text, where it is shown)."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts), parser.links
