"""文书: notices and decisions issued on a case, as PDFs with an embedded Chinese font.

Each document gets a number (文号) from its organisation's yearly sequence, is stored with the
case with its SHA-256, and carries the QR code of the case's public progress page. Each is
sealed (电子印章: PAdES with the organisation's document seal, yiwang.seals) before hashing.
"""

from __future__ import annotations

import hashlib
import io
from urllib.parse import urlencode

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from yiwang.cases import numbering
from yiwang.cases.models import Case, CaseDocument
from yiwang.catalog.pdf import QRCode, _numbered_canvas, _p, _pairs_table, _styles, font_name
from yiwang.seals import services as seal_services

# kind → (title, the word in the document number)
TITLES = {
    CaseDocument.Kind.RECEIPT: ("收件回执", "收"),
    CaseDocument.Kind.ACCEPTANCE: ("受理通知书", "受"),
    CaseDocument.Kind.NON_ACCEPTANCE: ("不予受理决定书", "不受"),
    CaseDocument.Kind.CORRECTION: ("补正材料通知书", "补"),
    CaseDocument.Kind.APPROVAL: ("准予许可决定书", "准"),
    CaseDocument.Kind.REFUSAL: ("不予许可决定书", "不准"),
}


def tracking_url(case: Case) -> str:
    base = getattr(settings, "YIWANG_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
    return f"{base}/track/?{urlencode({'number': case.number, 'code': case.query_code})}"


def _body(case: Case, kind: str) -> list[str]:
    org = case.organization.name
    date = lambda d: f"{d:%Y年%m月%d日}" if d else ""  # noqa: E731
    submitted = timezone.localtime(case.submitted_at)
    if kind == CaseDocument.Kind.ACCEPTANCE:
        return [f"{case.applicant_name}：",
                f"你（单位）于{date(submitted)}提出的“{case.item_name}”申请，申请材料齐全、符合法定形式，"
                f"根据《中华人民共和国行政许可法》第三十二条的规定，本机关决定予以受理。",
                f"本机关将在受理之日起 {case.limit_days} 个工作日内（即{date(case.due_date)}前）作出决定。"
                "听证、检验、检测、检疫、鉴定和专家评审等所需时间不计算在上述期限内。"]
    if kind == CaseDocument.Kind.NON_ACCEPTANCE:
        return [f"{case.applicant_name}：",
                f"你（单位）于{date(submitted)}提出的“{case.item_name}”申请，经审查，决定不予受理。",
                f"理由：{case.status_reason}",
                "如不服本决定，可以在收到本决定书之日起六十日内依法申请行政复议，或者在六个月内依法提起行政诉讼。"]
    if kind == CaseDocument.Kind.CORRECTION:
        correction = case.corrections.order_by("-requested_at").first()
        lines = [f"{case.applicant_name}：",
                 f"你（单位）于{date(submitted)}提出的“{case.item_name}”申请，申请材料不齐全或者不符合法定形式。"
                 "根据《中华人民共和国行政许可法》第三十二条的规定，现一次性告知需要补正的全部内容如下："]
        for i, p in enumerate(correction.problems if correction else [], start=1):
            lines.append(f"{i}. {p.get('text', '')}")
        lines.append("请补正后通过“我的办件”重新提交。补正期间不计入办理时限。")
        return lines
    if kind == CaseDocument.Kind.APPROVAL:
        return [f"{case.applicant_name}：",
                f"你（单位）提出的“{case.item_name}”申请（受理通知书 {case.acceptance_number}），经审查，"
                "符合法定条件、标准，根据《中华人民共和国行政许可法》第三十八条第一款的规定，本机关决定准予许可。",
                f"意见：{case.decision_reason or '同意'}"]
    if kind == CaseDocument.Kind.REFUSAL:
        return [f"{case.applicant_name}：",
                f"你（单位）提出的“{case.item_name}”申请（受理通知书 {case.acceptance_number}），经审查，"
                "不符合法定条件、标准，根据《中华人民共和国行政许可法》第三十八条第二款的规定，本机关决定不予许可。",
                f"理由和依据：{case.decision_reason}",
                "如不服本决定，可以在收到本决定书之日起六十日内依法申请行政复议，或者在六个月内依法提起行政诉讼。"]
    return [f"{case.applicant_name}：", f"已收到你（单位）提交的“{case.item_name}”申请材料。"]


def render(case: Case, kind: str, number: str) -> bytes:
    font = font_name()
    s = _styles(font)
    title, _ = TITLES[kind]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=22 * mm, rightMargin=22 * mm, topMargin=20 * mm,
                            bottomMargin=22 * mm, title=f"{title} {number}", author=case.organization.name,
                            subject=case.item_name)
    story = [_p(case.organization.name, s["small"]), _p(title, s["title"]), _p(number, s["meta"]), Spacer(1, 6 * mm)]
    for line in _body(case, kind):
        story.append(Paragraph(_p(line, s["body"]).text, s["body"]))
        story.append(Spacer(1, 2 * mm))
    from yiwang.cases.services import masked_applicant

    id_shown = masked_applicant(case)["id_number"]
    story += [Spacer(1, 4 * mm), _pairs_table([
        ("办件编号", case.number), ("事项", case.item_name), ("申请人", case.applicant_name),
        ("证件号码", id_shown), ("实施机构", case.organization.name),
        ("日期", f"{timezone.localtime():%Y年%m月%d日}"),
    ], s), Spacer(1, 6 * mm)]
    qr = Table([[QRCode(tracking_url(case), 26 * mm), _p("扫码查看办理进度（需输入查询码）", s["meta"])]],
               colWidths=[30 * mm, None], hAlign="LEFT")
    qr.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    story.append(qr)
    doc.build(story, canvasmaker=_numbered_canvas(f"{case.organization.name} · {title} {number}", font))
    return buf.getvalue()


def issue(case: Case, kind: str) -> CaseDocument:
    """Number, render and store a document (inside the caller's transaction)."""
    title, word = TITLES[kind]
    number = numbering.next_document_number(case.organization, word, kind)
    data = seal_services.seal_document(render(case, kind, number), case.organization, reason=f"{title} {number}")
    doc = CaseDocument(case=case, kind=kind, number=number, sha256=hashlib.sha256(data).hexdigest(),
                       created_at=timezone.now())
    doc.file.save(f"{case.number}-{kind}.pdf", ContentFile(data), save=False)
    doc.save()
    return doc
