"""Test data built through the real services, as a user would build it."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model

from yiwang.catalog import services
from yiwang.catalog.models import ItemVersion, Theme
from yiwang.core.models import Organization, Region
from yiwang.core.validators import make_uscc
from yiwang.identity.models import Role, StaffAccount

_seq = itertools.count(1)


def region(code: str, name: str, parent: Region | None = None) -> Region:
    from yiwang.core.validators import division_level

    obj, _ = Region.objects.get_or_create(code=code, defaults={"name": name, "level": division_level(code),
                                                               "parent": parent})
    return obj


def organization(name: str, region_obj: Region, department_code: str = "0117",
                 parent: Organization | None = None) -> Organization:
    n = next(_seq)
    body = f"T{n:07d}"
    return Organization.objects.create(uscc=make_uscc("1", "1", region_obj.code[:6], body), name=name,
                                       department_code=department_code, region=region_obj, parent=parent)


def staff(username: str, org: Organization, *roles: str, password: str = "yiwang-demo"):
    user = get_user_model().objects.create_user(username=username, password=password)
    StaffAccount.objects.create(user=user, organization=org, roles=list(roles) or [Role.CATALOG_ADMIN],
                                display_name=username)
    return user


def theme(code: str = "kaiban", name: str = "企业开办", audience: str = "legal") -> Theme:
    obj, _ = Theme.objects.get_or_create(code=code, defaults={"name": name, "audience": audience})
    return obj


def item_data(**overrides) -> dict:
    data = {
        "name": "食品经营许可",
        "aliases": "开饭店|开餐馆",
        "item_type": "01",
        "exercise_level": "3",
        "service_objects": ["2"],
        "legal_basis": "《中华人民共和国食品安全法》第三十五条",
        "conditions": "申请人应当具有与经营的食品品种、数量相适应的经营场所。",
        "process": "申请\n受理\n审查\n决定\n送达",
        "statutory_limit_days": 20,
        "promised_limit_days": 10,
        "handling_forms": ["1", "2"],
        "online_depth": ["1", "2", "3", "4"],
        "visits": 1,
        "location": "临江市政务服务中心二楼市场监管窗口",
        "hours": "工作日 9:00-12:00，13:30-17:00",
        "consult_phone": "0391-12345",
        "supervise_phone": "0391-12315",
        "result_name": "食品经营许可证",
        "result_type": "10",
    }
    data.update(overrides)
    return data


def materials(*names: str) -> list[dict]:
    names = names or ("食品经营许可申请书", "营业执照")
    return [{"name": n, "kind": "1", "media": "3", "originals": 1, "copies": 0, "required": True,
             "source": "applicant"} for n in names]


def published_item(org: Organization, author, reviewer, *, theme_codes=None, mats=None, **overrides) -> ItemVersion:
    """Create, submit, review (by a second administrator) and publish an item."""
    v = services.create_item(author, organization=org, data=item_data(**overrides), themes=theme_codes,
                             materials=mats if mats is not None else materials())
    v = services.submit_version(author, v)
    v = services.review_version(reviewer, v, approve=True, opinion="同意")
    return services.publish_version(reviewer, v)
