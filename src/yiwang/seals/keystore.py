"""Key material for seals and signing keys: generation, encryption at rest, and loading.

Private keys (32-byte scalars of P-256 or SM2) are stored as ``kek1.<kek id>.<base64url(nonce|ct|tag)>``,
AES-256-GCM under the key-encryption key ``YIWANG_SEAL_KEK`` (base64 of 32 bytes), with the
owner's name (a kid, ``ca:root``, ``seal:<code>``) as associated data so a ciphertext moved to
another row does not decrypt. Without ``YIWANG_SEAL_KEK`` a development key derived from
``SECRET_KEY`` is used (with a warning); in production that is refused.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from pysmx.SM2 import generate_keypair as sm2_generate_keypair

from yiwang.core.crypto import (DecryptionFailed, _b64decode_key, _b64url, _dev_key, _setting, _unb64url,
                                _warn_development_key)

KEK_SETTING = "YIWANG_SEAL_KEK"
# Former KEKs (comma-separated base64) that still unwrap keys until `yiwang seal rewrap` has run.
PREVIOUS_SETTING = "YIWANG_SEAL_KEK_PREVIOUS"
_PREFIX = "kek1"

# SM2 curve (GB/T 32918.5) for checking that a published point lies on it.
SM2_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
SM2_A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
SM2_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


def _kek_from_base64(raw: str, what: str) -> tuple[str, AESGCM]:
    key = _b64decode_key(raw, what)
    if len(key) != 32:
        raise ImproperlyConfigured(f"{what} 应为32字节（base64）/ {what} must be 32 bytes")
    return _kek_id(key), AESGCM(key)


def _kek_id(key: bytes) -> str:
    return hashlib.sha256(b"yiwang kek id" + key).hexdigest()[:8]


@lru_cache(maxsize=4)
def _parse_kek(raw: str, production: bool, secret_key: str) -> tuple[str, AESGCM]:
    if raw:
        return _kek_from_base64(raw, KEK_SETTING)
    if production:
        raise ImproperlyConfigured(f"生产环境必须设置 {KEK_SETTING} / {KEK_SETTING} must be set in production")
    _warn_development_key(KEK_SETTING)
    key = _dev_key(b"seal key-encryption key")
    return _kek_id(key), AESGCM(key)


@lru_cache(maxsize=4)
def _parse_previous(raw: str) -> dict[str, AESGCM]:
    found = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        kek_id, cipher = _kek_from_base64(part, PREVIOUS_SETTING)
        found[kek_id] = cipher
    return found


def kek() -> tuple[str, AESGCM]:
    """The key-encryption key's short id and cipher."""
    return _parse_kek(_setting(KEK_SETTING), bool(getattr(settings, "PRODUCTION", False)), settings.SECRET_KEY)


def _cipher_for(kek_id: str) -> AESGCM | None:
    current_id, cipher = kek()
    if kek_id == current_id:
        return cipher
    return _parse_previous(_setting(PREVIOUS_SETTING)).get(kek_id)


def seal_private(scalar: bytes, owner: str) -> str:
    kek_id, cipher = kek()
    nonce = os.urandom(12)
    return f"{_PREFIX}.{kek_id}.{_b64url(nonce + cipher.encrypt(nonce, scalar, owner.encode()))}"


def open_private(token: str, owner: str) -> bytes:
    try:
        prefix, kek_id, payload = token.split(".")
    except ValueError:
        raise DecryptionFailed("私钥密文格式错误 / malformed private key ciphertext") from None
    cipher = _cipher_for(kek_id) if prefix == _PREFIX else None
    if cipher is None:
        raise DecryptionFailed(f"私钥由另一把密钥加密密钥（{kek_id}）保护，请配置正确的 {KEK_SETTING} / "
                               f"private key of {owner} is wrapped by another {KEK_SETTING} ({kek_id})")
    data = _unb64url(payload)
    try:
        return cipher.decrypt(data[:12], data[12:], owner.encode())
    except InvalidTag:
        raise DecryptionFailed(f"私钥密文校验失败 / private key of {owner} failed its check") from None


def needs_rewrap(token: str) -> bool:
    """True when ``token`` is not wrapped by the current KEK."""
    return bool(token) and not token.startswith(f"{_PREFIX}.{kek()[0]}.")


def rewrap(token: str, owner: str) -> str:
    """The same private key wrapped by the current KEK."""
    return seal_private(open_private(token, owner), owner) if needs_rewrap(token) else token


# ------------------------------------------------------------------------- key pairs


def new_p256() -> tuple[bytes, str]:
    """A new P-256 key: (32-byte private scalar, uncompressed public point in hex)."""
    key = ec.generate_private_key(ec.SECP256R1())
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    return scalar, p256_point_hex(key.public_key())


def new_sm2() -> tuple[bytes, str]:
    """A new SM2 key (pysmx draws the scalar from ``secrets``): (scalar, ``04``‖x‖y in hex)."""
    pair = sm2_generate_keypair()
    return pair.privateKey, "04" + pair.publicKey.hex()


def p256_point_hex(public_key: ec.EllipticCurvePublicKey) -> str:
    numbers = public_key.public_numbers()
    return "04" + numbers.x.to_bytes(32, "big").hex() + numbers.y.to_bytes(32, "big").hex()


def p256_private(scalar: bytes) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())


def p256_public(point_hex: str) -> ec.EllipticCurvePublicKey:
    """Raises ValueError when the point is not on the curve."""
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes.fromhex(point_hex))


def point_xy(point_hex: str) -> tuple[bytes, bytes]:
    raw = bytes.fromhex(point_hex)
    if len(raw) != 65 or raw[0] != 4:
        raise ValueError("not an uncompressed point")
    return raw[1:33], raw[33:]


def sm2_point_valid(x: int, y: int) -> bool:
    return 0 <= x < SM2_P and 0 <= y < SM2_P and (y * y - (x * x * x + SM2_A * x + SM2_B)) % SM2_P == 0
