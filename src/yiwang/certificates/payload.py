"""二维码载荷: the compact signed payload a certificate's QR code carries, verifiable offline.

Format: ``YWC1.<base64url(JSON)>.<base64url(signature)>`` (no padding). The signature is made by
the platform's signing service (``yiwang.seals.signing``) over the exact ASCII bytes of
``YWC1.<base64url(JSON)>``. The JSON uses short keys:

=====  ==============================================================
``k``  signing key id (kid, as published in the JWKS)
``a``  signature algorithm (JWS name, e.g. ``ES256``)
``i``  certificate identifier (GB/T 36904)
``t``  certificate type code
``n``  certificate type name
``h``  holder name, masked for persons
``f``  key fields ``{name: value}``, personal values masked
``vf`` valid from (``YYYY-MM-DD``)
``vt`` valid to (``YYYY-MM-DD``; empty for permanent)
``ia`` issued at (``YYYY-MM-DD``)
=====  ==============================================================

Anyone holding the published keys (``/.well-known/jwks.json``) can check a payload without
asking the platform; :func:`check_offline` is that check, used by the public page, the API and
``yiwang cert verify``. Whether the certificate has since been suspended or revoked is only known
online (``services.verify``).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
from typing import Any

PREFIX = "YWC1"
MAX_LENGTH = 4000  # far above any payload we make; refuses junk before decoding it


class Outcome:
    """Verification results, in the words integrators see."""

    VALID = "valid"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    FORGED = "forged"
    UNKNOWN_KEY = "unknown_key"
    MALFORMED = "malformed"
    NOT_FOUND = "not_found"

    LABELS = {
        VALID: "有效",
        REVOKED: "已撤销",
        SUSPENDED: "已暂扣",
        EXPIRED: "已失效",
        FORGED: "验证失败（签名不符，可能被伪造或篡改）",
        UNKNOWN_KEY: "无法验证（签名密钥未知）",
        MALFORMED: "无法识别（二维码内容格式不正确）",
        NOT_FOUND: "未找到该证照",
    }


class PayloadError(ValueError):
    """A payload that cannot be read; ``outcome`` is malformed, unknown_key or forged."""

    def __init__(self, outcome: str, reason: str):
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    if not text or any(c not in _B64_CHARS for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def claims_json(claims: dict[str, Any]) -> bytes:
    return json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signing_input(claims: dict[str, Any]) -> bytes:
    """The bytes that get signed: ``YWC1.<base64url(JSON)>``."""
    return f"{PREFIX}.{b64url(claims_json(claims))}".encode("ascii")


def make(claims: dict[str, Any], *, purpose: str = "certificates", _tries: int = 3) -> tuple[str, str]:
    """Sign ``claims`` (without ``k``/``a``, which are filled in) and return (payload, kid).

    The key id and algorithm are part of the signed JSON, so the current key is looked up first;
    should it be replaced between that and the signature, the payload is signed again.
    """
    from yiwang.seals import signing

    key = signing.current_key(purpose)
    data = signing_input({"k": key.kid, "a": key.algorithm, **claims})
    signed = signing.sign_payload(data, purpose=purpose)
    if signed.kid != key.kid and _tries > 1:
        return make(claims, purpose=purpose, _tries=_tries - 1)
    return f"{data.decode('ascii')}.{b64url(signed.signature)}", signed.kid


@dataclasses.dataclass
class Decoded:
    claims: dict[str, Any]
    signed_bytes: bytes
    signature: bytes

    @property
    def kid(self) -> str:
        return str(self.claims.get("k", ""))

    def date(self, key: str) -> dt.date | None:
        value = self.claims.get(key) or ""
        try:
            return dt.date.fromisoformat(value)
        except (TypeError, ValueError):
            return None


def extract(text: str) -> str:
    """The payload inside what was scanned or pasted: the payload itself or a verification URL."""
    text = (text or "").strip()
    for marker in ("?p=", "&p=", "#"):
        if marker in text and f"{PREFIX}." in text:
            text = text.split(marker, 1)[1].split("&", 1)[0]
            break
    return text.strip()


def decode(text: str) -> Decoded:
    """Split and decode a payload without checking its signature; raises PayloadError(malformed)."""
    text = extract(text)
    if not text:
        raise PayloadError(Outcome.MALFORMED, "未提供二维码内容 / no payload given")
    if len(text) > MAX_LENGTH:
        raise PayloadError(Outcome.MALFORMED, "二维码内容过长 / payload too long")
    parts = text.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise PayloadError(Outcome.MALFORMED,
                           f"二维码内容应为 {PREFIX}.数据.签名 三段 / payload must be {PREFIX}.<data>.<signature>")
    try:
        raw = unb64url(parts[1])
        signature = unb64url(parts[2])
        claims = json.loads(raw.decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise PayloadError(Outcome.MALFORMED, "二维码内容无法解码 / payload is not valid base64url JSON") from None
    if not isinstance(claims, dict) or not all(isinstance(claims.get(k), str) for k in ("k", "a", "i", "t")):
        raise PayloadError(Outcome.MALFORMED, "二维码内容缺少必要字段 / payload lacks required fields")
    if not isinstance(claims.get("f", {}), dict):
        raise PayloadError(Outcome.MALFORMED, "二维码内容的字段格式不正确 / key fields must be an object")
    return Decoded(claims=claims, signed_bytes=f"{parts[0]}.{parts[1]}".encode("ascii"), signature=signature)


def check_signature(decoded: Decoded, *, jwks: dict | None = None) -> None:
    """Raise PayloadError(unknown_key | forged) unless the signature verifies."""
    from yiwang.seals import signing

    try:
        good = signing.verify_payload(decoded.kid, decoded.signed_bytes, decoded.signature, jwks=jwks)
    except signing.UnknownKey:
        raise PayloadError(Outcome.UNKNOWN_KEY,
                           f"签名密钥 {decoded.kid[:40]} 不在已发布的公钥中 / unknown signing key id") from None
    except (ValueError, TypeError):
        good = False
    if not good:
        raise PayloadError(Outcome.FORGED, "签名验证失败，内容可能被伪造或篡改 / signature does not verify: "
                                           "the payload was forged or altered")


@dataclasses.dataclass
class OfflineResult:
    outcome: str
    reason: str
    claims: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.VALID


def check_offline(text: str, *, jwks: dict | None = None, today: dt.date | None = None) -> OfflineResult:
    """Everything that can be told from the payload and the keys alone: signature and dates."""
    try:
        decoded = decode(text)
        check_signature(decoded, jwks=jwks)
    except PayloadError as exc:
        return OfflineResult(exc.outcome, exc.reason, {})
    today = today or dt.date.today()
    valid_to = decoded.date("vt")
    valid_from = decoded.date("vf")
    if valid_to is not None and valid_to < today:
        return OfflineResult(Outcome.EXPIRED, f"证照有效期至 {valid_to:%Y-%m-%d}，已过期 / expired", decoded.claims)
    if valid_from is not None and valid_from > today:
        return OfflineResult(Outcome.EXPIRED, f"证照自 {valid_from:%Y-%m-%d} 起生效，尚未生效 / not yet valid",
                             decoded.claims)
    return OfflineResult(Outcome.VALID, "签名有效，证照在有效期内 / signature valid, within validity",
                         decoded.claims)
