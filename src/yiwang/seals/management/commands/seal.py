"""``yiwang seal``: verify a signed PDF, show the CA chain, rotate or list signing keys."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from yiwang.core.errors import DomainError


class Command(BaseCommand):
    help = "电子印章与签名密钥 / seals and signing keys: verify FILE.pdf | ca-info | keys | rotate PURPOSE | rewrap"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="校验 PDF 上的每个签章 / validate every signature of a PDF")
        verify.add_argument("file")
        ca_info = sub.add_parser("ca-info", help="显示证书链 / print the CA chain")
        ca_info.add_argument("--pem", action="store_true", help="同时输出 PEM / print the PEM too")
        sub.add_parser("keys", help="列出签名密钥 / list signing keys")
        rotate = sub.add_parser("rotate", help="轮换签名密钥 / rotate the signing key of a purpose")
        rotate.add_argument("purpose")
        rotate.add_argument("--algorithm", choices=["ES256", "SM2SM3"], default=None)
        sub.add_parser("rewrap", help="用当前 YIWANG_SEAL_KEK 重新加密全部私钥 / re-encrypt every private key "
                                      "under the current YIWANG_SEAL_KEK")

    def handle(self, *args, action, **options):
        try:
            return getattr(self, "_" + action.replace("-", "_"))(**options)
        except DomainError as exc:
            raise CommandError(exc.message) from None

    def _verify(self, file, **_):
        from yiwang.seals.pdfsign import verify_pdf

        path = Path(file)
        if not path.is_file():
            raise CommandError(f"文件不存在 / no such file: {file}")
        reports = verify_pdf(path.read_bytes())
        if not reports:
            raise CommandError("文件中没有签章 / the file carries no signature")
        for n, r in enumerate(reports, 1):
            self.stdout.write(f"签章 #{n} / signature #{n}（{r.field}）")
            self.stdout.write(f"  签名者 / signer: {r.signer}")
            self.stdout.write(f"  印章 / seal: {r.seal_name}（{r.seal_type}，编码 {r.seal_code or '—'}）")
            self.stdout.write(f"  机构 / organisation: {r.organization}")
            self.stdout.write(f"  签署时间 / signing time: {r.signing_time or '—'}")
            self.stdout.write("  完整性 / integrity: " + ("未被修改 / intact" if r.intact and r.valid
                                                        else "已被修改或签名无效 / MODIFIED or invalid"))
            self.stdout.write("  信任 / trust: " + ("链接到平台根证书 / chains to our root" if r.trusted
                                                   else "不受信任 / NOT trusted"))
            if not r.covers_whole_file:
                self.stdout.write("  范围 / coverage: 签章后文件有追加内容 / content was added after signing")
            self.stdout.write(f"  结论 / result: {'有效 / VALID' if r.ok else '无效 / INVALID'}（{r.summary}）")
        if not all(r.ok for r in reports):
            raise CommandError("签章校验未通过 / signature validation failed")

    def _ca_info(self, pem=False, **_):
        from yiwang.seals import ca

        for entry in ca.chain_info():
            self.stdout.write(f"{entry['level']}")
            self.stdout.write(f"  主体 / subject: {entry['subject']}")
            self.stdout.write(f"  签发者 / issuer: {entry['issuer']}")
            self.stdout.write(f"  序列号 / serial: {entry['serial']}")
            self.stdout.write(f"  有效期 / valid: {entry['not_before']:%Y-%m-%d} — {entry['not_after']:%Y-%m-%d}")
            self.stdout.write(f"  SHA-256: {entry['sha256']}")
            if pem:
                self.stdout.write(entry["pem"])

    def _keys(self, **_):
        from yiwang.seals.models import SigningKey

        keys = SigningKey.objects.order_by("purpose", "algorithm", "-not_before")
        for key in keys:
            self.stdout.write(f"{key.kid}\t{key.algorithm}\t{key.state}\t{key.not_after:%Y-%m-%d}")
        if not keys:
            self.stdout.write("还没有签名密钥（首次签名时创建）/ no signing key yet (made on first use)")

    def _rewrap(self, **_):
        from yiwang.seals import services

        count = services.rewrap_private_keys()
        self.stdout.write(f"已重新加密 {count} 个私钥 / re-wrapped {count} private keys")

    def _rotate(self, purpose, algorithm=None, **_):
        from yiwang.seals import signing

        key = signing.rotate(purpose, algorithm)
        self.stdout.write(f"新密钥 / new key: {key.kid}（{key.algorithm}，至 {key.not_after:%Y-%m-%d}）")
