"""Field-level protection of personal data (个人信息加密): encryption at rest and blind indexes.

Values such as citizen ID numbers, phone numbers and addresses are stored as versioned tokens::

    v1.<key id>.<algorithm>.<base64url(nonce | ciphertext | tag)>

``aesgcm`` is AES-256-GCM (the default); ``sm4gcm`` is SM4 in GCM mode (GB/T 32907, selectable
with ``YIWANG_DATA_CIPHER=sm4``). Nonces are 96 random bits. The associated data binds every
token to its header and to a *context* naming the column (``"identity.person.id_number"``), so a
token copied into another column, or with its header edited, does not decrypt.

Exact look-up goes through a blind index: a keyed hash (HMAC-SHA256, or HMAC-SM3 with SM4) of
the normalised value, computed with a separate key that is not rotated casually.

Configuration (Django settings first, then the process environment):

- ``YIWANG_DATA_KEYS`` — ``"k2:<base64>,k1:<base64>"``; the first key encrypts, every key
  decrypts (rotation).
- ``YIWANG_DATA_CIPHER`` — ``aes-gcm`` (default) or ``sm4``.
- ``YIWANG_INDEX_KEY`` — base64 key of the blind index.

Outside production a missing key falls back to one derived from ``SECRET_KEY`` (with a warning);
in production it raises ``ImproperlyConfigured`` at first use. See ``docs/keys.md``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from yiwang.core.errors import DomainError

logger = logging.getLogger(__name__)

TOKEN_VERSION = "v1"
AES_GCM = "aesgcm"
SM4_GCM = "sm4gcm"
CIPHERS = {"aes-gcm": AES_GCM, "sm4": SM4_GCM}
NONCE_BYTES = 12
TAG_BYTES = 16
INDEX_KEY_MIN_BYTES = 32
_KEY_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
DEV_KEY_ID = "dev"


class DecryptionFailed(DomainError):
    """A stored value could not be decrypted: altered, from another column, or its key is gone.

    This is never the user's fault, so it maps to a server error; the message never contains
    the value.
    """

    status = 500
    code = "undecryptable"


# ------------------------------------------------------------------------- configuration


def _setting(name: str) -> str:
    """A configuration value: the Django setting if set and not empty, else the environment."""
    value = getattr(settings, name, None)
    if value in (None, ""):
        value = os.environ.get(name, "")
    return str(value).strip()


def _b64decode_key(text: str, what: str) -> bytes:
    """Standard or URL-safe base64, padding optional."""
    text = text.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(f"{what} 不是有效的 base64 / {what} is not valid base64") from None


@dataclass(frozen=True)
class DataKeys:
    """The parsed ``YIWANG_DATA_KEYS``: the current key id and every key by id."""

    current: str
    algorithm: str
    keys: dict[str, bytes] = field(repr=False)
    # Derived keys and cipher objects, filled on first use.
    _cache: dict[tuple[str, str], object] = field(default_factory=dict, compare=False, repr=False)

    def key_for(self, key_id: str, algorithm: str) -> bytes:
        cached = self._cache.get((key_id, algorithm))
        if cached is None:
            cached = self._cache[(key_id, algorithm)] = self._derive(key_id, algorithm)
        return cached  # type: ignore[return-value]

    def _derive(self, key_id: str, algorithm: str) -> bytes:
        raw = self.keys[key_id]
        if algorithm == AES_GCM:
            if len(raw) != 32:
                raise ImproperlyConfigured(
                    f"密钥 {key_id} 长度应为32字节（AES-256）/ key {key_id} must be 32 bytes for AES-256")
            return raw
        if len(raw) == 16:
            return raw
        # A 32-byte key also serves SM4: derive a separate 128-bit key rather than reuse its bytes.
        return HKDF(algorithm=hashes.SM3(), length=16, salt=None, info=b"yiwang sm4 data key").derive(raw)

    def aesgcm(self, key_id: str) -> AESGCM:
        cached = self._cache.get((key_id, "aead"))
        if cached is None:
            cached = self._cache[(key_id, "aead")] = AESGCM(self.key_for(key_id, AES_GCM))
        return cached  # type: ignore[return-value]


_warned: set[str] = set()


def _warn_development_key(name: str) -> None:
    if name not in _warned:
        _warned.add(name)
        logger.warning("%s 未设置，使用由 SECRET_KEY 派生的开发密钥，切勿用于生产 / "
                       "%s is not set: using a development key derived from SECRET_KEY", name, name)


def _dev_key(purpose: bytes) -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), b"yiwang development " + purpose, hashlib.sha256).digest()


def _require_sm4_gcm() -> None:
    try:
        Cipher(algorithms.SM4(bytes(16)), modes.GCM(bytes(NONCE_BYTES))).encryptor()
    except UnsupportedAlgorithm:
        raise ImproperlyConfigured(
            "当前 cryptography/OpenSSL 不支持 SM4-GCM / this cryptography build has no SM4-GCM") from None


@lru_cache(maxsize=16)
def _parse_data_keys(raw: str, cipher: str, production: bool, secret_key: str) -> DataKeys:
    algorithm = CIPHERS.get(cipher.lower() or "aes-gcm")
    if algorithm is None:
        raise ImproperlyConfigured(
            f"YIWANG_DATA_CIPHER 只能是 aes-gcm 或 sm4（当前为 {cipher!r}）/ must be aes-gcm or sm4")
    if algorithm == SM4_GCM:
        _require_sm4_gcm()
    if not raw:
        if production:
            raise ImproperlyConfigured(
                "生产环境必须设置 YIWANG_DATA_KEYS / YIWANG_DATA_KEYS must be set in production")
        _warn_development_key("YIWANG_DATA_KEYS")
        return DataKeys(DEV_KEY_ID, algorithm, {DEV_KEY_ID: _dev_key(b"data key")})
    keys: dict[str, bytes] = {}
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        key_id, sep, material = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID_RE.match(key_id):
            raise ImproperlyConfigured(
                "YIWANG_DATA_KEYS 的每一项应为 \"密钥编号:base64密钥\"，编号只含字母、数字、_、- / "
                "each YIWANG_DATA_KEYS entry must be \"keyid:base64key\"")
        if key_id in keys:
            raise ImproperlyConfigured(f"YIWANG_DATA_KEYS 中密钥编号 {key_id} 重复 / duplicate key id {key_id}")
        material_bytes = _b64decode_key(material, f"YIWANG_DATA_KEYS[{key_id}]")
        if len(material_bytes) not in (16, 32):
            raise ImproperlyConfigured(
                f"密钥 {key_id} 应为32字节（SM4 也可用16字节）/ key {key_id} must be 32 bytes (16 for SM4 only)")
        keys[key_id] = material_bytes
    if not keys:
        raise ImproperlyConfigured("YIWANG_DATA_KEYS 没有任何密钥 / YIWANG_DATA_KEYS holds no key")
    data_keys = DataKeys(next(iter(keys)), algorithm, keys)
    data_keys.key_for(data_keys.current, algorithm)  # the current key must suit the cipher
    return data_keys


def data_keys() -> DataKeys:
    return _parse_data_keys(_setting("YIWANG_DATA_KEYS"), _setting("YIWANG_DATA_CIPHER"),
                            bool(getattr(settings, "PRODUCTION", False)), settings.SECRET_KEY)


@lru_cache(maxsize=16)
def _parse_index_key(raw: str, production: bool, secret_key: str) -> bytes:
    if not raw:
        if production:
            raise ImproperlyConfigured(
                "生产环境必须设置 YIWANG_INDEX_KEY / YIWANG_INDEX_KEY must be set in production")
        _warn_development_key("YIWANG_INDEX_KEY")
        return _dev_key(b"index key")
    key = _b64decode_key(raw, "YIWANG_INDEX_KEY")
    if len(key) < INDEX_KEY_MIN_BYTES:
        raise ImproperlyConfigured("YIWANG_INDEX_KEY 至少32字节 / YIWANG_INDEX_KEY must be at least 32 bytes")
    return key


def index_key() -> bytes:
    return _parse_index_key(_setting("YIWANG_INDEX_KEY"), bool(getattr(settings, "PRODUCTION", False)),
                            settings.SECRET_KEY)


def generate_key() -> str:
    """A new random 256-bit key, base64-encoded, for ``YIWANG_DATA_KEYS`` or ``YIWANG_INDEX_KEY``."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


