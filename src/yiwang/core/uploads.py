"""Upload checks: every file is judged by its content, its size and its name."""

from __future__ import annotations

import os
import re
import unicodedata

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from yiwang.core.errors import ValidationFailed

# extension → the magic bytes its content must start with
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    ".pdf": (b"%PDF-",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".docx": (b"PK\x03\x04",),
    ".xlsx": (b"PK\x03\x04",),
    ".doc": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    ".xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    ".ofd": (b"PK\x03\x04",),
}


def safe_name(name: str) -> str:
    base = os.path.basename(unicodedata.normalize("NFC", name or "")).strip()
    base = re.sub(r"[\x00-\x1f\\/:*?\"<>|]", "_", base)
    stem, ext = os.path.splitext(base)
    return (stem[:80] or "file") + ext.lower()


def check_upload(upload: UploadedFile, field: str, allowed: tuple[str, ...] = tuple(SIGNATURES)) -> UploadedFile:
    """Reject files whose name, size or content is not acceptable; returns the file renamed safely."""
    name = safe_name(upload.name)
    ext = os.path.splitext(name)[1]
    if ext not in allowed:
        raise ValidationFailed("文件类型不支持", fields={field: [
            f"只接受 {'、'.join(allowed)} 格式的文件 / only {', '.join(allowed)} files are accepted"]})
    limit = settings.YIWANG_MAX_UPLOAD_BYTES
    if upload.size is None or upload.size > limit:
        raise ValidationFailed("文件过大", fields={field: [
            f"文件不能超过 {limit // (1024 * 1024)} MB / file must not exceed {limit // (1024 * 1024)} MB"]})
    if upload.size == 0:
        raise ValidationFailed("文件为空", fields={field: ["文件内容为空 / the file is empty"]})
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    signatures = SIGNATURES.get(ext, ())  # a text format (.csv) has none: its reader judges the content
    if signatures and not any(head.startswith(sig) for sig in signatures):
        raise ValidationFailed("文件内容与扩展名不符", fields={field: [
            "文件内容与扩展名不符，请上传真实的文件 / the file's content does not match its extension"]})
    upload.name = name
    return upload
