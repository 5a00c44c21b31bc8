"""Fixtures: a real SMTP server and a real SMS provider on 127.0.0.1, one of each per test."""

from .servers import sms_provider, smtp_server

__all__ = ["sms_provider", "smtp_server"]
