"""存量证照导入: a file is checked and validated row by row first; nothing is imported while any row is
bad; on confirmation a job issues and signs every row in one transaction — all or nothing."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from tests import factories
from tests.identity.helpers_levels import citizen, new_id_number
from tests.identity.helpers_totp import sign_in_staff
from yiwang.certificates import imports, services, wallet
from yiwang.certificates.models import Certificate, ImportRun, Status
from yiwang.core.errors import NotPermitted, StateError
from yiwang.core.models import AuditEntry
from yiwang.identity.models import Role

pytestmark = pytest.mark.django_db
HEADER = ["持证主体名称", "持证主体代码", "证照编号", "颁证日期", "有效期起", "有效期至", "残疾类别", "残疾等级", "户籍地址",
          "评定日期"]


def rows(n: int = 3, **override) -> list[list[str]]:
    out = []
    for i in range(n):
        out.append(["周海燕", new_id_number(), f"L39010{i:05d}", "2019-05-06", "2019-05-06", "2029-05-05",
                    "视力残疾", "三级", "临江市滨江区江滨路2号", "2019-04-20"])
    for (row, col), value in override.items() if isinstance(override, dict) else ():
        out[row][col] = value
    return out


def csv_file(data: list[list[str]], name: str = "存量残疾人证.csv", header=HEADER, encoding="utf-8-sig"):
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(data)
    return SimpleUploadedFile(name, text.getvalue().encode(encoding), content_type="text/csv")


def xlsx_file(data: list[list[str]], name: str = "存量残疾人证.xlsx"):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for r in data:
        sheet.append(r)
    out = io.BytesIO()
    book.save(out)
    return SimpleUploadedFile(name, out.getvalue())


def stored_pdfs() -> set[str]:
    from django.core.files.storage import default_storage

    folder = "certificates/2019"
    return set(default_storage.listdir(folder)[1]) if default_storage.exists(folder) else set()


def test_a_good_csv_is_validated_then_imported_and_signed(client, disability_type, cert_admin,
                                                          django_capture_on_commit_callbacks):
    data = rows(3)
    registered = citizen("imported_holder", "周海燕", id_number=data[0][1], level=2)
    sign_in_staff(client, cert_admin)
    page = client.get("/office/certificates/import/")
    assert page.status_code == 200 and "中华人民共和国残疾人证" in page.content.decode()
    answer = client.post("/office/certificates/import/", {"type": disability_type.pk, "file": csv_file(data)})
    run = ImportRun.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/office/certificates/import/{run.pk}/"
    assert run.state == "validated" and run.total == 3 and not Certificate.objects.exists()
    assert "确认导入 3 张证照" in client.get(answer["Location"]).content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # the job runs when the request commits
        confirmed = client.post(f"/office/certificates/import/{run.pk}/confirm/")
    assert confirmed.status_code == 302
    run.refresh_from_db()
    assert run.state == "done" and run.done == 3 and run.rows == []
    certs = list(Certificate.objects.order_by("number"))
    assert [c.number for c in certs] == [r[2] for r in data]
    first = certs[0]
    assert first.pdf and first.pdf.open("rb").read(5) == b"%PDF-" and first.qr_payload
    assert first.data == {"kind": "视力残疾", "grade": "三级", "address": "临江市滨江区江滨路2号",
                          "assessed_on": "2019-04-20"}
    assert str(first.issued_on) == "2019-05-06" and str(first.valid_to) == "2029-05-05"
    assert services.verify(identifier=first.identifier).ok
    assert list(wallet.certificates_of(registered.user, None)) == [first]
    progress = client.get(f"/office/certificates/import/{run.pk}/progress.json").json()
    assert progress == {**progress, "state": "done", "done": 3, "total": 3, "percent": 100, "finished": True}
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"certificates.import.prepare", "certificates.import.confirm", "certificates.import.done",
            "certificates.issue"} <= actions


def test_one_bad_row_means_nothing_is_imported_and_the_report_names_it(client, disability_type, cert_admin):
    data = rows(4)
    data[1][1] = "390102199001011234"  # wrong check digit
    data[2][2] = data[0][2]  # same number as row 2 of the file
    data[3][3] = "2019-13-40"
    sign_in_staff(client, cert_admin)
    client.post("/office/certificates/import/", {"type": disability_type.pk, "file": csv_file(data)})
    run = ImportRun.objects.get()
    assert run.state == "invalid" and run.rows == []
    found = {(p["row"], p["column"]) for p in run.errors}
    assert {(3, "持证主体代码"), (4, "证照编号"), (5, "颁证日期")} <= found
    assert all(" / " in p["message"] for p in run.errors)
    page = client.get(f"/office/certificates/import/{run.pk}/").content.decode()
    assert "未导入任何证照" in page and "与第 2 行编号重复" in page
    assert client.post(f"/office/certificates/import/{run.pk}/confirm/").status_code == 409
    assert not Certificate.objects.exists()


def test_missing_columns_and_numbers_already_on_record_are_reported(disability_type, cert_admin, certificate):
    run = imports.prepare(cert_admin, disability_type, csv_file(rows(1), header=HEADER[:6]))
    assert run.state == "invalid" and {p["column"] for p in run.errors} == {"残疾类别", "残疾等级"}
    again = imports.prepare(cert_admin, disability_type, csv_file([[*rows(1)[0][:2], certificate.number,
                                                                    *rows(1)[0][3:]]]))
    assert again.errors[0]["message"].startswith("该编号的证照已存在")


def test_an_xlsx_file_is_read_like_a_csv(disability_type, cert_admin, django_capture_on_commit_callbacks):
    run = imports.prepare(cert_admin, disability_type, xlsx_file(rows(2)))
    assert run.state == "validated" and run.total == 2
    with django_capture_on_commit_callbacks(execute=True):
        imports.confirm(cert_admin, run)
    assert Certificate.objects.filter(certificate_type=disability_type).count() == 2


def test_a_gb18030_csv_is_read(disability_type, cert_admin):
    run = imports.prepare(cert_admin, disability_type, csv_file(rows(1), encoding="gb18030"))
    assert run.state == "validated"


@pytest.mark.parametrize("upload, message", [
    (SimpleUploadedFile("x.xlsx", b"PK\x03\x04 this is not a workbook"), "XLSX"),
    (SimpleUploadedFile("x.xlsx", "持证主体名称,持证主体代码\n".encode()), "文件内容与扩展名不符"),
    (SimpleUploadedFile("x.csv", b"%PDF-1.4\n1 0 obj<<>>endobj\n"), "文件内容与扩展名不符"),
    (SimpleUploadedFile("x.csv", b"\xff\xfe\x00\x00garbage\x00"), "CSV"),
    (SimpleUploadedFile("x.pdf", b"%PDF-1.4\n"), "只接受 .csv 或 .xlsx"),
    (SimpleUploadedFile("x.csv", b""), "文件内容为空"),
])
def test_malformed_or_spoofed_files_are_refused(client, disability_type, cert_admin, upload, message):
    sign_in_staff(client, cert_admin)
    answer = client.post("/office/certificates/import/", {"type": disability_type.pk, "file": upload})
    assert answer.status_code == 400 and message in answer.content.decode()
    assert not ImportRun.objects.exists()


def test_a_failure_during_the_run_rolls_every_certificate_back(disability_type, cert_admin, monkeypatch,
                                                               django_capture_on_commit_callbacks):
    run = imports.prepare(cert_admin, disability_type, csv_file(rows(3)))
    before = stored_pdfs()
    real = services.sign_pdf
    calls = []

    def sign_until_the_third(cert, data):  # the signing service becomes unavailable mid-run
        calls.append(cert.number)
        if len(calls) == 3:
            raise OSError("signing service unavailable")
        return real(cert, data)

    monkeypatch.setattr(services, "sign_pdf", sign_until_the_third)
    with django_capture_on_commit_callbacks(execute=True):
        imports.confirm(cert_admin, run)
    run.refresh_from_db()
    assert run.state == "failed" and "未导入任何证照" in run.errors[0]["message"]
    assert len(calls) == 3 and not Certificate.objects.exists()
    assert stored_pdfs() == before  # the two signed files of the rolled-back rows are removed too
    assert AuditEntry.objects.filter(action="certificates.import.failed").count() == 1
    assert not AuditEntry.objects.filter(action="certificates.issue").exists()


def test_historic_certificates_past_their_end_are_marked_expired(disability_type, cert_admin,
                                                                django_capture_on_commit_callbacks):
    data = rows(1)
    data[0][3:6] = ["2010-01-01", "2010-01-01", "2019-12-31"]
    run = imports.prepare(cert_admin, disability_type, csv_file(data))
    with django_capture_on_commit_callbacks(execute=True):
        imports.confirm(cert_admin, run)
    assert Certificate.objects.get().status == Status.EXPIRED


def test_only_the_issuing_organisations_administrators_may_import(client, disability_type, approver, org_a, org_b):
    sign_in_staff(client, approver)  # an approver of the issuing organisation, not an administrator
    assert client.get("/office/certificates/import/").status_code == 403
    with pytest.raises(NotPermitted):
        imports.prepare(approver, disability_type, csv_file(rows(1)))
    other = factories.staff("catalog_b", org_b, Role.CATALOG_ADMIN)
    with pytest.raises(NotPermitted):
        imports.prepare(other, disability_type, csv_file(rows(1)))
    org_admin = factories.staff("orgadmin_a_cert", org_a, Role.ORG_ADMIN)
    assert imports.prepare(org_admin, disability_type, csv_file(rows(1))).state == "validated"
    sign_in_staff(client, other)
    run = ImportRun.objects.get()
    assert client.get(f"/office/certificates/import/{run.pk}/").status_code in (403, 404)


def test_a_run_cannot_be_confirmed_twice(disability_type, cert_admin, django_capture_on_commit_callbacks):
    run = imports.prepare(cert_admin, disability_type, csv_file(rows(1)))
    with django_capture_on_commit_callbacks(execute=True):
        imports.confirm(cert_admin, run)
    with pytest.raises(StateError):
        imports.confirm(cert_admin, run)
    assert Certificate.objects.count() == 1


def test_the_template_lists_the_columns(client, disability_type, cert_admin):
    sign_in_staff(client, cert_admin)
    answer = client.get(f"/office/certificates/import/template/{disability_type.pk}.csv")
    assert answer.status_code == 200 and answer.content.decode("utf-8-sig").strip() == ",".join(HEADER)


def test_the_command_imports_the_same_way(tmp_path, disability_type, cert_admin, capsys):
    good = tmp_path / "good.csv"
    good.write_bytes(csv_file(rows(2)).read())
    call_command("cert", "import", str(good), "--type", disability_type.type_code, "--user", "cert_catalog_a",
                 "--dry-run")
    assert not Certificate.objects.exists()
    call_command("cert", "import", str(good), "--type", disability_type.type_code, "--user", "cert_catalog_a")
    assert Certificate.objects.count() == 2 and "已导入 2 张证照" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    data = rows(1)
    data[0][1] = "123"
    bad.write_bytes(csv_file(data).read())
    with pytest.raises(CommandError):
        call_command("cert", "import", str(bad), "--type", disability_type.type_code, "--user", "cert_catalog_a")
    assert Certificate.objects.count() == 2


def test_progress_during_the_run_is_seen_by_another_process(disability_type, cert_admin):
    """The run's row changes only when its transaction commits; the progress meanwhile goes to the
    shared cache, which a fresh cache object (as in the web process) reads from the same place."""
    from django.conf import settings
    from django.core.cache.backends.filebased import FileBasedCache

    run = imports.prepare(cert_admin, disability_type, csv_file(rows(3)))
    run.state = "running"  # as confirm() leaves it for the job
    run.save(update_fields=["state"])
    key = imports._progress_key(run.pk)
    seen = []

    def from_elsewhere(done, total):
        other = FileBasedCache(settings.CACHES["shared"]["LOCATION"], {})
        seen.append((int(other.get(key) or 0), total, imports.progress(ImportRun.objects.get(pk=run.pk))["done"]))

    imports.issue_all(run, on_progress=from_elsewhere)
    assert [s[0] for s in seen][-1] == 3 and all(s[1] == 3 for s in seen)
    assert [s[2] for s in seen] == [s[0] for s in seen]


def test_the_importable_types_are_those_each_may_import(disability_type, food_type, cert_admin, approver, org_b):
    admin = factories.staff("platform_imports", org_b, Role.PLATFORM_ADMIN)
    other = factories.staff("catalog_imports_b", org_b, Role.CATALOG_ADMIN)
    for user in (cert_admin, approver, admin, other):
        expected = [t for t in sorted([disability_type, food_type], key=lambda t: t.type_code)
                    if imports.can_import(user, t)]
        assert imports.types_importable(user) == expected
    assert imports.types_importable(cert_admin) == sorted([disability_type, food_type], key=lambda t: t.type_code)
    assert imports.types_importable(other) == [] and imports.types_importable(approver) == []
