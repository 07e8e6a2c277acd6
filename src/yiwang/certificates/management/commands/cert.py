"""``yiwang cert verify PAYLOAD [--jwks FILE_OR_URL]``: check a certificate QR payload offline.

Only the published public keys are used (a JWKS file, or the JWKS URL — by default the
platform's ``/.well-known/jwks.json``); the database is never consulted, so the answer is what
anyone outside the platform would get. Prints the fields and exits 0 when the signature holds and
the certificate is within its validity, 1 otherwise, 2 when the keys cannot be loaded.

``yiwang cert expire`` runs the expiry sweep once (the periodic job does it every hour).

``yiwang cert import FILE --type CODE --user NAME [--dry-run]`` imports historic certificates
(see ``yiwang.certificates.imports``).
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from yiwang.certificates import payload

JWKS_PATH = "/.well-known/jwks.json"
FIELD_NAMES = {"k": "签名密钥", "a": "签名算法", "i": "证照标识", "t": "证照类型代码", "n": "证照名称",
               "h": "持证主体", "vf": "有效期起", "vt": "有效期至", "ia": "颁证日期"}


def load_jwks(source: str, timeout: float = 10.0) -> dict:
    """A JWKS document from a file path or an http(s) URL."""
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=timeout) as response:  # noqa: S310 - the operator's URL
            document = json.loads(response.read().decode("utf-8"))
    else:
        document = json.loads(Path(source).read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document (no \"keys\" list)")
    return document


class Command(BaseCommand):
    help = "Electronic certificates: verify a QR payload offline with the published keys; run the expiry sweep."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="verify a QR payload (or verification URL) offline")
        verify.add_argument("payload", help="YWC1.… payload, the verification URL, or - to read standard input")
        verify.add_argument("--jwks", default="", help="JWKS file or URL (default: the platform's published JWKS)")
        verify.add_argument("--json", action="store_true", help="print the result as JSON")
        sub.add_parser("expire", help="mark certificates past their validity as 05 失效")
        imp = sub.add_parser("import", help="import historic certificates from CSV/XLSX (all or nothing)")
        imp.add_argument("file", help="the .csv or .xlsx file")
        imp.add_argument("--type", required=True, help="certificate type code")
        imp.add_argument("--user", required=True, help="staff username (catalog or organisation administrator)")
        imp.add_argument("--dry-run", action="store_true", help="validate only and print the report")

    def handle(self, *args, **opts):
        if opts["action"] == "import":
            from yiwang.certificates.imports import command_import

            return command_import(self, opts)
        if opts["action"] == "expire":
            from yiwang.certificates import services

            self.stdout.write(f"已失效 {services.expire_due()} 张 / expired")
            return
        text = sys.stdin.read() if opts["payload"] == "-" else opts["payload"]
        source = opts["jwks"] or getattr(settings, "YIWANG_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/") + JWKS_PATH
        try:
            keys = load_jwks(source)
        except (OSError, ValueError) as exc:
            self.stderr.write(f"无法读取公钥集 {source}：{exc} / cannot load the key set")
            sys.exit(2)
        result = payload.check_offline(text, jwks=keys)
        if opts["json"]:
            self.stdout.write(json.dumps({"result": result.outcome, "reason": result.reason, "claims": result.claims},
                                         ensure_ascii=False, indent=2))
        else:
            self.stdout.write(f"核验结果 / result: {result.outcome}（{payload.Outcome.LABELS.get(result.outcome, '')}）")
            self.stdout.write(f"原因 / reason: {result.reason}")
            for key, label in FIELD_NAMES.items():
                if key in result.claims:
                    self.stdout.write(f"{label}: {result.claims[key] or '长期'}")
            for name, value in (result.claims.get("f") or {}).items():
                self.stdout.write(f"{name}: {value}")
            self.stdout.write("（离线核验只能确认签名与有效期；是否已被暂扣或撤销请在线核验）")
        if not result.ok:
            raise CommandError(f"证照核验未通过：{result.outcome} / verification failed", returncode=1)
