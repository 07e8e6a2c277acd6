"""The RSA key that signs ID tokens (RS256), read while the settings load.

Production takes the PEM from ``YIWANG_OIDC_RSA_KEY`` and refuses to start without it.
Development and test installations without it generate one key, once, into
``var/oidc-dev-key.pem`` (mode 0600) and warn: tokens signed with it are for throwaway use.
Earlier keys, still published in the JWKS so tokens they signed verify until they expire, come
from ``YIWANG_OIDC_RSA_KEYS_INACTIVE`` (PEM blocks one after another). See docs/sso.md.

This module must not import Django models: the settings import it.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

ENV_KEY = "YIWANG_OIDC_RSA_KEY"
ENV_INACTIVE = "YIWANG_OIDC_RSA_KEYS_INACTIVE"
DEV_KEY_FILE = "oidc-dev-key.pem"
_PEM_RE = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL)


def _check_pem(text: str, where: str) -> str:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{where} 不是可用的 PEM 私钥 / {where} is not a usable PEM private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise ImproperlyConfigured(f"{where} 须为不少于2048位的 RSA 私钥 / {where} must be an RSA key of 2048+ bits")
    return text.strip() + "\n"


def _generate_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _development_key(var_dir: Path) -> str:
    path = Path(var_dir) / DEV_KEY_FILE
    if not path.exists():
        # Written to a private temporary file, then linked into place: two processes starting
        # together (test workers, server workers) end up with the same key, never half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".oidc-key-")
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, _generate_pem())
            os.close(fd)
            try:
                os.link(tmp, path)
                warnings.warn(f"{ENV_KEY} 未设置，已生成开发用签名密钥 {path}（仅限开发和测试）/ {ENV_KEY} is not "
                              f"set: generated a development signing key at {path}", RuntimeWarning, stacklevel=3)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    return _check_pem(path.read_text(), str(path))


def signing_key(*, production: bool, var_dir: Path, environ: dict | None = None) -> str:
    """The PEM of the current ID-token signing key."""
    env = os.environ if environ is None else environ
    pem = env.get(ENV_KEY, "").strip()
    if pem:
        return _check_pem(pem.replace("\\n", "\n"), ENV_KEY)
    if production:
        raise ImproperlyConfigured(f"生产环境必须设置 {ENV_KEY}（PEM 格式的 RSA 私钥）/ {ENV_KEY} (an RSA private key "
                                   "in PEM) must be set in production")
    return _development_key(var_dir)


def inactive_keys(environ: dict | None = None) -> list[str]:
    """Retired signing keys, still published so the tokens they signed verify until they expire."""
    env = os.environ if environ is None else environ
    raw = env.get(ENV_INACTIVE, "").replace("\\n", "\n")
    return [_check_pem(block, ENV_INACTIVE) for block in _PEM_RE.findall(raw)]
