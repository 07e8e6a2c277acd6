"""Assurance levels: L2 by matching the population registry, L3 in person by a window clerk."""

from __future__ import annotations

import pytest

from tests import factories
from tests.identity.helpers_levels import citizen, clerk_for_tests, new_id_number
from yiwang.core.errors import NotPermitted, StateError, ValidationFailed
from yiwang.core.models import AuditEntry
from yiwang.identity import services_levels
from yiwang.identity.models import AssuranceLevel, Person, PopulationRecord, Role

pytestmark = pytest.mark.django_db


def staff_client(client, user):
    client.force_login(user)
    session = client.session
    session["2fa_ok"] = True
    session.save()
    return client


# ----------------------------------------------------------------------------- L2
def test_matching_name_and_id_number_raise_the_person_to_l2_with_an_audit_entry():
    person = citizen("wang", "王小明")

    services_levels.raise_to_l2(person, "王小明", person.id_number.lower())

    person.refresh_from_db()
    assert person.assurance_level == AssuranceLevel.L2
    assert person.level_changed_at is not None
    entry = AuditEntry.objects.filter(action="identity.level.change", object_id=str(person.pk)).get()
    assert entry.detail["from"] == 1 and entry.detail["to"] == 2
    assert person.id_number not in str(entry.detail)


def test_a_name_that_differs_from_the_registry_changes_nothing():
    person = citizen("wang", "王小明")

    with pytest.raises(ValidationFailed) as exc:
        services_levels.raise_to_l2(person, "王晓明", person.id_number)

    assert "与人口基础库信息不一致" in exc.value.message
    person.refresh_from_db()
    assert person.assurance_level == AssuranceLevel.L1
    assert person.level_changed_at is None
    assert not AuditEntry.objects.filter(action="identity.level.change").exists()
    assert AuditEntry.objects.filter(action="identity.level.refused", object_id=str(person.pk)).exists()


def test_a_person_missing_from_the_registry_stays_at_l1():
    person = citizen("ghost", "李四", in_registry=False)

    with pytest.raises(ValidationFailed) as exc:
        services_levels.raise_to_l2(person, "李四", person.id_number)

    assert "与人口基础库信息不一致" in exc.value.message
    person.refresh_from_db()
    assert person.assurance_level == AssuranceLevel.L1


def test_only_ones_own_registered_id_number_can_be_verified():
    person = citizen("wang", "王小明")
    other = new_id_number()
    PopulationRecord.objects.create(name="王小明", id_number=other)

    with pytest.raises(ValidationFailed) as exc:
        services_levels.raise_to_l2(person, "王小明", other)

    assert "id_number" in exc.value.fields
    person.refresh_from_db()
    assert person.assurance_level == AssuranceLevel.L1


def test_an_invalid_id_number_is_refused_with_a_field_message():
    person = citizen("wang", "王小明")

    with pytest.raises(ValidationFailed) as exc:
        services_levels.raise_to_l2(person, "王小明", "390102198001011234")

    assert exc.value.fields["id_number"]


def test_a_deceased_persons_record_cannot_be_verified():
    person = citizen("late", "周大福", alive=False)

    with pytest.raises(NotPermitted):
        services_levels.raise_to_l2(person, "周大福", person.id_number)

    person.refresh_from_db()
    assert person.assurance_level == AssuranceLevel.L1


def test_the_registry_name_corrects_a_name_typed_with_spaces_at_registration():
    person = citizen("wang", "王小明")
    Person.objects.filter(pk=person.pk).update(name="王 小明")
    person.refresh_from_db()

    services_levels.raise_to_l2(person, "王小明", person.id_number)

    person.refresh_from_db()
    assert person.name == "王小明"
    assert person.assurance_level == AssuranceLevel.L2


def test_raising_twice_is_refused_as_already_verified():
    person = citizen("wang", "王小明", level=2)

    with pytest.raises(StateError):
        services_levels.raise_to_l2(person, "王小明", person.id_number)


# ----------------------------------------------------------------------------- L3
def test_a_clerk_who_retypes_the_card_number_confirms_the_person_at_l3():
    person = citizen("wang", "王小明", level=2)
    clerk = clerk_for_tests()

    services_levels.confirm_in_person_l3(clerk, person, person.id_number)

    person.refresh_from_db()
    assert person.assurance_level == AssuranceLevel.L3
    assert person.verified_in_person_by == clerk
    entry = AuditEntry.objects.filter(action="identity.level.change").order_by("-seq").first()
    assert (entry.detail["from"], entry.detail["to"], entry.detail["method"]) == (2, 3, "in_person")
    assert entry.actor == "system" or entry.actor.startswith("user:")


