"""Signing and verifying compact payloads (certificate records, webhooks, QR codes) with managed keys.

Public interface (other apps code against exactly these)::

    sign_payload(data, *, purpose="certificates", algorithm=None) -> Signed(kid, alg, signature)
    verify_payload(kid, data, signature, *, jwks=None) -> bool      # UnknownKey for an unknown kid
    jwks() -> dict                                                  # RFC 7517 key set, /.well-known/jwks.json

Algorithms: ``ES256`` (ECDSA P-256 with SHA-256, the default) and ``SM2SM3`` (SM2 with SM3, user id
``1234567812345678``). Signatures are the raw ``r‖s`` (64 bytes) as in JWS, for both algorithms.
Keys are created on first use per (purpose, algorithm); a key past ``not_after`` is retired (it
still verifies) and a new one signs; :func:`rotate` does the same on demand.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import re
import time
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from django.db import IntegrityError, transaction
from django.utils import timezone
from pysmx.SM2 import Sign as sm2_sign
from pysmx.SM2 import Verify as sm2_verify
from pysmx.SM2._SM2 import get_random_str as sm2_random_nonce
from pysmx.SM2._SM2 import sm2_G

from yiwang.core import audit
from yiwang.core.crypto import _b64url, _setting
from yiwang.core.errors import DomainError, StateError, ValidationFailed
from yiwang.seals import keystore
from yiwang.seals.models import KeyState, SigningKey

logger = logging.getLogger(__name__)

ES256 = "ES256"
SM2SM3 = "SM2SM3"
ALGORITHMS = (ES256, SM2SM3)
SM2_DISTID = b"1234567812345678"
DEFAULT_KEY_DAYS = 365
_PURPOSE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
# Public keys are immutable; their state (retired/destroyed) is re-read at most this often.
_CACHE_SECONDS = 30.0
_public_cache: dict[str, tuple[float, str, object]] = {}


class UnknownKey(DomainError):
    """The key id is not one of ours (or the given key set), or the key was destroyed."""

    status = 400
    code = "unknown_key"


@dataclass(frozen=True)
class Signed:
    kid: str
    alg: str
    signature: bytes


# ------------------------------------------------------------------------- settings


def default_algorithm() -> str:
    value = _setting("YIWANG_SIGNING_ALGORITHM") or ES256
    return _check_algorithm(value.upper())


def key_days() -> int:
    raw = _setting("YIWANG_SIGNING_KEY_DAYS")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_KEY_DAYS


def _check_algorithm(algorithm: str) -> str:
    if algorithm not in ALGORITHMS:
        raise ValidationFailed(f"不支持的签名算法 {algorithm}（可选 ES256、SM2SM3）/ unsupported algorithm {algorithm}",
                               fields={"algorithm": ["签名算法只能是 ES256 或 SM2SM3 / must be ES256 or SM2SM3"]})
    return algorithm


def _check_purpose(purpose: str) -> str:
    if not isinstance(purpose, str) or not _PURPOSE_RE.match(purpose):
        raise ValidationFailed("密钥用途只能含小写字母、数字、_、- / purpose must be lower-case letters, digits, _ or -",
                               fields={"purpose": ["用途格式不正确 / invalid purpose"]})
    return purpose


# ------------------------------------------------------------------------- keys


def _new_key(purpose: str, algorithm: str) -> SigningKey:
    from yiwang.seals import ca

    scalar, point = keystore.new_p256() if algorithm == ES256 else keystore.new_sm2()
    now = timezone.now()
    kid = f"{purpose}-{algorithm.lower()}-{now:%Y%m%d}-{_b64url(os.urandom(6))}"
    issued = ca.issue(common_name=f"签名密钥 {kid}", organization=ca._org_name(), unit=purpose,
                      public_point=point, algorithm=algorithm, days=key_days())
    key = SigningKey.objects.create(
        kid=kid, purpose=purpose, algorithm=algorithm, public_point=point,
        private_key_encrypted=keystore.seal_private(scalar, f"kid:{kid}"), certificate_pem=issued.pem,
        not_before=now, not_after=issued.not_after, state=KeyState.ACTIVE)
    audit.record("seals.key_created", "seals.SigningKey", kid,
                 after={"kid": kid, "purpose": purpose, "algorithm": algorithm},
                 detail={"not_after": key.not_after.isoformat(), "certificate_serial": issued.serial})
    return key


def _retire(key: SigningKey, reason: str) -> None:
    updated = SigningKey.objects.filter(pk=key.pk, state=KeyState.ACTIVE).update(
        state=KeyState.RETIRED, retired_at=timezone.now())
    if updated:
        audit.record("seals.key_retired", "seals.SigningKey", key.kid, detail={"reason": reason})
    _public_cache.pop(key.kid, None)


def current_key(purpose: str = "certificates", algorithm: str | None = None) -> SigningKey:
    """The key that signs now for ``purpose``: created on first use, replaced when expired."""
    purpose = _check_purpose(purpose)
    algorithm = _check_algorithm(algorithm.upper()) if algorithm else default_algorithm()
    for _ in range(3):
        key = SigningKey.objects.filter(purpose=purpose, algorithm=algorithm, state=KeyState.ACTIVE).first()
        # A small margin so a signature is never made in the key's last second.
        if key and key.not_after > timezone.now() + dt.timedelta(seconds=5):
            return key
        try:
            with transaction.atomic():
                if key:
                    _retire(key, "expired")
                return _new_key(purpose, algorithm)
        except IntegrityError:  # another process made the key at the same moment
            continue
    raise RuntimeError("could not establish a signing key")  # pragma: no cover


def rotate(purpose: str = "certificates", algorithm: str | None = None) -> SigningKey:
    """Retire the active key of ``purpose`` (it keeps verifying) and make a new one."""
    purpose = _check_purpose(purpose)
    algorithm = _check_algorithm(algorithm.upper()) if algorithm else default_algorithm()
    with transaction.atomic():
        for key in SigningKey.objects.select_for_update().filter(purpose=purpose, algorithm=algorithm,
                                                                 state=KeyState.ACTIVE):
            _retire(key, "rotated")
        return _new_key(purpose, algorithm)


def destroy(kid: str) -> None:
    """Destroy a retired key: its private part is erased and it no longer verifies or appears in the JWKS."""
    with transaction.atomic():
        key = SigningKey.objects.select_for_update().filter(kid=kid).first()
        if key is None:
            raise UnknownKey(f"未知的密钥编号 {kid} / unknown key id {kid}")
        if key.state == KeyState.ACTIVE:
            raise StateError("使用中的密钥不能销毁，请先轮换 / rotate an active key before destroying it")
        key.state, key.private_key_encrypted = KeyState.DESTROYED, ""
        key.save(update_fields=["state", "private_key_encrypted"])
        audit.record("seals.key_destroyed", "seals.SigningKey", kid)
    _public_cache.pop(kid, None)


# ------------------------------------------------------------------------- sign / verify


@lru_cache(maxsize=256)
def _sm2_za(point_hex: str) -> bytes:
    """Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A) (GB/T 32918.2), once per public key."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(len(SM2_DISTID * 8).to_bytes(2, "big") + SM2_DISTID)
    digest.update(keystore.SM2_A.to_bytes(32, "big") + keystore.SM2_B.to_bytes(32, "big"))
    digest.update(bytes.fromhex(sm2_G) + bytes.fromhex(point_hex)[1:])
    return digest.finalize()


