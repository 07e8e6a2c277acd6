"""The demo city: loaded through the services, complete, valid and safe to load twice."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from yiwang.catalog import codes, search
from yiwang.catalog.models import ItemVersion, ServiceItem, Synonym, Theme
from yiwang.core import audit, validators
from yiwang.core.models import AuditEntry, Organization, Region
from yiwang.demo import load_demo
from yiwang.identity.models import StaffAccount


def _hits(q: str) -> list[str]:
    return [e.name for e in search.search(q)]


@pytest.mark.django_db
def test_demo_city_loads_completely_validly_and_only_once():
    try:
        summary = load_demo()

        # Five region levels, all below the demo province 39.
        levels = set(Region.objects.filter(code__startswith="39").values_list("level", flat=True))
        assert levels == {1, 2, 3, 4, 5}
        assert Region.objects.get(code="390100000000").name == "临江市"

        # Organisations: many, each with a valid credit code and a 4-digit department code.
        orgs = list(Organization.objects.all())
        assert len(orgs) >= 40
        for org in orgs:
            assert validators.check_uscc(org.uscc) == org.uscc
            assert len(org.department_code) == 4 and org.department_code.isdigit()
        kinds = {o.kind for o in orgs}
        assert kinds >= {"government", "department", "centre", "town_centre", "village_station"}
        market = Organization.objects.get(name="滨江区市场监督管理局")
        assert market.parent.name == "滨江区人民政府"
        assert Organization.objects.get(name="临江市市场监督管理局").department_code == market.department_code

        # Published catalog: size, every type code, valid implementation codes.
        published = ServiceItem.objects.filter(published_version__isnull=False)
        assert published.count() >= 300
        per_type = {t: published.filter(published_version__item_type=t).count() for t in codes.ItemType.values}
        assert all(n >= 3 for n in per_type.values()), per_type
        for code in published.values_list("implementation_code", flat=True):
            assert validators.check_implementation_code(code) == code
        assert all(v.materials.exists() for v in ItemVersion.objects.filter(status="published")[:50])

        # Everyday words reach the right items.
        assert any("营业执照" in v.result_name for v in ItemVersion.objects.filter(status="published"))
        assert _hits("营业执照")
        assert any("食品" in n and "经营许可" in n for n in _hits("开饭店"))
        assert any("设立登记" in n for n in _hits("开公司"))
        assert _hits("办护照") and _hits("提取公积金") and _hits("上户口")
        assert ServiceItem.objects.filter(popularity__gt=0).count() >= 30

        # History and work in progress for the back office.
        assert ItemVersion.objects.filter(status="superseded").exists()
        assert ItemVersion.objects.filter(status="draft").exists()
        assert ItemVersion.objects.filter(status="submitted").exists()

        # Demo accounts with their roles.
        roles = dict(StaffAccount.objects.values_list("user__username", "roles"))
        assert roles["admin"] == ["platform_admin"] and roles["catalog2"] == ["catalog_admin"]
        assert {"catalog", "clerk", "reviewer", "approver", "supervisor"} <= set(roles)
        assert {a["username"] for a in summary.accounts} >= {"admin", "catalog", "catalog2"}

        # Loading again adds nothing.
        counts = (Region.objects.count(), Organization.objects.count(), ServiceItem.objects.count(),
                  ItemVersion.objects.count(), Theme.objects.count(), Synonym.objects.count(),
                  StaffAccount.objects.count(), AuditEntry.objects.count())
        again = load_demo()
        assert not any(again.created.values())
        assert counts == (Region.objects.count(), Organization.objects.count(), ServiceItem.objects.count(),
                          ItemVersion.objects.count(), Theme.objects.count(), Synonym.objects.count(),
                          StaffAccount.objects.count(), AuditEntry.objects.count())

        assert audit.verify().ok
    finally:
        search.forget_synonyms()


def test_demo_command_refuses_in_production_without_force(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="--force"):
        call_command("demo")