def test_a_wrong_card_number_does_not_confirm():
    person = citizen("wang", "王小明", level=2)

    with pytest.raises(ValidationFailed) as exc:
        services_levels.confirm_in_person_l3(clerk_for_tests(), person, new_id_number())

    assert exc.value.fields["id_number_checked"]
    person.refresh_from_db()
    assert person.assurance_level == AssuranceLevel.L2


def test_only_a_window_clerk_may_confirm_in_person(org_a):
    person = citizen("wang", "王小明", level=2)
    reviewer = factories.staff("reviewer_a", org_a, Role.REVIEWER)

    with pytest.raises(NotPermitted):
        services_levels.confirm_in_person_l3(reviewer, person, person.id_number)
    with pytest.raises(NotPermitted):
        services_levels.confirm_in_person_l3(citizen("other", "赵六", level=2).user, person, person.id_number)

    person.refresh_from_db()
    assert person.assurance_level == AssuranceLevel.L2


def test_an_l1_person_must_reach_l2_before_confirmation_in_person():
    person = citizen("wang", "王小明")

    with pytest.raises(StateError):
        services_levels.confirm_in_person_l3(clerk_for_tests(), person, person.id_number)

    person.refresh_from_db()
    assert person.assurance_level == AssuranceLevel.L1


# ----------------------------------------------------------------------------- clerk page
def test_a_clerk_finds_a_person_by_id_number_and_sees_only_the_masked_record(client):
    person = citizen("wang", "王小明", level=2)
    staff_client(client, clerk_for_tests())

    response = client.post("/office/identity/verify/", {"action": "search", "id_number": person.id_number})

    page = response.content.decode()
    assert response.status_code == 200
    assert "王**" in page and "L2 已实名核验" in page
    assert person.id_number[:6] + "********" + person.id_number[-4:] in page
    assert person.mobile not in page and "王小明" not in page
    assert AuditEntry.objects.filter(action="identity.person.lookup", object_id=str(person.pk)).exists()


def test_a_clerk_confirms_l3_on_the_page(client):
    person = citizen("wang", "王小明", level=2)
    staff_client(client, clerk_for_tests())

    response = client.post("/office/identity/verify/", {"action": "confirm", "subject": str(person.subject),
                                                       "id_number_checked": person.id_number})

    assert response.status_code == 302
    person.refresh_from_db()
    assert person.assurance_level == AssuranceLevel.L3


def test_the_page_refuses_a_card_number_that_does_not_match(client):
    person = citizen("wang", "王小明", level=2)
    staff_client(client, clerk_for_tests())

    response = client.post("/office/identity/verify/", {"action": "confirm", "subject": str(person.subject),
                                                       "id_number_checked": new_id_number()})

    assert response.status_code == 400
    assert "不一致" in response.content.decode()
    person.refresh_from_db()
    assert person.assurance_level == AssuranceLevel.L2


def test_an_unknown_id_number_says_no_account_was_found(client):
    staff_client(client, clerk_for_tests())

    response = client.post("/office/identity/verify/", {"action": "search", "id_number": new_id_number()})

    assert response.status_code == 200
    assert "没有找到" in response.content.decode()


def test_an_invalid_id_number_on_the_clerk_page_is_a_400_with_the_reason(client):
    staff_client(client, clerk_for_tests())

    response = client.post("/office/identity/verify/", {"action": "search", "id_number": "12345"})

    assert response.status_code == 400
    assert "18位" in response.content.decode()


def test_staff_who_are_not_clerks_get_403_on_the_clerk_page(client, org_a):
    reviewer = factories.staff("reviewer_a", org_a, Role.REVIEWER)
    staff_client(client, reviewer)

    assert client.get("/office/identity/verify/").status_code == 403
    assert client.post("/office/identity/verify/", {"action": "search", "id_number": new_id_number()}).status_code == 403


def test_citizens_get_403_and_anonymous_visitors_go_to_login_on_the_clerk_page(client):
    person = citizen("wang", "王小明", level=2)

    assert client.get("/office/identity/verify/").status_code == 302
    client.force_login(person.user)
    assert client.get("/office/identity/verify/").status_code == 403


# ----------------------------------------------------------------------------- what the portal asks
def test_level_sufficient_compares_the_persons_level_with_the_items_minimum(published, client):
    person = citizen("wang", "王小明")
    published.min_assurance_level = 2

    assert not services_levels.level_sufficient(person.user, published)
    services_levels.raise_to_l2(person, "王小明", person.id_number)
    person.user.refresh_from_db()
    assert services_levels.level_sufficient(Person.objects.get(pk=person.pk).user, published)
    assert not services_levels.level_sufficient(clerk_for_tests(), published)
