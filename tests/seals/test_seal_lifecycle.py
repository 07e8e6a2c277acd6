"""The seal lifecycle: every step audited with who/when/why; illegal steps refused; authorisations."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests import factories
from tests.seals.conftest import make_active_seal
from yiwang.core.errors import NotPermitted, StateError, ValidationFailed
from yiwang.core.models import AuditEntry
from yiwang.identity.models import Role
from yiwang.seals import ca, keystore, services
from yiwang.seals.models import Seal, SealEvent

pytestmark = pytest.mark.django_db


def test_full_lifecycle_records_every_transition(org_admin_a, org_a):
    seal = make_active_seal(org_admin_a, org_a, "official")
    assert seal.state == Seal.State.ACTIVE and seal.name == "临江市市场监督管理局公章"
    assert len(seal.code) == 13 and seal.code.startswith("390100")
    events = list(SealEvent.objects.filter(seal=seal).values_list("action", "from_state", "to_state", "actor"))
    assert events == [
        ("apply", "", "applied", "user:orgadmin_a"), ("review", "applied", "reviewed", "user:orgadmin_a"),
        ("produce", "reviewed", "produced", "user:orgadmin_a"), ("file", "produced", "filed", "user:orgadmin_a"),
        ("activate", "filed", "active", "user:orgadmin_a")]
    audited = list(AuditEntry.objects.filter(object_type="seals.Seal", object_id=seal.code)
                   .order_by("seq").values_list("action", flat=True))
    assert audited == ["seals.seal_apply", "seals.seal_review", "seals.seal_produce", "seals.seal_file",
                       "seals.seal_activate"]

    seal = services.suspend_seal(org_admin_a, seal, reason="印章挂失")
    assert seal.state == Seal.State.SUSPENDED
    seal = services.activate_seal(org_admin_a, seal, reason="找回")
    assert seal.state == Seal.State.ACTIVE
    seal = services.revoke_seal(org_admin_a, seal, reason="机构撤销")
    assert seal.state == Seal.State.REVOKED and seal.private_key_encrypted == ""
    assert SealEvent.objects.filter(seal=seal, action="revoke", reason="机构撤销").exists()


@pytest.mark.parametrize("step", ["produce_seal", "file_seal", "activate_seal"])
def test_skipping_a_step_is_a_state_error(org_admin_a, org_a, step):
    seal = services.apply_for_seal(org_admin_a, org_a, "contract", reason="合同")
    with pytest.raises(StateError) as raised:
        getattr(services, step)(org_admin_a, seal)
    assert "不能" in raised.value.message


def test_revoked_is_final(org_admin_a, org_a):
    seal = make_active_seal(org_admin_a, org_a)
    seal = services.revoke_seal(org_admin_a, seal, reason="作废")
    for step in (services.activate_seal, services.file_seal):
        with pytest.raises(StateError):
            step(org_admin_a, seal)
    with pytest.raises(StateError):
        services.suspend_seal(org_admin_a, seal, reason="x")
    with pytest.raises(StateError):
        services.renew_seal_certificate(org_admin_a, seal)


def test_rejection_needs_a_reason_and_ends_the_application(org_admin_a, org_a):
    seal = services.apply_for_seal(org_admin_a, org_a, "finance", reason="财务")
    with pytest.raises(ValidationFailed) as raised:
        services.review_seal(org_admin_a, seal, approve=False, reason=" ")
    assert "reason" in raised.value.fields
    seal = services.review_seal(org_admin_a, seal, approve=False, reason="无此业务")
    assert seal.state == Seal.State.REJECTED
    with pytest.raises(StateError):
        services.produce_seal(org_admin_a, seal)


def test_suspending_and_revoking_need_a_reason(org_admin_a, org_a):
    seal = make_active_seal(org_admin_a, org_a)
    with pytest.raises(ValidationFailed):
        services.suspend_seal(org_admin_a, seal, reason="")
    with pytest.raises(ValidationFailed):
        services.revoke_seal(org_admin_a, seal, reason="")


def test_unknown_seal_type_is_refused(org_admin_a, org_a):
    with pytest.raises(ValidationFailed) as raised:
        services.apply_for_seal(org_admin_a, org_a, "personal")
    assert "seal_type" in raised.value.fields


def test_production_makes_an_encrypted_key_a_certificate_and_the_image(org_admin_a, org_a):
    seal = make_active_seal(org_admin_a, org_a)
    assert seal.private_key_encrypted.startswith("kek1.")
    key = keystore.p256_private(keystore.open_private(seal.private_key_encrypted, f"seal:{seal.code}"))
    cert = ca.certificate(seal.certificate_pem)
    assert keystore.p256_point_hex(cert.public_key()) == seal.public_point == keystore.p256_point_hex(key.public_key())
    assert cert.issuer == ca.certificate(ca.issuing()).subject
    assert "临江市市场监督管理局" in cert.subject.rfc4514_string()
    image = Image.open(io.BytesIO(bytes(seal.image_png)))
    assert image.format == "PNG" and image.size[0] == image.size[1] >= 300
    r, g, b, a = image.getpixel((image.size[0] // 2, image.size[1] // 2))  # the star's centre is red
    assert r > 180 and g < 90 and b < 90 and a > 200


def test_other_organisations_admin_cannot_manage_the_seal(org_admin_a, org_admin_b, org_a):
    seal = services.apply_for_seal(org_admin_a, org_a, "business", reason="业务")
    with pytest.raises(NotPermitted):
        services.review_seal(org_admin_b, seal)


def test_staff_apply_only_for_authorised_seal_types(org_admin_a, clerk_a, org_a):
    with pytest.raises(NotPermitted):
        services.apply_for_seal(clerk_a, org_a, "approval", reason="审批")
    services.authorize_role(org_admin_a, org_a, "approval", Role.CLERK)
    seal = services.apply_for_seal(clerk_a, org_a, "approval", reason="审批")
    assert seal.applied_by == "user:clerk_a"
    with pytest.raises(NotPermitted):  # only the authorised type
        services.apply_for_seal(clerk_a, org_a, "official", reason="x")
    with pytest.raises(NotPermitted):  # applying is not reviewing
        services.review_seal(clerk_a, seal)
    assert AuditEntry.objects.filter(action="seals.authorization_granted").exists()


def test_only_admins_authorise_and_platform_role_cannot_be_granted(org_admin_a, clerk_a, org_a, org_b):
    with pytest.raises(NotPermitted):
        services.authorize_role(clerk_a, org_a, "approval", Role.CLERK)
    with pytest.raises(NotPermitted):
        services.authorize_role(org_admin_a, org_b, "approval", Role.CLERK)
    with pytest.raises(ValidationFailed):
        services.authorize_role(org_admin_a, org_a, "approval", Role.PLATFORM_ADMIN)


def test_platform_admin_manages_any_organisations_seals(platform_admin, org_b):
    seal = make_active_seal(platform_admin, org_b, "official")
    assert seal.state == Seal.State.ACTIVE


def test_document_seal_prefers_approval_seal_then_official(org_admin_a, org_a):
    official = make_active_seal(org_admin_a, org_a, "official")
    assert services.seal_for_documents(org_a) == official
    approval = make_active_seal(org_admin_a, org_a, "approval")
    assert services.seal_for_documents(org_a) == approval
    services.suspend_seal(org_admin_a, approval, reason="挂失")
    assert services.seal_for_documents(org_a) == official


def test_document_seal_is_provisioned_once_by_the_system(org_b):
    seal = services.seal_for_documents(org_b)
    assert seal.seal_type == Seal.Type.APPROVAL and seal.state == Seal.State.ACTIVE
    assert services.seal_for_documents(org_b) == seal
    assert Seal.objects.filter(organization=org_b).count() == 1
    assert set(AuditEntry.objects.filter(object_id=seal.code).values_list("actor", flat=True)) == {"system"}


def test_provision_demo_seals_gives_each_staffed_organisation_two_seals_idempotently(org_admin_a, org_a, org_b):
    services.provision_demo_seals()
    services.provision_demo_seals()
    types = sorted(Seal.objects.filter(organization=org_a, state="active").values_list("seal_type", flat=True))
    assert types == ["approval", "official"]
    assert not Seal.objects.filter(organization=org_b).exists()  # no staff: its seal comes with its first document


def test_seal_codes_are_unique_and_sequential(org_admin_a, org_a):
    first = services.apply_for_seal(org_admin_a, org_a, "business", reason="一")
    second = services.apply_for_seal(org_admin_a, org_a, "business", reason="二")
    assert int(second.code) == int(first.code) + 1


def test_ca_is_created_once_and_the_chain_is_sound(org_admin_a, org_a):
    make_active_seal(org_admin_a, org_a)
    make_active_seal(org_admin_a, org_a, "official")
    from yiwang.seals.models import AuthorityKey

    assert AuthorityKey.objects.filter(state="active").count() == 2
    root, issuing = ca.certificate(ca.root()), ca.certificate(ca.issuing())
    issuing.verify_directly_issued_by(root)
    from cryptography import x509

    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert issuing.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0


def test_ca_info_command_prints_the_chain(capsys):
    from django.core.management import call_command

    call_command("seal", "ca-info", "--pem")
    out = capsys.readouterr().out
    assert "根 CA" in out and "签发 CA" in out and "BEGIN CERTIFICATE" in out and "SHA-256" in out


def test_root_certificate_is_downloadable(client):
    response = client.get("/.well-known/yiwang-root-ca.pem")
    assert response.status_code == 200 and b"BEGIN CERTIFICATE" in response.content
    assert response.content.decode() == ca.root().certificate_pem


def test_long_organisation_names_fit_the_certificate_and_the_pdf_names_the_full_seal(city):
    from tests.seals.conftest import simple_pdf
    from yiwang.seals import pdfsign

    org = factories.organization("临江市滨江区经济技术开发区管理委员会行政审批服务局", city["district"], "0150")
    seal = services.seal_for_documents(org)
    cert = ca.certificate(seal.certificate_pem)
    assert seal.name == "临江市滨江区经济技术开发区管理委员会行政审批服务局行政审批专用章"
    assert all(len(a.value.encode()) <= 64 for a in cert.subject)
    (report,) = pdfsign.verify_pdf(pdfsign.sign_pdf(simple_pdf(), seal=seal, reason="x"))
    assert report.ok and report.seal_name == seal.name and report.organization == org.name


def test_document_seal_with_an_expired_certificate_is_renewed_not_replaced(org_admin_a, org_a):
    import datetime as dt

    from django.utils import timezone

    official = make_active_seal(org_admin_a, org_a, "official")
    Seal.objects.filter(pk=official.pk).update(certificate_not_after=timezone.now() - dt.timedelta(days=1))
    seal = services.seal_for_documents(org_a)
    assert seal.pk == official.pk and seal.certificate_not_after > timezone.now()
    assert Seal.objects.filter(organization=org_a).count() == 1
    renewal = SealEvent.objects.get(seal=seal, action="renew")
    assert renewal.actor == "system" and "自动续期" in renewal.reason
