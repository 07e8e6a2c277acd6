"""电子印章 and the keys behind them: signing keys, the internal CA, seals and their history.

Private keys are never stored in the clear: ``private_key_encrypted`` holds AES-256-GCM
ciphertext under the key-encryption key ``YIWANG_SEAL_KEK`` (see ``yiwang.seals.keystore``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class KeyState(models.TextChoices):
    ACTIVE = "active", "使用中"
    RETIRED = "retired", "已停用（仍可验签）"
    DESTROYED = "destroyed", "已销毁"


class SigningKey(models.Model):
    """签名密钥: a key pair that signs payloads for one purpose; published in the JWKS."""

    class Algorithm(models.TextChoices):
        ES256 = "ES256", "ECDSA P-256 / SHA-256"
        SM2SM3 = "SM2SM3", "SM2 / SM3"

    kid = models.CharField("密钥编号", max_length=64, unique=True)
    purpose = models.CharField("用途", max_length=40)
    algorithm = models.CharField("算法", max_length=10, choices=Algorithm.choices)
    public_point = models.CharField("公钥（未压缩点，十六进制）", max_length=130)
    private_key_encrypted = models.TextField("私钥（加密）")
    certificate_pem = models.TextField("证书", blank=True)
    not_before = models.DateTimeField("生效时间")
    not_after = models.DateTimeField("失效时间")
    state = models.CharField("状态", max_length=10, choices=KeyState.choices, default=KeyState.ACTIVE)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    retired_at = models.DateTimeField("停用时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "签名密钥"
        ordering = ["purpose", "-not_before"]
        constraints = [
            # One signing key at a time per purpose and algorithm, even with many processes.
            models.UniqueConstraint(fields=["purpose", "algorithm"], condition=Q(state="active"),
                                    name="seals_one_active_key_per_purpose"),
        ]

    def __str__(self) -> str:
        return self.kid


class AuthorityKey(models.Model):
    """内部证书机构: the root CA and the issuing CA (P-256), private keys encrypted."""

    class Level(models.TextChoices):
        ROOT = "root", "根 CA"
        ISSUING = "issuing", "签发 CA"

    level = models.CharField("层级", max_length=10, choices=Level.choices)
    name = models.CharField("名称", max_length=100)
    private_key_encrypted = models.TextField("私钥（加密）")
    certificate_pem = models.TextField("证书")
    serial = models.CharField("序列号", max_length=64)
    not_before = models.DateTimeField("生效时间")
    not_after = models.DateTimeField("失效时间")
    state = models.CharField("状态", max_length=10, choices=KeyState.choices, default=KeyState.ACTIVE)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "证书机构密钥"
        ordering = ["level", "-not_before"]
        constraints = [
            models.UniqueConstraint(fields=["level"], condition=Q(state="active"),
                                    name="seals_one_active_authority_per_level"),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} {self.name}"


class Seal(models.Model):
    """电子印章: an organisation's seal with its image, key and certificate."""

    class Type(models.TextChoices):
        OFFICIAL = "official", "公章"
        APPROVAL = "approval", "行政审批专用章"
        BUSINESS = "business", "业务专用章"
        CONTRACT = "contract", "合同专用章"
        FINANCE = "finance", "财务专用章"

    class State(models.TextChoices):
        APPLIED = "applied", "已申请"
        REVIEWED = "reviewed", "审核通过"
        PRODUCED = "produced", "已制作"
        FILED = "filed", "已备案"
        ACTIVE = "active", "启用"
        SUSPENDED = "suspended", "挂失/停用"
        REJECTED = "rejected", "审核不通过"
        REVOKED = "revoked", "已吊销"

    organization = models.ForeignKey("core.Organization", verbose_name="所属机构", on_delete=models.PROTECT,
                                     related_name="seals")
    seal_type = models.CharField("印章类型", max_length=12, choices=Type.choices)
    name = models.CharField("印章名称", max_length=100)
    code = models.CharField("印章编码", max_length=40, unique=True)
    state = models.CharField("状态", max_length=10, choices=State.choices, default=State.APPLIED)
    image_png = models.BinaryField("印模图像", blank=True, default=b"")
    public_point = models.CharField("公钥", max_length=130, blank=True)
    private_key_encrypted = models.TextField("私钥（加密）", blank=True)
    certificate_pem = models.TextField("证书", blank=True)
    certificate_serial = models.CharField("证书序列号", max_length=64, blank=True)
    certificate_not_after = models.DateTimeField("证书有效期至", null=True, blank=True)
    applied_by = models.CharField("申请人", max_length=150, blank=True)
    application_reason = models.CharField("申请理由", max_length=500, blank=True)
    created_at = models.DateTimeField("申请时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "电子印章"
        ordering = ["organization__name", "seal_type", "code"]
        indexes = [models.Index(fields=["organization", "seal_type", "state"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_usable(self) -> bool:
        return self.state == self.State.ACTIVE

    @property
    def status_class(self) -> str:
        """The shared status badge colour of the state (words are always shown beside it)."""
        return {"applied": "submitted", "reviewed": "reviewed", "produced": "draft", "filed": "draft",
                "active": "active", "suspended": "inactive"}.get(self.state, "retired")


class SealEvent(models.Model):
    """印章履历: one lifecycle transition, with who, when and why."""

    seal = models.ForeignKey(Seal, verbose_name="印章", on_delete=models.CASCADE, related_name="events")
    action = models.CharField("操作", max_length=20)
    from_state = models.CharField("原状态", max_length=10, blank=True)
    to_state = models.CharField("新状态", max_length=10)
    actor = models.CharField("操作人", max_length=150)
    reason = models.CharField("理由", max_length=500, blank=True)
    at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "印章履历"
        ordering = ["seal", "at", "id"]


class SealAuthorization(models.Model):
    """用印授权: which staff role of an organisation may apply (use) which type of seal."""

    organization = models.ForeignKey("core.Organization", verbose_name="机构", on_delete=models.CASCADE,
                                     related_name="seal_authorizations")
    seal_type = models.CharField("印章类型", max_length=12, choices=Seal.Type.choices)
    role = models.CharField("岗位角色", max_length=40)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="授权人", null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    granted_at = models.DateTimeField("授权时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "用印授权"
        ordering = ["organization", "seal_type", "role"]
        constraints = [models.UniqueConstraint(fields=["organization", "seal_type", "role"],
                                               name="seals_authorization_unique")]

    @property
    def role_label(self) -> str:
        from yiwang.identity.models import Role

        return dict(Role.choices).get(self.role, self.role)
