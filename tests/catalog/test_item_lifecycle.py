"""One source, one version: draft → submitted → reviewed → published, revisions and retirement."""

import threading

import pytest
from django.db import connection

from tests import factories
from yiwang.catalog import search, services
from yiwang.catalog.models import ItemVersion, ServiceItem
from yiwang.core import audit
from yiwang.core.errors import Conflict, NotFound, NotPermitted, StateError, ValidationFailed
from yiwang.core.models import AuditEntry
from yiwang.core.validators import check_basic_code, check_implementation_code

pytestmark = pytest.mark.django_db


def _draft(org, user, **overrides):
    return services.create_item(user, organization=org, data=factories.item_data(**overrides),
                                materials=factories.materials())


def test_new_item_gets_valid_codes_from_its_organisation(org_a, admin_a):
    v = _draft(org_a, admin_a)
    code = v.item.implementation_code
    assert check_implementation_code(code) == code
    assert code[:18] == org_a.uscc and code[18] == "3"
    assert check_basic_code(code[19:]) and code[21:25] == org_a.department_code
    assert v.status == ItemVersion.Status.DRAFT and v.number == 1


def test_two_items_of_one_department_get_distinct_basic_codes(org_a, admin_a):
    a, b = _draft(org_a, admin_a), _draft(org_a, admin_a, name="食品生产许可")
    assert a.item.basic_item.basic_code != b.item.basic_item.basic_code


def test_full_workflow_publishes_and_indexes(published):
    item = published.item
    item.refresh_from_db()
    assert item.published_version_id == published.pk
    assert published.status == ItemVersion.Status.PUBLISHED and published.published_at
    assert search.search("食品经营许可").first().item_id == item.pk
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert actions == ["catalog.item.create", "catalog.version.submit", "catalog.version.review",
                       "catalog.version.publish"]
    assert audit.verify().ok


def test_submitter_cannot_review_their_own_submission(org_a, admin_a):
    v = services.submit_version(admin_a, _draft(org_a, admin_a))
    with pytest.raises(NotPermitted):
        services.review_version(admin_a, v, approve=True)


def test_returning_for_changes_needs_a_reason_and_goes_back_to_draft(org_a, admin_a, admin_a2):
    v = services.submit_version(admin_a, _draft(org_a, admin_a))
    with pytest.raises(ValidationFailed) as err:
        services.review_version(admin_a2, v, approve=False, opinion="  ")
    assert "opinion" in err.value.fields
    v = services.review_version(admin_a2, v, approve=False, opinion="材料清单缺少授权委托书")
    assert v.status == ItemVersion.Status.DRAFT and v.review_opinion == "材料清单缺少授权委托书"


def test_publishing_a_draft_directly_is_refused(org_a, admin_a):
    with pytest.raises(StateError):
        services.publish_version(admin_a, _draft(org_a, admin_a))


def test_editing_a_published_item_makes_a_new_draft_and_the_portal_keeps_the_old(published, admin_a, admin_a2):
    item = published.item
    draft = services.start_revision(admin_a, item)
    assert draft.number == 2 and draft.status == ItemVersion.Status.DRAFT
    assert [m.name for m in draft.materials.all()] == [m.name for m in published.materials.all()]
    services.update_draft(admin_a, draft, data={"promised_limit_days": 5, "change_note": "压缩承诺时限"},
                          expected_lock=draft.lock_version)
    item.refresh_from_db()
    assert item.published_version.promised_limit_days == 10  # still the published text
    draft = services.submit_version(admin_a, draft)
    draft = services.review_version(admin_a2, draft, approve=True)
    services.publish_version(admin_a2, draft)
    item.refresh_from_db()
    published.refresh_from_db()
    assert item.published_version.number == 2 and item.published_version.promised_limit_days == 5
    assert published.status == ItemVersion.Status.SUPERSEDED


def test_published_versions_are_immutable(published, admin_a):
    with pytest.raises(StateError):
        services.update_draft(admin_a, published, data={"name": "改名"})
    published.name = "偷偷改名"
    with pytest.raises(PermissionError):
        published.save()


def test_diff_between_versions_names_the_changed_fields(published, admin_a):
    draft = services.start_revision(admin_a, published.item)
    draft = services.update_draft(admin_a, draft, data={"promised_limit_days": 5, "conditions": "新的受理条件"},
                          materials=factories.materials("食品经营许可申请书"))
    changes = {c["field"]: c for c in services.diff_versions(published, draft)}
    assert set(changes) == {"promised_limit_days", "conditions", "materials"}
    assert changes["promised_limit_days"]["old"] == "10" and changes["promised_limit_days"]["new"] == "5"
    assert changes["promised_limit_days"]["label"] == "承诺办结时限（工作日）"
    assert "营业执照" in changes["materials"]["old"] and "营业执照" not in changes["materials"]["new"]