def _sm2_digest(point_hex: str, data: bytes) -> str:
    """e = SM3(Z_A ‖ M), hex. SM3 through ``cryptography`` (OpenSSL): the library's own SM3 is
    pure Python and took 40 % of a verification."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(_sm2_za(point_hex) + data)
    return digest.finalize().hex()


def _sm2_sign(scalar: bytes, point_hex: str, data: bytes) -> bytes:
    e = _sm2_digest(point_hex, data)
    while True:  # Sign returns None for the rare degenerate nonce; draw another
        signature = sm2_sign(e, scalar.hex(), sm2_random_nonce(64), 64, Hexstr=1)
        if signature:
            return signature


def _sm2_verify(point_hex: str, data: bytes, signature: bytes) -> bool:
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (0 < r < keystore.SM2_N and 0 < s < keystore.SM2_N):
        return False
    return bool(sm2_verify(signature, _sm2_digest(point_hex, data), point_hex[2:], 64, Hexstr=1))


def _es256_verify(public_key: ec.EllipticCurvePublicKey, data: bytes, signature: bytes) -> bool:
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def sign_payload(data: bytes, *, purpose: str = "certificates", algorithm: str | None = None) -> Signed:
    """Sign ``data`` with the current key of ``purpose``; returns the kid, algorithm and raw signature."""
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("data must be bytes")
    key = current_key(purpose, algorithm)
    scalar = keystore.open_private(key.private_key_encrypted, f"kid:{key.kid}")
    if key.algorithm == ES256:
        der = keystore.p256_private(scalar).sign(bytes(data), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        signature = _sm2_sign(scalar, key.public_point, bytes(data))
    return Signed(kid=key.kid, alg=key.algorithm, signature=signature)


def _public_from_db(kid: str) -> tuple[str, object]:
    now = time.monotonic()
    cached = _public_cache.get(kid)
    if cached and cached[0] > now:
        return cached[1], cached[2]
    key = SigningKey.objects.filter(kid=kid).exclude(state=KeyState.DESTROYED).only(
        "algorithm", "public_point").first()
    if key is None:
        _public_cache.pop(kid, None)
        raise UnknownKey(f"未知的密钥编号 {kid}（不存在或已销毁）/ unknown key id {kid}")
    public = keystore.p256_public(key.public_point) if key.algorithm == ES256 else key.public_point
    _public_cache[kid] = (now + _CACHE_SECONDS, key.algorithm, public)
    return key.algorithm, public


def _public_from_jwks(kid: str, document: dict) -> tuple[str, object]:
    keys = document.get("keys") if isinstance(document, dict) else None
    for jwk in keys if isinstance(keys, list) else []:
        if not isinstance(jwk, dict) or jwk.get("kid") != kid:
            continue
        try:
            x, y = _unb64(jwk["x"]), _unb64(jwk["y"])
            if jwk.get("kty") != "EC" or len(x) != 32 or len(y) != 32:
                raise ValueError
            point = "04" + x.hex() + y.hex()
            if jwk.get("crv") == "P-256" and jwk.get("alg", ES256) == ES256:
                return ES256, keystore.p256_public(point)
            if jwk.get("crv") == "SM2" and jwk.get("alg", SM2SM3) == SM2SM3:
                if not keystore.sm2_point_valid(int.from_bytes(x, "big"), int.from_bytes(y, "big")):
                    raise ValueError
                return SM2SM3, point
        except (KeyError, ValueError, TypeError):
            pass
        raise UnknownKey(f"密钥集中 {kid} 的公钥无效或算法不支持 / key {kid} in the key set is invalid or unsupported")
    raise UnknownKey(f"密钥集中没有密钥编号 {kid} / key id {kid} is not in the key set")


def verify_payload(kid: str, data: bytes, signature: bytes, *, jwks: dict | None = None) -> bool:
    """True when ``signature`` is a valid signature of ``data`` by key ``kid``.

    With ``jwks`` only that key set is consulted (offline verification); otherwise our active and
    retired keys. Raises :class:`UnknownKey` when the kid is not found.
    """
    algorithm, public = _public_from_jwks(kid, jwks) if jwks is not None else _public_from_db(kid)
    if not isinstance(signature, (bytes, bytearray)) or len(signature) != 64:
        return False
    data, signature = bytes(data), bytes(signature)
    if algorithm == ES256:
        return _es256_verify(public, data, signature)  # type: ignore[arg-type]
    return _sm2_verify(public, data, signature)  # type: ignore[arg-type]


# ------------------------------------------------------------------------- JWKS


def _unb64(text: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not base64url text")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk(key: SigningKey) -> dict:
    x, y = keystore.point_xy(key.public_point)
    entry = {"kty": "EC", "crv": "P-256" if key.algorithm == ES256 else "SM2", "x": _b64url(x), "y": _b64url(y),
             "kid": key.kid, "alg": key.algorithm, "use": "sig"}
    if key.certificate_pem:
        # x5c: the key's certificate, issued by our CA (standard base64 of the DER).
        body = "".join(line for line in key.certificate_pem.splitlines() if not line.startswith("-----"))
        entry["x5c"] = [body]
    return entry


def jwks() -> dict:
    """Every public key that may still verify something (active and retired, not destroyed)."""
    keys = SigningKey.objects.exclude(state=KeyState.DESTROYED).order_by("purpose", "algorithm", "-not_before")
    return {"keys": [jwk(key) for key in keys]}

