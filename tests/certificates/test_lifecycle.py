"""Lifecycle: change and reissue make new versions (the old one stops being valid), suspend and
resume, revoke / withdraw / cancel, the expiry sweep — each with a reason, an audit entry and an
event; two staff acting at once: one wins, the other gets a conflict."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import close_old_connections, connection

from yiwang.certificates import identifiers, payload, services, tasks
from yiwang.certificates.models import Certificate, CertificateEvent, Status
from yiwang.core import jobs
from yiwang.core.errors import Conflict, NotPermitted, StateError, ValidationFailed
from yiwang.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def kinds(cert) -> list[str]:
    return list(CertificateEvent.objects.filter(certificate=cert).values_list("kind", flat=True))


def test_a_change_makes_a_new_version_and_supersedes_the_old(certificate, approver):
    new = services.change(approver, certificate, data={"grade": "三级"}, reason="重新评定残疾等级",
                          lock_version=certificate.lock_version)
    certificate.refresh_from_db()
    assert new.version == 2 and new.previous == certificate and new.serial == certificate.serial
    assert new.number == certificate.number and new.data["grade"] == "三级" and new.data["kind"] == "肢体残疾"
    assert identifiers.parse(new.identifier).version == 2 and new.identifier != certificate.identifier
    assert new.pdf_sha256 != certificate.pdf_sha256 and new.qr_payload != certificate.qr_payload
    assert certificate.status == Status.EXPIRED and certificate.superseded
    assert kinds(certificate) == ["issued", "superseded"] and kinds(new) == ["changed"]
    old = services.verify(qr=certificate.qr_payload)
    assert old.outcome == payload.Outcome.EXPIRED and "第 2 版" in old.reason
    assert services.verify(qr=new.qr_payload).outcome == payload.Outcome.VALID
    assert AuditEntry.objects.filter(action="certificates.changed", object_id=str(new.pk)).exists()


def test_a_change_that_changes_nothing_or_breaks_the_schema_is_refused(certificate, approver):
    with pytest.raises(ValidationFailed, match="没有变化"):
        services.change(approver, certificate, data={"grade": "二级"}, reason="核对")
    with pytest.raises(ValidationFailed):
        services.change(approver, certificate, data={"assessed_on": "not a date"}, reason="核对")
    assert Certificate.objects.count() == 1


def test_a_reissue_keeps_the_data_in_a_new_version(certificate, approver):
    new = services.reissue(approver, certificate, reason="证照遗失，申请补发")
    assert new.version == 2 and new.data == certificate.data and kinds(new) == ["reissued"]
    with pytest.raises(StateError):
        services.reissue(approver, certificate, reason="再次补发")  # the old version is no longer current


def test_suspend_then_resume(certificate, approver):
    services.suspend(approver, certificate, reason="涉嫌违规，暂扣待查")
    certificate.refresh_from_db()
    assert certificate.status == Status.SUSPENDED and certificate.status_reason == "涉嫌违规，暂扣待查"
    with pytest.raises(StateError):
        services.suspend(approver, certificate, reason="再次暂扣")
    services.resume(approver, certificate, reason="调查结束，发还")
    certificate.refresh_from_db()
    assert certificate.status == Status.VALID and kinds(certificate) == ["issued", "suspended", "resumed"]
    assert AuditEntry.objects.filter(action="certificates.suspend").exists()
    assert AuditEntry.objects.filter(action="certificates.resume").exists()


@pytest.mark.parametrize("kind, status", [("revoke", "03"), ("withdraw", "07"), ("cancel", "04")])
def test_revoke_withdraw_and_cancel_end_the_certificate(certificate, approver, kind, status):
    services.revoke(approver, certificate, reason="依法处理", kind=kind)
    certificate.refresh_from_db()
    assert certificate.status == status
    assert services.verify(identifier=certificate.identifier).outcome == payload.Outcome.REVOKED
    with pytest.raises(StateError):
        services.resume(approver, certificate, reason="恢复")
    with pytest.raises(StateError):
        services.change(approver, certificate, data={"grade": "一级"}, reason="变更")


def test_every_action_needs_a_reason(certificate, approver):
    for call in (services.suspend, services.revoke, services.reissue):
        with pytest.raises(ValidationFailed) as exc:
            call(approver, certificate, reason="  ")
        assert "reason" in exc.value.fields


def test_only_the_issuing_organisations_approvers_or_admins_act(certificate, people):
    for who in (people["reviewer"], people["approver_b"], people["clerk"]):
        with pytest.raises(NotPermitted):
            services.suspend(who, certificate, reason="暂扣")


def test_a_stale_lock_version_is_a_conflict(certificate, approver, approver2):
    seen = certificate.lock_version
    services.suspend(approver, certificate, reason="暂扣", lock_version=seen)
    with pytest.raises(Conflict):
        services.revoke(approver2, certificate, reason="撤销", lock_version=seen)
    certificate.refresh_from_db()
    assert certificate.status == Status.SUSPENDED


@pytest.mark.django_db(transaction=True)
def test_two_staff_acting_at_once_one_wins_the_other_gets_a_conflict(disability_type, holder, approver, approver2):
    if connection.vendor != "postgresql":
        pytest.skip("threads sharing the in-memory SQLite test database cannot run truly at once")
    cert = services.issue(disability_type, holder=holder, user=approver, data={"kind": "肢体残疾", "grade": "二级"})
    seen = cert.lock_version
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def run(name, call):
        close_old_connections()
        try:
            barrier.wait(timeout=10)
            call()
            outcomes[name] = "ok"
        except (Conflict, StateError) as exc:
            outcomes[name] = type(exc).__name__
        except Exception as exc:  # noqa: BLE001 - report anything else as a failure below
            outcomes[name] = repr(exc)
        finally:
            connection.close()

    a = threading.Thread(target=run, args=("a", lambda: services.suspend(
        approver, Certificate.objects.get(pk=cert.pk), reason="暂扣", lock_version=seen)))
    b = threading.Thread(target=run, args=("b", lambda: services.reissue(
        approver2, Certificate.objects.get(pk=cert.pk), reason="补发", lock_version=seen)))
    a.start(), b.start()
    a.join(30), b.join(30)
    assert sorted(outcomes.values()) == ["Conflict", "ok"], outcomes
    assert Certificate.objects.count() == (2 if outcomes["b"] == "ok" else 1)


def test_the_expiry_sweep_marks_past_certificates_expired_once(disability_type, holder, approver):
    old = services.issue(disability_type, holder=holder, user=approver, data={"kind": "肢体残疾", "grade": "二级"},
                         issued_on=dt.date(2010, 1, 4))
    current = services.issue(disability_type, holder=holder, user=approver, data={"kind": "听力残疾", "grade": "三级"})
    services.suspend(approver, current, reason="暂扣")
    assert old.valid_to == dt.date(2020, 1, 3)
    assert services.expire_due() == 1 and services.expire_due() == 0
    old.refresh_from_db(), current.refresh_from_db()
    assert old.status == Status.EXPIRED and current.status == Status.SUSPENDED
    assert kinds(old) == ["issued", "expired"]
    assert services.verify(identifier=old.identifier).outcome == payload.Outcome.EXPIRED
    assert AuditEntry.objects.filter(action="certificates.expire", detail__identifiers=[old.identifier]).exists()


def test_the_expiry_sweep_is_a_periodic_job(disability_type, holder, approver):
    assert "yiwang.certificates.tasks.expire_certificates" in jobs.periodic_jobs() or any(
        "expire_certificates" in name for name in jobs.periodic_jobs())
    services.issue(disability_type, holder=holder, user=approver, data={"kind": "肢体残疾", "grade": "二级"},
                   issued_on=dt.date(2010, 1, 4))
    tasks.expire_certificates()
    assert Certificate.objects.get().status == Status.EXPIRED
