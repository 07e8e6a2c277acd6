"""Citizens, enterprises and registered clients for the single sign-on tests."""

from __future__ import annotations

import datetime as dt
import itertools
import re

from django.contrib.auth import get_user_model
from django.test import Client

from tests import factories
from yiwang.core.models import Organization
from yiwang.core.validators import make_citizen_id, make_uscc
from yiwang.identity import services_oidc
from yiwang.identity.models import Enterprise, Person, Role

_seq = itertools.count(1)

ID_NUMBER = make_citizen_id("390102", dt.date(1990, 3, 7), "123")
MOBILE = "13812345678"


def citizen(username: str = "zhangsan", name: str = "张三丰", *, level: int = 2, id_number: str = ID_NUMBER,
            mobile: str = MOBILE) -> Person:
    user = get_user_model().objects.create_user(username=username, password="yiwang-demo")
    return Person.objects.create(user=user, name=name, id_number=id_number, mobile=mobile, assurance_level=level)


def enterprise_of(person: Person, name: str = "临江市青禾餐饮有限公司") -> Enterprise:
    n = next(_seq)
    return Enterprise.objects.create(uscc=make_uscc("9", "1", "390102", f"MA{n:06d}"), name=name,
                                     legal_representative=person)


def platform_admin(username: str = "sso_admin"):
    existing = get_user_model().objects.filter(username=username).first()
    if existing is not None:
        return existing
    region = factories.region("390100000000", "临江市")
    org = Organization.objects.filter(name="临江市大数据管理局").first() or factories.organization(
        "临江市大数据管理局", region, "0003")
    return factories.staff(username, org, Role.PLATFORM_ADMIN)


def login_client(redirect_uris, *, name: str = "临江市公积金网上大厅", public: bool = True,
                 scopes=("openid", "profile", "phone", "enterprise"), logout_uris=()):
    """A registered sign-in client; returns (application, secret)."""
    return services_oidc.register_client(platform_admin(), {
        "name": name, "kind": "login", "client_type": "public" if public else "confidential",
        "redirect_uris": list(redirect_uris), "post_logout_redirect_uris": list(logout_uris),
        "scopes": list(scopes)})


def system_client(name: str = "临江市市场监管业务系统", scopes=("catalog.read",)):
    return services_oidc.register_client(platform_admin(), {
        "name": name, "kind": "system", "client_type": "confidential", "scopes": list(scopes)})


def session_cookie(user, *, acting_for: str = "") -> tuple[str, str]:
    """A signed-in session for ``user`` (as the login page would leave it): cookie name and value."""
    client = Client()
    client.force_login(user)
    if acting_for:
        session = client.session
        session["acting_for"] = acting_for
        session.save()
    from django.conf import settings

    return settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of the consent form (the form a browser would submit)."""
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        if 'type="hidden"' not in tag:
            continue
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[name.group(1)] = _unescape(value.group(1)) if value else ""
    return fields


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)