# ------------------------------------------------------------------------- tokens


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise DecryptionFailed("加密数据格式错误 / malformed encrypted value") from None
    if _b64url(data) != text:  # only the canonical spelling is accepted
        raise DecryptionFailed("加密数据格式错误 / malformed encrypted value")
    return data


def _aad(key_id: str, algorithm: str, context: str) -> bytes:
    return f"{TOKEN_VERSION}.{key_id}.{algorithm}.{context}".encode()


def _check_context(context: str) -> None:
    if not isinstance(context, str) or not context:
        raise ValueError("context must name the field, e.g. 'identity.person.id_number'")


@dataclass(frozen=True)
class TokenHeader:
    version: str
    key_id: str
    algorithm: str


def parse_token(token: str) -> tuple[TokenHeader, bytes]:
    """Split a token into its header and payload; raises ``DecryptionFailed`` if malformed."""
    if not isinstance(token, str):
        raise DecryptionFailed("加密数据格式错误 / malformed encrypted value")
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != TOKEN_VERSION:
        raise DecryptionFailed("加密数据格式错误或版本不支持 / malformed or unsupported encrypted value")
    _, key_id, algorithm, payload = parts
    if algorithm not in (AES_GCM, SM4_GCM) or not _KEY_ID_RE.match(key_id):
        raise DecryptionFailed("加密数据格式错误 / malformed encrypted value")
    data = _unb64url(payload)
    if len(data) < NONCE_BYTES + TAG_BYTES:
        raise DecryptionFailed("加密数据格式错误 / malformed encrypted value")
    return TokenHeader(TOKEN_VERSION, key_id, algorithm), data


