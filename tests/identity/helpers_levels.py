"""Citizens, registry records and enterprises for the assurance-level and enterprise tests."""

from __future__ import annotations

import datetime as dt
import itertools

from django.contrib.auth import get_user_model

from yiwang.core.validators import make_citizen_id, make_uscc
from yiwang.identity import services_enterprise, services_levels
from yiwang.identity.models import (
    AccountSecurity,
    Enterprise,
    LegalPersonRecord,
    Person,
    PopulationRecord,
)

_seq = itertools.count(1)


def new_id_number() -> str:
    n = next(_seq)  # (birth date, sequence) stays unique for the first 20,000 numbers
    return make_citizen_id("390102", dt.date(1950, 1, 1) + dt.timedelta(days=97 * n % 20000), f"{n % 1000:03d}")


def new_mobile() -> str:
    return f"139{next(_seq):08d}"


def citizen(username: str, name: str = "王小明", *, id_number: str | None = None, mobile: str | None = None,
            level: int = 1, in_registry: bool = True, alive: bool = True, password: str = "yiwang-demo") -> Person:
    """A registered citizen at L1 (listed in the population registry unless told otherwise),
    raised to ``level`` through the real services."""
    id_number = id_number or new_id_number()
    user = get_user_model().objects.create_user(username=username, password=password)
    person = Person.objects.create(user=user, name=name, id_number=id_number, mobile=mobile or new_mobile())
    AccountSecurity.objects.create(user=user)
    if in_registry:
        PopulationRecord.objects.create(name=name, id_number=id_number, alive=alive)
    if level >= 2:
        services_levels.raise_to_l2(person, name, id_number)
    if level >= 3:
        services_levels.confirm_in_person_l3(clerk_for_tests(), person, id_number)
    person.refresh_from_db()
    return person


def clerk_for_tests():
    from tests import factories
    from yiwang.core.models import Organization
    from yiwang.identity.models import Role

    user = get_user_model().objects.filter(username="window_clerk").first()
    if user is not None:
        return user
    region = factories.region("390000000000", "江川省")
    org = Organization.objects.filter(name="临江市政务服务中心").first() or factories.organization(
        "临江市政务服务中心", region, "0002")
    return factories.staff("window_clerk", org, Role.CLERK)


def legal_record(rep: Person | None, *, name: str = "临江市青禾餐饮有限公司", rep_name: str | None = None,
                 rep_id_number: str | None = None, active: bool = True, uscc: str | None = None) -> LegalPersonRecord:
    n = next(_seq)
    uscc = uscc or make_uscc("9", "1", "390102", f"MA{n:06d}")
    return LegalPersonRecord.objects.create(
        uscc=uscc, name=name, legal_rep_name=rep_name or (rep.name if rep else "赵大勇"),
        legal_rep_id_number=rep_id_number or (rep.id_number if rep else new_id_number()), active=active)


def enterprise_of(rep: Person, name: str = "临江市青禾餐饮有限公司") -> Enterprise:
    """A registered enterprise held by ``rep`` (who must be at least L2)."""
    record = legal_record(rep, name=name)
    return services_enterprise.register_enterprise(rep, record.uscc)
