"""The service guide (办事指南) of a published version as a PDF, with an embedded Chinese font.

A published version never changes, so each PDF is built once and kept in the cache.
"""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape

import segno
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen import canvas as pdfcanvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from yiwang.catalog.models import ItemVersion
from yiwang.core import calendar

log = logging.getLogger(__name__)

FONT_NAME = "YiwangCJK"
FALLBACK_CID_FONT = "STSong-Light"
# TrueType-outline CJK fonts reportlab can embed (fonts with CFF outlines, such as Noto CJK, cannot).
FONT_CANDIDATES = [
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/ukai.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallback.ttf", 0),
    ("/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc", 0),
    ("/System/Library/Fonts/STHeiti Light.ttc", 0),
    ("C:/Windows/Fonts/simsun.ttc", 0),
    ("C:/Windows/Fonts/simhei.ttf", 0),
]
BLUE = colors.HexColor("#0b4a8f")
GREY = colors.HexColor("#4a5561")
CACHE_SECONDS = 24 * 3600

_font: str | None = None


def _try_ttf(path: str, index: int) -> bool:
    if not Path(path).is_file():
        return False
    try:
        pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=index))
    except (TTFError, OSError, ValueError) as exc:
        log.warning("PDF font %s cannot be used: %s", path, exc)
        return False
    return True


def font_name() -> str:
    """Register the first usable Chinese TrueType font (embedded in the PDF) and return its name.

    Order: settings.YIWANG_PDF_FONT (``path`` or ``path#index``), then common system paths;
    without any, reportlab's built-in CID font, which PDF readers must supply themselves.
    """
    global _font
    if _font:
        return _font
    candidates = []
    configured = getattr(settings, "YIWANG_PDF_FONT", "")
    if configured:
        path, _, index = configured.partition("#")
        candidates.append((path, int(index) if index.isdigit() else 0))
    candidates.extend(FONT_CANDIDATES)
    for path, index in candidates:
        if _try_ttf(path, index):
            _font = FONT_NAME
            return _font
    log.warning("No Chinese TrueType font found for PDF guides; falling back to %s (not embedded). "
                "Install fonts-wqy-zenhei or set YIWANG_PDF_FONT.", FALLBACK_CID_FONT)
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_CID_FONT))
    _font = FALLBACK_CID_FONT
    return _font


# ----------------------------------------------------------------------------- flowables
class QRCode(Flowable):
    """A QR code drawn as vector squares (no image library involved)."""

    def __init__(self, data: str, size: float = 28 * mm):
        super().__init__()
        self.matrix = [list(row) for row in segno.make(data, error="m").matrix]
        self.size = size
        self.width = self.height = size

    def draw(self):
        n = len(self.matrix) + 8  # four modules of quiet zone on each side
        cell = self.size / n
        c = self.canv
        c.setFillColor(colors.white)
        c.rect(0, 0, self.size, self.size, stroke=0, fill=1)
        c.setFillColor(colors.black)
        for y, row in enumerate(self.matrix):
            for x, dark in enumerate(row):
                if dark:
                    c.rect((x + 4) * cell, self.size - (y + 5) * cell, cell, cell, stroke=0, fill=1)


def _numbered_canvas(footer: str, font: str):
    """A canvas class that writes ``footer`` and “第 x 页 / 共 y 页” once the page count is known."""

    class NumberedCanvas(pdfcanvas.Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._draw_footer(total)
                super().showPage()
            super().save()

        def _draw_footer(self, total: int):
            width, _ = A4
            self.setFont(font, 8.5)
            self.setFillColor(GREY)
            self.setStrokeColor(colors.HexColor("#c9d3de"))
            self.line(18 * mm, 15 * mm, width - 18 * mm, 15 * mm)
            self.drawString(18 * mm, 10.5 * mm, footer)
            self.drawRightString(width - 18 * mm, 10.5 * mm, f"第 {self._pageNumber} 页 / 共 {total} 页")

    return NumberedCanvas


# ----------------------------------------------------------------------------- content
def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=10.5, leading=16, wordWrap="CJK",
                          textColor=colors.HexColor("#1b1f24"))
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=19, leading=26, textColor=BLUE, spaceAfter=4),
        "meta": ParagraphStyle("meta", parent=base, fontSize=9, leading=13, textColor=GREY),
        "h2": ParagraphStyle("h2", parent=base, fontSize=13.5, leading=19, textColor=BLUE, spaceBefore=10,
                             spaceAfter=4),
        "body": base,
        "cell": ParagraphStyle("cell", parent=base, fontSize=9, leading=13),
        "head": ParagraphStyle("head", parent=base, fontSize=9, leading=13, textColor=colors.white),
        "small": ParagraphStyle("small", parent=base, fontSize=8.5, leading=12, textColor=GREY,
                                alignment=TA_CENTER),
    }


