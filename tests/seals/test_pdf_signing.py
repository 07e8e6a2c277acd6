"""PAdES: pyHanko and poppler's pdfsig accept our signatures and reject a document changed by one byte."""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import subprocess

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from tests.cases.conftest import act, applicant, centre, item, people, submit  # noqa: F401
from yiwang.cases.models import CaseDocument
from yiwang.core.errors import StateError
from yiwang.seals import pdfsign, services
from yiwang.seals.models import Seal, SealEvent

pytestmark = pytest.mark.django_db


def uncompressed_pdf() -> bytes:
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4, pageCompression=0)
    c.drawString(72, 760, "Decision notice: licence granted")
    c.showPage()
    c.drawString(72, 760, "Page two")
    c.showPage()
    c.save()
    return out.getvalue()


def one_byte_changed(pdf: bytes) -> bytes:
    i = pdf.index(b"licence granted")
    assert i < pdf.index(b"/ByteRange")  # inside the first signed range
    return pdf[:i] + b"L" + pdf[i + 1:]


@pytest.fixture
def pdfsig(tmp_path):
    """poppler's pdfsig on bytes; CI must have it (scripts/ensure-system-packages installs poppler-utils)."""
    if not shutil.which("pdfsig"):
        if os.environ.get("CI"):
            pytest.fail("pdfsig is missing: install Debian's poppler-utils")
        pytest.skip("poppler-utils (pdfsig) not installed")

    def run(pdf: bytes) -> str:
        path = tmp_path / "doc.pdf"
        path.write_bytes(pdf)
        return subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout

    return run


@pytest.fixture
def signed(active_seal):
    return pdfsign.sign_pdf(uncompressed_pdf(), seal=active_seal, reason="准予许可决定书", location="临江市")


def test_pyhanko_reports_valid_intact_and_trusted(signed, active_seal):
    (report,) = pdfsign.verify_pdf(signed)
    assert report.valid and report.intact and report.trusted and report.covers_whole_file
    assert report.seal_code == active_seal.code and report.seal_type == "行政审批专用章"
    assert report.organization == "临江市市场监督管理局" and report.signing_time


def test_pdfsig_says_the_signature_is_valid(signed, pdfsig):
    output = pdfsig(signed)
    assert "Signature Validation: Signature is Valid." in output
    assert "ETSI.CAdES.detached" in output and "Total document signed" in output


def test_one_changed_byte_makes_pyhanko_report_invalid(signed):
    (report,) = pdfsign.verify_pdf(one_byte_changed(signed))
    assert not report.ok and not report.intact


def test_one_changed_byte_makes_pdfsig_report_invalid(signed, pdfsig):
    output = pdfsig(one_byte_changed(signed))
    assert "Signature is Valid." not in output
    assert "Signature Validation: Digest Mismatch." in output  # poppler: the signed bytes changed


def test_signature_embeds_the_chain_and_a_visible_stamp_on_the_last_page(signed):
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(signed))
    (sig,) = reader.embedded_signatures
    assert len(sig.signed_data["certificates"]) == 3  # seal, issuing CA, root CA
    last_page = reader.root["/Pages"]["/Kids"][-1].get_object()
    (annot,) = [a.get_object() for a in last_page["/Annots"] if a.get_object()["/Subtype"] == "/Widget"]
    x1, y1, x2, y2 = [float(v) for v in annot["/Rect"]]
    assert x2 - x1 >= 100 and x1 > 595 / 2 and y2 < 842 / 3  # bottom right, seal-sized
    assert "/AP" in annot


@pytest.mark.parametrize("step", ["suspend", "revoke"])
def test_suspended_or_revoked_seal_cannot_sign(active_seal, org_admin_a, step):
    getattr(services, f"{step}_seal")(org_admin_a, active_seal, reason="印章遗失")
    active_seal.refresh_from_db()
    with pytest.raises(StateError) as raised:
        pdfsign.sign_pdf(uncompressed_pdf(), seal=active_seal, reason="x")
    assert "不能用于签章" in raised.value.message


def test_expired_certificate_cannot_sign_until_renewed(active_seal, org_admin_a):
    Seal.objects.filter(pk=active_seal.pk).update(certificate_not_after=timezone.now() - dt.timedelta(days=1))
    active_seal.refresh_from_db()
    with pytest.raises(StateError) as raised:
        pdfsign.sign_pdf(uncompressed_pdf(), seal=active_seal, reason="x")
    assert "证书已过期" in raised.value.message
    renewed = services.renew_seal_certificate(org_admin_a, active_seal)
    assert renewed.certificate_not_after > timezone.now()
    assert pdfsign.verify_pdf(pdfsign.sign_pdf(uncompressed_pdf(), seal=renewed, reason="x"))[0].ok


def test_verify_command_prints_signer_seal_time_and_validity(signed, tmp_path, capsys):
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    call_command("seal", "verify", str(path))
    out = capsys.readouterr().out
    assert "临江市市场监督管理局行政审批专用章" in out and "签署时间" in out
    assert "intact" in out and "chains to our root" in out and "VALID" in out

    path.write_bytes(one_byte_changed(signed))
    with pytest.raises(CommandError):
        call_command("seal", "verify", str(path))
    assert "MODIFIED" in capsys.readouterr().out


def test_verify_command_refuses_an_unsigned_or_missing_file(tmp_path):
    path = tmp_path / "plain.pdf"
    path.write_bytes(uncompressed_pdf())
    with pytest.raises(CommandError, match="没有签章"):
        call_command("seal", "verify", str(path))
    with pytest.raises(CommandError, match="不存在"):
        call_command("seal", "verify", str(tmp_path / "missing.pdf"))


def test_a_pdf_signed_by_a_foreign_ca_is_not_trusted(signed):
    from yiwang.seals.models import AuthorityKey

    AuthorityKey.objects.all().delete()  # our roots are gone: nothing chains any more
    (report,) = pdfsign.verify_pdf(signed)
    assert report.intact and not report.trusted and not report.ok


def test_every_issued_case_document_is_sealed(applicant, item, people, pdfsig):  # noqa: F811
    case = submit(applicant, item)
    case = act(people["clerk"], case, "pre_review", "accept", opinion="材料齐全")
    doc = case.documents.get(kind=CaseDocument.Kind.ACCEPTANCE)
    data = doc.file.read()
    (report,) = pdfsign.verify_pdf(data)
    assert report.ok and report.organization == case.organization.name
    import hashlib

    assert doc.sha256 == hashlib.sha256(data).hexdigest()  # the hash is of the sealed file
    # The organisation had no seal: the platform provisioned one, each step recorded as the system.
    seal = Seal.objects.get(organization=case.organization)
    assert seal.seal_type == Seal.Type.APPROVAL and seal.state == Seal.State.ACTIVE
    assert list(SealEvent.objects.filter(seal=seal).values_list("action", flat=True)) == [
        "apply", "review", "produce", "file", "activate"]
    assert set(SealEvent.objects.filter(seal=seal).values_list("actor", flat=True)) == {"system"}
    assert "Signature Validation: Signature is Valid." in pdfsig(data)


@pytest.mark.parametrize("content", [b"not a pdf\n", b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog", b""])
def test_verify_command_refuses_a_file_that_is_not_a_pdf(tmp_path, content):
    path = tmp_path / "broken.pdf"
    path.write_bytes(content)
    with pytest.raises(CommandError, match="不是有效的 PDF"):
        call_command("seal", "verify", str(path))
