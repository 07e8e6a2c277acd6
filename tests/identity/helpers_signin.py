"""Helpers for the registration and sign-in tests: valid identifiers, the SMS outbox, a registered citizen."""

from __future__ import annotations

import datetime as dt
import itertools
import re

from yiwang.core.fields import blind_match
from yiwang.core.validators import make_citizen_id
from yiwang.identity.models import SmsMessage

PASSWORD = "Lj2025river"
_seq = itertools.count(1)


def new_id_number(*, ends_with_x: bool = False) -> str:
    """A valid citizen ID number (GB 11643) of the demo province; optionally one ending in X."""
    while True:
        n = next(_seq)
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=(131 * n) % 20000)
        value = make_citizen_id("390102", birth, f"{n % 1000:03d}")
        if value.endswith("X") == ends_with_x:
            return value


def new_mobile() -> str:
    return f"137{next(_seq) + 40000000:08d}"


def outbox(mobile: str) -> list[SmsMessage]:
    return list(SmsMessage.objects.filter(blind_match(SmsMessage, "mobile", mobile)).order_by("-id"))


def last_code(mobile: str) -> str:
    """The 6-digit code of the latest text message sent to ``mobile``."""
    messages = outbox(mobile)
    assert messages, f"no text message was sent to {mobile[:3]}…"
    return re.search(r"(?<![0-9])([0-9]{6})(?![0-9])", messages[0].text)[1]


def send_code(client, mobile: str, purpose: str, **extra):
    return client.post("/accounts/code/", {"mobile": mobile, "purpose": purpose, **extra})


def register(client, *, name: str = "李晓兰", id_number: str | None = None, mobile: str | None = None,
             username: str = "", password: str = PASSWORD, **extra):
    """Register through the pages as a person would: ask for a code, read it, fill in the form."""
    id_number = id_number or new_id_number()
    mobile = mobile or new_mobile()
    response = send_code(client, mobile, "register")
    assert response.status_code == 302, response.content.decode()[:500]
    data = {"name": name, "id_number": id_number, "code": last_code(mobile), "username": username,
            "password": password, "password2": password, **extra}
    return client.post("/accounts/register/", data)