def _p(text: str, style) -> Paragraph:
    return Paragraph(escape(text or "").replace("\n", "<br/>"), style)


def _pairs_table(rows: list[tuple[str, str]], s) -> Table:
    data = [[_p(k, s["cell"]), _p(v or "无", s["cell"])] for k, v in rows]
    t = Table(data, colWidths=[34 * mm, None], hAlign="LEFT")
    t.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#c9d3de")),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eef3f9")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return t


def _material_rows(version: ItemVersion, s) -> Table:
    head = ["序号", "材料名称", "材料类型", "份数", "是否必要", "来源", "填报须知"]
    data = [[_p(h, s["head"]) for h in head]]
    for i, m in enumerate(version.materials.all(), start=1):
        source = m.get_source_display() + (f"：{m.source_detail}" if m.source_detail else "")
        required = "必要" if m.required else f"非必要：{m.condition or '视情况提交'}"
        data.append([_p(str(i), s["cell"]), _p(m.name, s["cell"]), _p(m.get_kind_display(), s["cell"]),
                     _p(_copies(m), s["cell"]), _p(required, s["cell"]),
                     _p(source, s["cell"]), _p(m.notes or "—", s["cell"])])
    if len(data) == 1:
        data.append([_p("—", s["cell"]), _p("无需提交材料", s["cell"])] + [_p("", s["cell"])] * 5)
    t = Table(data, colWidths=[12 * mm, 40 * mm, 20 * mm, 22 * mm, 24 * mm, 26 * mm, None], repeatRows=1)
    t.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#c9d3de")),
        ("BACKGROUND", (0, 0), (-1, 0), BLUE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f5f8fb")]),
    ]))
    return t


def _copies(m) -> str:
    parts = [f"原件 {m.originals} 份"] if m.originals else []
    parts += [f"复印件 {m.copies} 份"] if m.copies else []
    return "\n".join(parts) or "无需纸质份数"


def _join(labels) -> str:
    return "、".join(labels) or "无"


