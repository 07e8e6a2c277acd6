"""PAdES signatures on PDFs with a seal: signing (visible seal stamp) and validation.

``sign_pdf`` makes a PAdES baseline B-B signature (ETSI.CAdES.detached, SHA-256) with the seal's
certificate and the chain (issuing CA, root CA) embedded, and a visible stamp showing the seal
image at the bottom right of the last page. There is no time-stamping authority on the platform,
so B-T is not produced; the signing time is the signer's claimed time.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from PIL import Image
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from yiwang.core.errors import ValidationFailed
from yiwang.seals import ca, services
from yiwang.seals.models import Seal

STAMP_SIZE = 110  # points (about 3.9 cm): the usual size of an official seal
MARGIN = 36


def _asn1_cert(pem: str) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(ca.certificate(pem).public_bytes(serialization.Encoding.DER))


def _signer(seal: Seal) -> signers.SimpleSigner:
    key = services.private_key(seal)  # refuses a seal that is not active or whose certificate expired
    key_info = asn1_keys.PrivateKeyInfo.load(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    issuing = ca.issuing()
    chain = [_asn1_cert(issuing.certificate_pem), _asn1_cert(ca.root().certificate_pem)]
    return signers.SimpleSigner(signing_cert=_asn1_cert(seal.certificate_pem), signing_key=key_info,
                                cert_registry=SimpleCertificateStore.from_certs(chain))


def sign_pdf(pdf: bytes, *, seal: Seal, reason: str, location: str = "") -> bytes:
    """The PDF with a PAdES B-B signature by ``seal`` and its visible stamp on the last page."""
    signer = _signer(seal)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    last = writer.root["/Pages"]
    page_count = int(last["/Count"])
    box = [float(v) for v in writer.find_page_for_modification(page_count - 1)[0].get_object()["/MediaBox"]]
    x2, y1 = box[2] - MARGIN, box[1] + MARGIN
    field_name = f"Seal{seal.code}"
    existing = 1
    while _field_exists(writer, field_name):
        existing += 1
        field_name = f"Seal{seal.code}_{existing}"
    image = Image.open(io.BytesIO(bytes(seal.image_png))).convert("RGBA")
    style = TextStampStyle(stamp_text=" ", border_width=0, background=PdfImage(image),
                           background_opacity=1.0)
    meta = signers.PdfSignatureMetadata(
        field_name=field_name, reason=reason[:200], location=location[:100], name=seal.name,
        subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256", use_pades_lta=False)
    spec = fields.SigFieldSpec(sig_field_name=field_name, on_page=page_count - 1,
                               box=(int(x2 - STAMP_SIZE), int(y1), int(x2), int(y1 + STAMP_SIZE)))
    pdf_signer = signers.PdfSigner(meta, signer=signer, stamp_style=style, new_field_spec=spec)
    return _outside_event_loop(lambda: pdf_signer.sign_pdf(writer).getvalue())


def _outside_event_loop(work):
    """pyHanko's synchronous API starts its own event loop, which fails in a thread that already
    runs one (an async server's thread, a test driving a browser): run it in a helper thread then."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


def _field_exists(writer, name: str) -> bool:
    try:
        acro = writer.root["/AcroForm"]
        return any(f.get_object().get("/T") == name for f in acro["/Fields"])
    except KeyError:
        return False


# ------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class SignatureReport:
    field: str
    signer: str
    seal_code: str
    seal_name: str
    seal_type: str
    organization: str
    signing_time: str
    intact: bool
    valid: bool
    trusted: bool
    covers_whole_file: bool
    summary: str

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted


def verify_pdf(pdf: bytes) -> list[SignatureReport]:
    """Validate every signature of ``pdf`` against our root CA(s); no network access."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    except PdfReadError:
        raise ValidationFailed("文件不是有效的 PDF / the file is not a valid PDF",
                               fields={"file": ["文件不是有效的 PDF / not a valid PDF"]}) from None
    roots = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in ca.trusted_roots()]
    reports = []
    for embedded in reader.embedded_signatures:
        context = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
        try:
            status = _outside_event_loop(
                lambda e=embedded, c=context: validate_pdf_signature(e, signer_validation_context=c))
        except Exception as exc:  # a malformed signature is reported as invalid, not a crash
            reports.append(SignatureReport(embedded.field_name or "?", "", "", "", "", "", "", False, False,
                                           False, False, f"无法校验 / cannot validate: {exc}"))
            continue
        cert = status.signing_cert
        subject = cert.subject.native if cert is not None else {}
        unit = subject.get("organizational_unit_name", "") if isinstance(subject, dict) else ""
        seal_type, _, code = (unit if isinstance(unit, str) else " ".join(unit)).partition(" ")
        seal = Seal.objects.filter(code=code).select_related("organization").first() if code else None
        when = status.signer_reported_dt
        coverage = getattr(status, "coverage", None)
        reports.append(SignatureReport(
            field=embedded.field_name or "",
            signer=cert.subject.human_friendly if cert is not None else "",
            seal_code=code,
            seal_name=seal.name if seal else subject.get("common_name", ""),
            seal_type=seal.get_seal_type_display() if seal else seal_type,
            organization=seal.organization.name if seal else subject.get("organization_name", ""),
            signing_time=when.isoformat() if when else "",
            intact=bool(status.intact),
            valid=bool(status.valid),
            trusted=bool(status.trusted),
            covers_whole_file=bool(coverage is not None and coverage.name == "ENTIRE_FILE"),
            summary=status.summary(),
        ))
    return reports
