"""证照版式: the certificate PDF — a bordered, certificate-looking page with the fields, issuer,
dates and the QR code — before it is signed with the issuing organisation's seal.

Three layouts (``CertificateType.template``): ``licence`` (landscape, like a business licence),
``permit`` (portrait permit) and ``card`` (portrait, personal certificate). The font is the
platform's embedded Chinese font (``yiwang.catalog.pdf.font_name``).
"""

from __future__ import annotations

import dataclasses
import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas as pdfcanvas

from yiwang.catalog.pdf import QRCode, font_name

RED = colors.HexColor("#a3171c")
GOLD = colors.HexColor("#b8892d")
INK = colors.HexColor("#1b1f24")
GREY = colors.HexColor("#4a5561")


@dataclasses.dataclass
class Face:
    """What is printed on the certificate (照面)."""

    title: str
    template: str
    number: str
    identifier: str
    holder_label: str
    holder_name: str
    holder_code_label: str
    holder_code: str
    rows: list[tuple[str, str]]
    issuer: str
    issued_on: str
    validity: str
    qr_text: str
    version: int = 1


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` (character by character: Chinese has no spaces)."""
    lines, line = [], ""
    for ch in text or "":
        if ch == "\n" or stringWidth(line + ch, font, size) > width:
            lines.append(line)
            line = "" if ch == "\n" else ch
        else:
            line += ch
    lines.append(line)
    return lines


def render(face: Face) -> bytes:
    font = font_name()
    page = landscape(A4) if face.template == "licence" else A4
    width, height = page
    buf = io.BytesIO()
    c = pdfcanvas.Canvas(buf, pagesize=page, pageCompression=1)
    c.setTitle(face.title)
    c.setAuthor(face.issuer)
    c.setSubject(face.identifier)
    c.setCreator("Yiwang 电子证照")

    # Double frame
    c.setStrokeColor(GOLD)
    c.setLineWidth(2.2)
    c.rect(10 * mm, 10 * mm, width - 20 * mm, height - 20 * mm)
    c.setLineWidth(0.6)
    c.rect(13 * mm, 13 * mm, width - 26 * mm, height - 26 * mm)

    # Title and numbers
    top = height - 34 * mm
    c.setFillColor(RED)
    c.setFont(font, 30)
    c.drawCentredString(width / 2, top, face.title)
    c.setFillColor(GREY)
    c.setFont(font, 9)
    c.drawString(20 * mm, height - 20 * mm, f"证照编号：{face.number}")
    c.drawRightString(width - 20 * mm, height - 20 * mm, f"第 {face.version} 版")
    if face.template == "licence":
        c.setFont(font, 11)
        c.setFillColor(INK)
        c.drawCentredString(width / 2, top - 9 * mm, "（电子证照）")

    # Fields
    qr_size = 36 * mm
    left = 24 * mm
    size = 12.5
    rows = [(face.holder_label, face.holder_name), (face.holder_code_label, face.holder_code)] + face.rows
    label_w = min(62 * mm, max(stringWidth(label, font, size) for label, _ in rows + [("有效期限", "")]) + 6 * mm)
    value_w = width - left - label_w - (qr_size + 30 * mm if face.template == "licence" else 26 * mm)
    y = top - 22 * mm
    leading = 7.6 * mm
    for label, value in rows:
        c.setFont(font, size)
        c.setFillColor(GREY)
        c.drawString(left, y, label)
        c.setFillColor(INK)
        for i, line in enumerate(_wrap(str(value or "—"), font, size, value_w)):
            c.drawString(left + label_w, y - i * 6 * mm, line)
            if i:
                y -= 6 * mm
        y -= leading
    c.setFont(font, size)
    c.setFillColor(GREY)
    c.drawString(left, y, "有效期限")
    c.setFillColor(INK)
    c.drawString(left + label_w, y, face.validity)

    # Issuer, date and QR at the foot
    foot = 24 * mm
    qr_x = width - 24 * mm - qr_size if face.template == "licence" else left
    QRCode(face.qr_text, qr_size).drawOn(c, qr_x, foot)
    c.setFont(font, 8)
    c.setFillColor(GREY)
    c.drawCentredString(qr_x + qr_size / 2, foot - 4 * mm, "扫码核验")
    c.setFont(font, 13)
    c.setFillColor(INK)
    right = width - (qr_size + 36 * mm if face.template == "licence" else 30 * mm)
    c.drawRightString(right, foot + 22 * mm, f"颁发机关：{face.issuer}")
    c.drawRightString(right, foot + 13 * mm, face.issued_on)
    c.setFont(font, 7)
    c.setFillColor(GREY)
    c.drawCentredString(width / 2, 16 * mm, f"证照标识 {face.identifier}")
    c.showPage()
    c.save()
    return buf.getvalue()