def build_guide_pdf(version: ItemVersion, url: str) -> bytes:
    """Render the guide of ``version`` (a published version) as PDF bytes."""
    font = font_name()
    s = _styles(font)
    item = version.item
    published = timezone.localtime(version.published_at).date() if version.published_at else None
    date_text = f"{published.year}年{published.month}月{published.day}日" if published else "—"

    story: list = []
    qr = QRCode(url)
    heading = [_p(version.name, s["title"]),
               _p(f"办事指南 · 第 {version.number} 版 · 发布于 {date_text}", s["meta"]),
               _p(f"实施机构：{item.organization.name}", s["meta"]),
               _p(f"实施编码：{item.implementation_code}", s["meta"])]
    top = Table([[heading, [qr, _p("扫码查看在线指南", s["small"])]]], colWidths=[None, 32 * mm])
    top.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    story.append(top)

    story.append(_p("一、基本信息", s["h2"]))
    story.append(_pairs_table([
        ("事项名称", version.name),
        ("基本编码", item.basic_item.basic_code),
        ("实施编码", item.implementation_code),
        ("事项类型", version.get_item_type_display()),
        ("实施机构", item.organization.name),
        ("行使层级", version.get_exercise_level_display()),
        ("服务对象", _join(version.service_object_labels())),
        ("办件类型", version.get_case_type_display()),
        ("网上办理深度", f"{version.get_online_level_display()}；{_join(version.online_depth_labels())}"),
        ("到办事现场次数", f"{version.visits} 次"),
        ("通办范围", version.get_scope_display()),
        ("主题分类", _join(t.name for t in version.themes.all())),
        ("审批结果", version.result_name),
    ], s))

    story.append(_p("二、受理条件", s["h2"]))
    story.append(_p(version.conditions, s["body"]))

    story.append(_p("三、申请材料", s["h2"]))
    story.append(_material_rows(version, s))

    story.append(_p("四、办理流程", s["h2"]))
    for i, step in enumerate(version.process_steps(), start=1):
        story.append(_p(f"{i}. {step}", s["body"]))
    if version.special_procedures:
        story.append(_p(f"特别程序：{version.special_procedures}", s["body"]))

    story.append(_p("五、办理时限", s["h2"]))
    estimated = calendar.add_working_days(timezone.localdate(), version.promised_limit_days)
    limits = [
        ("法定办结时限", f"{version.statutory_limit_days} 个工作日" +
         (f"（{version.statutory_limit_note}）" if version.statutory_limit_note else "")),
        ("承诺办结时限", f"承诺 {version.promised_limit_days} 个工作日" +
         (f"（{version.promised_limit_note}）" if version.promised_limit_note else "")),
        ("预计办结", f"今天（{_cn_date(timezone.localdate())}）受理，预计 {_cn_date(estimated)} 办结"),
    ]
    story.append(KeepTogether([_pairs_table(limits, s)]))

    story.append(_p("六、收费标准", s["h2"]))
    if version.charges_fee:
        story.append(_p(f"收费标准：{version.fee_standard or '—'}", s["body"]))
        story.append(_p(f"收费依据：{version.fee_basis or '—'}", s["body"]))
    else:
        story.append(_p("不收费。", s["body"]))

    story.append(_p("七、设定依据", s["h2"]))
    story.append(_p(version.legal_basis, s["body"]))

    story.append(_p("八、办理地点和时间", s["h2"]))
    story.append(_pairs_table([
        ("办理地点", version.location),
        ("办理时间", version.hours),
        ("办理形式", _join(version.handling_form_labels())),
    ], s))

    story.append(_p("九、咨询与投诉", s["h2"]))
    story.append(_pairs_table([("咨询电话", version.consult_phone), ("监督投诉电话", version.supervise_phone)], s))
    story.append(Spacer(1, 6 * mm))
    story.append(_p(f"本指南以 {settings.YIWANG_PLATFORM_NAME} 公布的现行版本为准：{url}", s["meta"]))

    buf = io.BytesIO()
    name = version.name if len(version.name) <= 24 else version.name[:23] + "…"
    footer = f"{name} · 实施编码 {item.implementation_code} · 第 {version.number} 版"
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=22 * mm,
        title=version.name, author=item.organization.name, subject="办事指南",
        creator=settings.YIWANG_PLATFORM_NAME, lang="zh-CN",
    )
    doc.build(story, canvasmaker=_numbered_canvas(footer, font))
    return buf.getvalue()


def _cn_date(d) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def guide_pdf(version: ItemVersion, url: str) -> bytes:
    """The PDF of a published version, built once per version (and guide address) and cached.

    The key includes the publication time and item code as well as the primary key, so a
    reused key after a database reset can never serve another item's guide. The estimated
    completion date printed inside depends on the day, so the key carries the date too.
    """
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    stamp = version.published_at.timestamp() if version.published_at else 0
    key = (f"yiwang:guide-pdf:{version.pk}:{version.item.implementation_code}:{stamp}:"
           f"{timezone.localdate().isoformat()}:{digest}")
    content = cache.get(key)
    if content is None:
        content = build_guide_pdf(version, url)
        cache.set(key, content, CACHE_SECONDS)
    return content


def content_disposition(version: ItemVersion) -> str:
    """``attachment`` with an ASCII file name and the Chinese name for clients that read RFC 5987."""
    code = version.item.implementation_code
    ascii_name = f"guide-{code}-v{version.number}.pdf"
    utf8_name = quote(f"{version.name}-办事指南-第{version.number}版.pdf")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{utf8_name}"

