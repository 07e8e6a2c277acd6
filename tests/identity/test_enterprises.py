"""Enterprises, their agents, and acting for an enterprise (who acted for whom)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.identity.helpers_levels import citizen, enterprise_of, legal_record
from yiwang.core.errors import Conflict, NotPermitted, StateError, ValidationFailed
from yiwang.core.models import AuditEntry
from yiwang.core.validators import make_uscc
from yiwang.identity import services_enterprise as se
from yiwang.identity.models import AgentAuthorization, Enterprise

pytestmark = pytest.mark.django_db


def today() -> dt.date:
    return timezone.localdate()


@pytest.fixture
def boss():
    return citizen("boss", "赵大勇", level=2)


@pytest.fixture
def agent():
    return citizen("clerkette", "钱小芳", level=2)


@pytest.fixture
def firm(boss):
    return enterprise_of(boss, "临江市青禾餐饮有限公司")


def authorise(boss, firm, agent, **kw):
    kw.setdefault("valid_until", today() + dt.timedelta(days=30))
    return se.authorise_agent(boss, firm, agent.mobile, **kw)


# ----------------------------------------------------------------------------- registration
def test_the_legal_representative_registers_the_enterprise_from_the_registry(boss):
    record = legal_record(boss, name="临江市青禾餐饮有限公司")

    enterprise = se.register_enterprise(boss, record.uscc.lower())

    assert enterprise.uscc == record.uscc
    assert enterprise.name == "临江市青禾餐饮有限公司"
    assert enterprise.legal_representative == boss
    entry = AuditEntry.objects.get(action="identity.enterprise.register")
    assert entry.object_id == record.uscc


def test_a_credit_code_with_a_wrong_check_character_is_refused(boss):
    record = legal_record(boss)
    bad = record.uscc[:-1] + ("0" if record.uscc[-1] != "0" else "1")

    with pytest.raises(ValidationFailed) as exc:
        se.register_enterprise(boss, bad)

    assert "校验" in exc.value.fields["uscc"][0]
    assert not Enterprise.objects.exists()


def test_a_credit_code_unknown_to_the_registry_is_refused(boss):
    with pytest.raises(ValidationFailed) as exc:
        se.register_enterprise(boss, make_uscc("9", "1", "390102", "MA999999"))

    assert "法人基础库中没有" in exc.value.message
    assert not Enterprise.objects.exists()


def test_an_enterprise_no_longer_active_cannot_be_registered(boss):
    record = legal_record(boss, active=False)

    with pytest.raises(ValidationFailed):
        se.register_enterprise(boss, record.uscc)
    assert not Enterprise.objects.exists()


def test_someone_who_is_not_the_legal_representative_cannot_register_it(boss, agent):
    record = legal_record(boss)

    with pytest.raises(NotPermitted) as exc:
        se.register_enterprise(agent, record.uscc)

    assert "法定代表人" in exc.value.message
    assert not Enterprise.objects.exists()


def test_the_same_id_number_under_another_name_is_not_the_legal_representative(boss):
    record = legal_record(None, rep_name="赵大永", rep_id_number=boss.id_number)

    with pytest.raises(NotPermitted):
        se.register_enterprise(boss, record.uscc)


def test_an_l1_person_cannot_register_an_enterprise():
    person = citizen("newbie", "孙一", level=1)
    record = legal_record(person)

    with pytest.raises(NotPermitted) as exc:
        se.register_enterprise(person, record.uscc)

    assert "L2" in exc.value.message
    assert not Enterprise.objects.exists()


def test_an_enterprise_is_registered_once(boss, firm):
    with pytest.raises(Conflict):
        se.register_enterprise(boss, firm.uscc)
    assert Enterprise.objects.count() == 1


# ----------------------------------------------------------------------------- agents
def test_the_legal_representative_authorises_a_registered_verified_agent(boss, firm, agent):
    grant = authorise(boss, firm, agent)

    assert grant.agent == agent and grant.all_items and grant.valid_from == today()
    assert se.can_act_for(agent, firm)
    entry = AuditEntry.objects.get(action="identity.agent.authorise")
    assert entry.detail["agent"] == "钱**" and agent.mobile not in str(entry.detail)


def test_an_agent_can_be_found_by_id_number_too(boss, firm, agent):
    grant = se.authorise_agent(boss, firm, agent.id_number, valid_until=today() + dt.timedelta(days=1))
    assert grant.agent == agent


def test_only_the_legal_representative_authorises_agents(boss, firm, agent):
    other = citizen("other", "李雷", level=2)

    with pytest.raises(NotPermitted):
        authorise(agent, firm, other)
    assert not AgentAuthorization.objects.exists()


def test_an_unregistered_or_l1_agent_is_refused(boss, firm):
    newbie = citizen("newbie", "孙一", level=1)

    with pytest.raises(ValidationFailed) as exc:
        se.authorise_agent(boss, firm, "13900000000", valid_until=today() + dt.timedelta(days=5))
    assert exc.value.fields["agent"]
    with pytest.raises(ValidationFailed) as exc:
        authorise(boss, firm, newbie)
    assert "L2" in exc.value.fields["agent"][0]
    assert not AgentAuthorization.objects.exists()


@pytest.mark.parametrize(("start", "end", "field"), [
    (-1, 10, "valid_from"),                    # starts in the past
    (0, -1, "valid_until"),                    # ends before it starts
    (0, 3 * 366 + 1, "valid_until"),           # longer than three years
])
def test_validity_is_at_most_three_years_and_not_in_the_past(boss, firm, agent, start, end, field):
    with pytest.raises(ValidationFailed) as exc:
        authorise(boss, firm, agent, valid_from=today() + dt.timedelta(days=start),
                  valid_until=today() + dt.timedelta(days=end))
    assert field in exc.value.fields
    assert not AgentAuthorization.objects.exists()


def test_exactly_three_years_is_allowed(boss, firm, agent):
    start = today()
    end = se._years_later(start, 3)
    assert authorise(boss, firm, agent, valid_from=start, valid_until=end).valid_until == end


def test_an_agent_holds_one_current_authorisation_per_enterprise(boss, firm, agent):
    authorise(boss, firm, agent)
    with pytest.raises(Conflict):
        authorise(boss, firm, agent)


def test_an_authorisation_for_some_items_covers_only_those(boss, firm, agent, published, org_a, admin_a, admin_a2):
    from tests import factories

    other = factories.published_item(org_a, admin_a, admin_a2, name="食品生产许可")
    code = published.item.implementation_code

    authorise(boss, firm, agent, all_items=False, item_codes=[code])

    assert se.can_act_for(agent, firm, published.item)
    assert se.can_act_for(agent, firm, published)
    assert se.can_act_for(agent, firm, code)
    assert not se.can_act_for(agent, firm, other.item)
    assert se.can_act_for(boss, firm, other.item)  # the legal representative may do anything


def test_item_scope_needs_existing_items(boss, firm, agent):
    with pytest.raises(ValidationFailed) as exc:
        authorise(boss, firm, agent, all_items=False, item_codes=[])
    assert exc.value.fields["items"]
    with pytest.raises(ValidationFailed) as exc:
        authorise(boss, firm, agent, all_items=False, item_codes=["X" * 31])
    assert "X" * 31 in exc.value.fields["items"][0]
    assert not AgentAuthorization.objects.exists()


def test_an_authorisation_ends_after_its_last_day(boss, firm, agent):
    grant = authorise(boss, firm, agent, valid_until=today() + dt.timedelta(days=2))

    assert se.can_act_for(agent, firm, today=grant.valid_until)
    assert not se.can_act_for(agent, firm, today=grant.valid_until + dt.timedelta(days=1))
    assert firm not in [c.enterprise for c in se.acting_choices(agent, today=grant.valid_until + dt.timedelta(days=1))]


def test_an_authorisation_starting_later_does_not_count_yet(boss, firm, agent):
    authorise(boss, firm, agent, valid_from=today() + dt.timedelta(days=3))
    assert not se.can_act_for(agent, firm)


def test_revoking_ends_the_agents_right_at_once(boss, firm, agent):
    grant = authorise(boss, firm, agent)

    se.revoke_agent(boss, grant)

    assert not se.can_act_for(agent, firm)
    assert AuditEntry.objects.filter(action="identity.agent.revoke", object_id=str(grant.pk)).exists()
    with pytest.raises(StateError):
        se.revoke_agent(boss, grant)


def test_only_the_legal_representative_revokes(boss, firm, agent):
    grant = authorise(boss, firm, agent)
    with pytest.raises(NotPermitted):
        se.revoke_agent(agent, grant)
    grant.refresh_from_db()
    assert grant.revoked_at is None


def test_an_agent_of_one_enterprise_cannot_act_for_another(boss, firm, agent):
    other_boss = citizen("boss2", "孙二娘", level=2)
    other_firm = enterprise_of(other_boss, "临江市十字坡酒店有限公司")
    authorise(boss, firm, agent)

    assert se.can_act_for(agent, firm)
    assert not se.can_act_for(agent, other_firm)
    assert not se.can_act_for(boss, other_firm)
    assert [c.uscc for c in se.acting_choices(agent)] == ["", firm.uscc]


def test_acting_choices_list_oneself_held_enterprises_and_agencies(boss, firm, agent):
    other_boss = citizen("boss2", "孙二娘", level=2)
    other_firm = enterprise_of(other_boss, "临江市十字坡酒店有限公司")
    se.authorise_agent(other_boss, other_firm, boss.mobile, valid_until=today() + dt.timedelta(days=9))

    choices = se.acting_choices(boss)

    assert [(c.uscc, c.role) for c in choices] == [("", "本人"), (firm.uscc, "法定代表人"),
                                                   (other_firm.uscc, "经办人")]


# ----------------------------------------------------------------------------- acting (session + middleware)
def test_switching_to_an_enterprise_is_audited_on_its_behalf_and_so_is_every_later_write(client, boss, firm, agent):
    client.force_login(boss.user)

    response = client.post("/account/acting/", {"uscc": firm.uscc})

    assert response.status_code == 302
    assert client.session["acting_for"] == firm.uscc
    switch = AuditEntry.objects.filter(action="identity.acting.switch").get()
    assert switch.on_behalf_of == f"enterprise:{firm.uscc}"
    assert switch.actor == "user:boss"

    # a later write while acting for the enterprise records who acted for whom
    response = client.post(f"/account/enterprises/{firm.uscc}/", {
        "agent": agent.mobile, "scope": "all", "valid_from": today().isoformat(),
        "valid_until": (today() + dt.timedelta(days=10)).isoformat()})
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="identity.agent.authorise")
    assert (entry.actor, entry.on_behalf_of) == ("user:boss", f"enterprise:{firm.uscc}")


def test_switching_back_to_oneself_clears_the_acting_party(client, boss, firm):
    client.force_login(boss.user)
    client.post("/account/acting/", {"uscc": firm.uscc})

    client.post("/account/acting/", {"uscc": ""})

    assert "acting_for" not in client.session
    last = AuditEntry.objects.filter(action="identity.acting.switch").order_by("-seq").first()
    assert last.on_behalf_of == "" and last.detail == {"from": firm.uscc, "to": "self"}


def test_the_header_says_for_whom_the_person_acts(client, boss, firm):
    client.force_login(boss.user)
    client.post("/account/acting/", {"uscc": firm.uscc})

    page = client.get("/").content.decode()

    assert f"以 {firm.name} 身份办理" in page


def test_switching_to_an_enterprise_one_may_not_act_for_is_403(client, boss, firm, agent):
    client.force_login(agent.user)

    response = client.post("/account/acting/", {"uscc": firm.uscc})

    assert response.status_code == 403
    assert "acting_for" not in client.session
    assert not AuditEntry.objects.filter(action="identity.acting.switch").exists()


def test_after_revocation_the_agent_no_longer_acts_and_the_session_is_cleared(client, boss, firm, agent):
    grant = authorise(boss, firm, agent)
    client.force_login(agent.user)
    client.post("/account/acting/", {"uscc": firm.uscc})
    assert client.session["acting_for"] == firm.uscc

    se.revoke_agent(boss, grant)
    response = client.get("/account/")

    assert response.wsgi_request.acting is None
    assert "acting_for" not in client.session
    assert f"以 {firm.name} 身份办理" not in response.content.decode()
    assert client.post("/account/acting/", {"uscc": firm.uscc}).status_code == 403


def test_an_expired_authorisation_ends_acting_on_the_next_request(client, boss, firm, agent):
    grant = authorise(boss, firm, agent)
    client.force_login(agent.user)
    client.post("/account/acting/", {"uscc": firm.uscc})

    # time passes: the authorisation's last day was yesterday
    AgentAuthorization.objects.filter(pk=grant.pk).update(valid_from=today() - dt.timedelta(days=30),
                                                          valid_until=today() - dt.timedelta(days=1))
    response = client.get("/account/")

    assert response.wsgi_request.acting is None
    assert "acting_for" not in client.session


def test_a_forged_session_value_for_another_enterprise_is_ignored(client, boss, firm, agent):
    other_boss = citizen("boss2", "孙二娘", level=2)
    other_firm = enterprise_of(other_boss, "临江市十字坡酒店有限公司")
    authorise(boss, firm, agent)
    client.force_login(agent.user)
    session = client.session
    session["acting_for"] = other_firm.uscc
    session.save()

    response = client.get("/account/")

    assert response.wsgi_request.acting is None
    assert "acting_for" not in client.session


def test_id_numbers_never_reach_the_enterprise_audit_entries(boss, firm, agent):
    authorise(boss, firm, agent)
    text = " ".join(str(e.detail) for e in AuditEntry.objects.all())
    for value in (boss.id_number, agent.id_number, agent.mobile, boss.mobile):
        assert value not in text