def test_stale_edit_is_refused_as_a_conflict(org_a, admin_a, admin_a2):
    v = _draft(org_a, admin_a)
    seen = v.lock_version
    services.update_draft(admin_a2, v, data={"hours": "工作日全天"}, expected_lock=seen)
    with pytest.raises(Conflict):
        services.update_draft(admin_a, v, data={"hours": "周一至周五"}, expected_lock=seen)
    v.refresh_from_db()
    assert v.hours == "工作日全天"


def test_second_publisher_of_the_same_version_gets_a_conflict(org_a, admin_a, admin_a2):
    v = services.review_version(admin_a2, services.submit_version(admin_a, _draft(org_a, admin_a)), approve=True)
    stale_copy = ItemVersion.objects.get(pk=v.pk)
    services.publish_version(admin_a2, v)
    with pytest.raises(StateError):
        services.publish_version(admin_a, stale_copy)
    assert AuditEntry.objects.filter(action="catalog.version.publish").count() == 1


@pytest.mark.django_db(transaction=True)
def test_simultaneous_publishes_one_wins(org_a, admin_a, admin_a2):
    if connection.vendor != "postgresql":
        pytest.skip("threads sharing the in-memory SQLite test database cannot run truly at once")
    v = services.review_version(admin_a2, services.submit_version(admin_a, _draft(org_a, admin_a)), approve=True)
    barrier, outcomes = threading.Barrier(2), []

    def publish(user):
        try:
            barrier.wait()
            services.publish_version(user, ItemVersion.objects.get(pk=v.pk))
            outcomes.append("ok")
        except StateError:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=publish, args=(u,)) for u in (admin_a, admin_a2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "ok"]


def test_retired_item_leaves_search_and_cannot_be_revised(published, admin_a):
    services.retire_item(admin_a, published.item, reason="法律依据已废止")
    assert not search.search("食品经营许可").exists()
    with pytest.raises(StateError):
        services.start_revision(admin_a, published.item)
    assert ServiceItem.objects.get(pk=published.item_id).state == ServiceItem.State.RETIRED


def test_admin_of_another_department_cannot_touch_the_item(published, admin_b):
    with pytest.raises(NotPermitted):
        services.start_revision(admin_b, published.item)
    with pytest.raises(NotFound):
        services.get_item_for(admin_b, published.item.implementation_code)
    with pytest.raises(NotPermitted):
        services.retire_item(admin_b, published.item, reason="越权")


def test_platform_admin_may_manage_any_department(published, platform_admin):
    assert services.get_item_for(platform_admin, published.item.implementation_code) == published.item


@pytest.mark.parametrize("overrides, field", [
    ({"name": ""}, "name"),
    ({"name": "长" * 201}, "name"),
    ({"promised_limit_days": 30}, "promised_limit_days"),
    ({"service_objects": []}, "service_objects"),
    ({"service_objects": ["7"]}, "service_objects"),
    ({"item_type": "99"}, "item_type"),
    ({"online_depth": ["1", "x"]}, "online_depth"),
    ({"charges_fee": True, "fee_standard": ""}, "fee_standard"),
])
def test_bad_elements_are_refused_per_field_and_nothing_is_written(org_a, admin_a, overrides, field):
    with pytest.raises(ValidationFailed) as err:
        _draft(org_a, admin_a, **overrides)
    assert field in err.value.fields
    message = err.value.fields[field][0]
    assert " / " in message or message.isascii() is False
    assert ServiceItem.objects.count() == 0 and ItemVersion.objects.count() == 0
    assert AuditEntry.objects.count() == 0


def test_optional_material_needs_its_condition(org_a, admin_a):
    mats = factories.materials("申请书")
    mats[0].update(required=False, condition="")
    with pytest.raises(ValidationFailed) as err:
        services.create_item(admin_a, organization=org_a, data=factories.item_data(), materials=mats)
    assert "materials[0].condition" in err.value.fields


def test_submitting_without_materials_is_refused(org_a, admin_a):
    v = services.create_item(admin_a, organization=org_a, data=factories.item_data(), materials=[])
    with pytest.raises(ValidationFailed):
        services.submit_version(admin_a, v)