def encrypt(plaintext: str, context: str) -> str:
    """Encrypt ``plaintext`` for the column named by ``context`` with the current key."""
    if not isinstance(plaintext, str):
        raise TypeError("only text is encrypted; convert the value to str first")
    _check_context(context)
    keys = data_keys()
    key_id, algorithm = keys.current, keys.algorithm
    nonce = os.urandom(NONCE_BYTES)
    aad = _aad(key_id, algorithm, context)
    data = plaintext.encode("utf-8")
    if algorithm == AES_GCM:
        sealed = keys.aesgcm(key_id).encrypt(nonce, data, aad)
    else:
        encryptor = Cipher(algorithms.SM4(keys.key_for(key_id, SM4_GCM)), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        sealed = encryptor.update(data) + encryptor.finalize() + encryptor.tag
    return f"{TOKEN_VERSION}.{key_id}.{algorithm}.{_b64url(nonce + sealed)}"


def decrypt(token: str, context: str) -> str:
    """Decrypt a token made by :func:`encrypt` for the same ``context``.

    Raises ``DecryptionFailed`` if the token was altered, belongs to another context, or its key
    is no longer configured.
    """
    _check_context(context)
    header, data = parse_token(token)
    keys = data_keys()
    if header.key_id not in keys.keys:
        raise DecryptionFailed(
            f"数据密钥 {header.key_id} 未配置，无法解密 / key {header.key_id} is not configured")
    nonce, sealed = data[:NONCE_BYTES], data[NONCE_BYTES:]
    aad = _aad(header.key_id, header.algorithm, context)
    try:
        if header.algorithm == AES_GCM:
            plain = keys.aesgcm(header.key_id).decrypt(nonce, sealed, aad)
        else:
            body, tag = sealed[:-TAG_BYTES], sealed[-TAG_BYTES:]
            key = keys.key_for(header.key_id, SM4_GCM)
            decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
            decryptor.authenticate_additional_data(aad)
            plain = decryptor.update(body) + decryptor.finalize()
    except InvalidTag:
        raise DecryptionFailed(
            f"加密数据校验失败（被篡改或不属于 {context}）/ encrypted value failed its check "
            f"(altered, or not a value of {context})") from None
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:  # pragma: no cover - authenticated data is always our own UTF-8
        raise DecryptionFailed("加密数据内容无效 / decrypted value is not text") from None


def needs_rotation(token: str) -> bool:
    """True when the token was not made with the current key and cipher."""
    header, _ = parse_token(token)
    keys = data_keys()
    return (header.key_id, header.algorithm) != (keys.current, keys.algorithm)


def rotate(token: str, context: str) -> str:
    """The token re-encrypted with the current key and cipher (unchanged if already current)."""
    if not needs_rotation(token):
        return token
    return encrypt(decrypt(token, context), context)


def current_token_prefix() -> str:
    """Every token made now starts with this; stored values that do not need rotation."""
    keys = data_keys()
    return f"{TOKEN_VERSION}.{keys.current}.{keys.algorithm}."


def is_token(value: object) -> bool:
    """Whether ``value`` looks like a token (the format, not whether it decrypts)."""
    try:
        parse_token(value)  # type: ignore[arg-type]
    except DecryptionFailed:
        return False
    return True


# ------------------------------------------------------------------------- blind index


def normalise_text(value: str) -> str:
    """Default normaliser: surrounding white space does not change the index."""
    return value.strip()


def normalise_id_number(value: str) -> str:
    """ID numbers and credit codes: no spaces, upper case (a typed ``x`` matches ``X``)."""
    return "".join(value.split()).upper()


def normalise_phone(value: str) -> str:
    """Phone numbers: digits only, without the +86 / 0086 country prefix of a mobile number."""
    digits = "".join(c for c in value if c.isdigit())
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11 and digits[len(prefix)] == "1":
            return digits[len(prefix):]
    return digits


def index_algorithm() -> str:
    """``hmac-sm3`` when SM4 is the cipher, else ``hmac-sha256``."""
    return "hmac-sm3" if data_cipher() == SM4_GCM else "hmac-sha256"


def data_cipher() -> str:
    algorithm = CIPHERS.get(_setting("YIWANG_DATA_CIPHER").lower() or "aes-gcm")
    if algorithm is None:
        raise ImproperlyConfigured("YIWANG_DATA_CIPHER 只能是 aes-gcm 或 sm4 / must be aes-gcm or sm4")
    return algorithm


def blind_index(value: str, context: str, normaliser: Callable[[str], str] = normalise_text) -> str:
    """The keyed hash used to find rows by an exact value (64 hex characters).

    The same value gives the same index in the same context; different contexts (and different
    index keys) give unrelated indexes.
    """
    if not isinstance(value, str):
        raise TypeError("only text is indexed; convert the value to str first")
    _check_context(context)
    message = f"{len(context)}:{context}".encode() + normaliser(value).encode("utf-8")
    key = index_key()
    if index_algorithm() == "hmac-sm3":
        mac = crypto_hmac.HMAC(key, hashes.SM3())
        mac.update(message)
        return mac.finalize().hex()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
