"""Operator accounts, sessions and CSRF tokens for the dashboard.

- Passwords: argon2id (argon2-cffi's defaults), rehashed on login when the parameters change.
- Sessions: 256-bit random ids, stored only as SHA-256 in the operational DB, created anew at
  every login (an id planted before login is never promoted: no session fixation), idle and
  absolute expiry, deleted at logout. The cookie is HttpOnly, SameSite=Strict, Secure unless
  ``session_cookie_secure`` is off (plain-HTTP loopback demos).
- CSRF: a synchronizer token per session, required in every state-changing form.
- Roles: viewer < analyst < admin. Person look-ups need analyst; the audit log needs admin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Boolean, DateTime, Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from breachwatch.errors import UsageError
from breachwatch.state import Base, _now, audit, engine_for

ROLES = ("viewer", "analyst", "admin")
IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=10)
_HASHER = PasswordHasher()
# A valid hash of a random password: unknown users cost the same as wrong passwords.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class User(Base):
    __tablename__ = "operators"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class OpSession(Base):
    __tablename__ = "operator_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime)


@dataclass(frozen=True)
class Operator:
    username: str
    role: str
    csrf: str

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _check_password(password: str) -> None:
    if len(password) < 12:
        raise UsageError("the password must have at least 12 characters")


def add_user(settings: dict[str, Any], username: str, password: str, role: str) -> None:
    if role not in ROLES:
        raise UsageError(f"--role {role!r}: expected one of {', '.join(ROLES)}")
    if (
        not username
        or len(username) > 100
        or not username.replace(".", "").replace("-", "").replace("_", "").isalnum()
    ):
        raise UsageError("the user name may hold letters, digits, '.', '-' and '_' (≤ 100)")
    _check_password(password)
    with Session(engine_for(settings)) as s, s.begin():
        if s.scalar(select(User).where(User.username == username)) is not None:
            raise UsageError(f"user {username!r} exists already")
        s.add(
            User(
                username=username,
                password_hash=_HASHER.hash(password),
                role=role,
                created_at=_now(),
                disabled=False,
            )
        )
    audit(
        settings, actor="cli", action="user.add", subject=username, reason="", detail={"role": role}
    )


def list_users(settings: dict[str, Any]) -> list[dict[str, Any]]:
    with Session(engine_for(settings)) as s:
        return [
            {
                "username": u.username,
                "role": u.role,
                "created_at": str(u.created_at)[:19],
                "disabled": u.disabled,
            }
            for u in s.scalars(select(User).order_by(User.username))
        ]


def login(settings: dict[str, Any], username: str, password: str) -> tuple[str, Operator] | None:
    """A new session id and the operator, or None (same time whether the user exists or not)."""
    with Session(engine_for(settings)) as s, s.begin():
        user = s.scalar(select(User).where(User.username == username))
        try:
            _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if user is None or user.disabled:
            return None
        if _HASHER.check_needs_rehash(user.password_hash):
            user.password_hash = _HASHER.hash(password)
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = _now()
        s.add(
            OpSession(
                id_hash=_hash(session_id),
                username=user.username,
                csrf=csrf,
                created_at=now,
                last_seen=now,
            )
        )
        return session_id, Operator(user.username, user.role, csrf)


def current(settings: dict[str, Any], session_id: str | None) -> Operator | None:
    if not session_id:
        return None
    with Session(engine_for(settings)) as s, s.begin():
        row = s.get(OpSession, _hash(session_id))
        if row is None:
            return None
        now = _now()
        if now - row.last_seen > IDLE or now - row.created_at > ABSOLUTE:
            s.delete(row)
            return None
        user = s.scalar(select(User).where(User.username == row.username))
        if user is None or user.disabled:
            s.delete(row)
            return None
        if now - row.last_seen > timedelta(seconds=60):
            row.last_seen = now
        return Operator(user.username, user.role, row.csrf)


def logout(settings: dict[str, Any], session_id: str | None) -> None:
    if not session_id:
        return
    with Session(engine_for(settings)) as s, s.begin():
        s.execute(delete(OpSession).where(OpSession.id_hash == _hash(session_id)))


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected, given or "")
