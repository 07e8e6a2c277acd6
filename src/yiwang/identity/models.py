"""Identities: staff bound to organisations, citizens (natural persons), enterprises and their
agents, the base registries they are checked against, codes, second factors and sign-in records.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from yiwang.core.crypto import normalise_id_number, normalise_phone
from yiwang.core.fields import BlindIndexField, EncryptedTextField
from yiwang.core.models import Organization


class Role(models.TextChoices):
    CLERK = "clerk", "综合窗口"
    REVIEWER = "reviewer", "审查人员"
    APPROVER = "approver", "审批人员"
    CATALOG_ADMIN = "catalog_admin", "事项管理员"
    ORG_ADMIN = "org_admin", "机构管理员"
    SUPERVISOR = "supervisor", "电子监察"
    PLATFORM_ADMIN = "platform_admin", "平台管理员"


class StaffAccount(models.Model):
    """工作人员: a user who acts for one organisation (and, by role, its children)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff")
    organization = models.ForeignKey(Organization, verbose_name="所属机构", on_delete=models.PROTECT,
                                     related_name="staff")
    roles = models.JSONField("角色", default=list)
    display_name = models.CharField("姓名", max_length=60, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "工作人员"

    def __str__(self) -> str:
        return f"{self.display_name or self.user.get_username()}（{self.organization}）"

    def has_role(self, role: str) -> bool:
        return role in self.roles


# ============================================================================ citizens and enterprises

class AssuranceLevel(models.IntegerChoices):
    """实名等级."""

    L1 = 1, "L1 已注册"
    L2 = 2, "L2 已实名核验"
    L3 = 3, "L3 已现场核验"


class Person(models.Model):
    """自然人: the real-name identity behind a citizen's account."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="person")
    subject = models.UUIDField("OIDC 主体标识", default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField("姓名", max_length=60)
    id_number = EncryptedTextField("公民身份号码", context="citizen_id")
    id_number_index = BlindIndexField(source="id_number", normaliser=normalise_id_number, unique=True)
    mobile = EncryptedTextField("手机号码", context="mobile")
    mobile_index = BlindIndexField(source="mobile", normaliser=normalise_phone, unique=True)
    address = EncryptedTextField("联系地址", blank=True, default="", context="address")
    assurance_level = models.PositiveSmallIntegerField("实名等级", choices=AssuranceLevel.choices,
                                                       default=AssuranceLevel.L1)
    level_changed_at = models.DateTimeField("等级变更时间", null=True, blank=True)
    verified_in_person_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                              on_delete=models.SET_NULL, related_name="+",
                                              verbose_name="现场核验人")
    created_at = models.DateTimeField("注册时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "自然人"

    def __str__(self) -> str:
        from yiwang.core.masking import mask_name

        return mask_name(self.name)


class PopulationRecord(models.Model):
    """人口基础库: the population base registry the platform holds (synthetic in the demo)."""

    name = models.CharField("姓名", max_length=60)
    id_number = EncryptedTextField("公民身份号码", context="citizen_id")
    id_number_index = BlindIndexField(source="id_number", normaliser=normalise_id_number, unique=True)
    gender = models.CharField("性别", max_length=1, choices=[("1", "男"), ("2", "女")], blank=True)
    address = EncryptedTextField("户籍地址", blank=True, default="", context="address")
    alive = models.BooleanField("在世", default=True)

    class Meta:
        verbose_name = verbose_name_plural = "人口基础库"


class LegalPersonRecord(models.Model):
    """法人基础库: the legal-person base registry (synthetic in the demo)."""

    uscc = models.CharField("统一社会信用代码", max_length=18, unique=True)
    name = models.CharField("名称", max_length=100)
    kind = models.CharField("类型", max_length=40, default="有限责任公司")
    legal_rep_name = models.CharField("法定代表人", max_length=60)
    legal_rep_id_number = EncryptedTextField("法定代表人身份号码", context="citizen_id")
    legal_rep_id_index = BlindIndexField(source="legal_rep_id_number", normaliser=normalise_id_number)
    address = EncryptedTextField("住所", blank=True, default="", context="address")
    registered_on = models.DateField("成立日期", null=True, blank=True)
    active = models.BooleanField("存续", default=True)

    class Meta:
        verbose_name = verbose_name_plural = "法人基础库"


class Enterprise(models.Model):
    """法人账号: an enterprise registered on the platform, held by its legal representative."""

    uscc = models.CharField("统一社会信用代码", max_length=18, unique=True)
    name = models.CharField("名称", max_length=100)
    legal_representative = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="enterprises",
                                             verbose_name="法定代表人")
    registered_at = models.DateTimeField("注册时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "法人"

    def __str__(self) -> str:
        return self.name


class AgentAuthorization(models.Model):
    """经办人授权: an enterprise lets a person act for it, for all items or some, for a period."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="authorizations")
    agent = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="authorizations")
    all_items = models.BooleanField("全部事项", default=True)
    items = models.ManyToManyField("catalog.ServiceItem", blank=True, related_name="+", verbose_name="授权事项")
    valid_from = models.DateField("生效日期")
    valid_until = models.DateField("失效日期")
    granted_by = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+", verbose_name="授权人")
    created_at = models.DateTimeField("授权时间", auto_now_add=True)
    revoked_at = models.DateTimeField("撤销时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "经办人授权"
        indexes = [models.Index(fields=["agent", "enterprise"])]


class OneTimeCode(models.Model):
    """短信验证码: stored only as a keyed hash; single use; expires; limited attempts."""

    class Purpose(models.TextChoices):
        REGISTER = "register", "注册"
        LOGIN = "login", "登录"
        RESET = "reset", "找回密码"
        CHANGE_MOBILE = "change_mobile", "更换手机"

    purpose = models.CharField("用途", max_length=16, choices=Purpose.choices)
    mobile_index = models.CharField("手机盲索引", max_length=64, db_index=True)
    code_hash = models.CharField("验证码摘要", max_length=64)
    created_at = models.DateTimeField("发送时间", auto_now_add=True)
    expires_at = models.DateTimeField("过期时间")
    attempts = models.PositiveSmallIntegerField("尝试次数", default=0)
    used_at = models.DateTimeField("使用时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "短信验证码"


class SmsMessage(models.Model):
    """短信发件箱: what the embedded SMS backend 'sends' (the demo and tests read it)."""

    mobile = EncryptedTextField("手机号码", context="mobile")
    mobile_index = BlindIndexField(source="mobile", normaliser=normalise_phone, context="mobile")
    text = models.CharField("内容", max_length=300)
    created_at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "短信发件箱"
        ordering = ["-id"]


class AccountSecurity(models.Model):
    """Per-account security state: failures, lock, second factor."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="security")
    failed_logins = models.PositiveSmallIntegerField("连续失败次数", default=0)
    locked_until = models.DateTimeField("锁定至", null=True, blank=True)
    totp_secret = EncryptedTextField("动态口令密钥", blank=True, default="", context="totp")
    totp_confirmed_at = models.DateTimeField("动态口令绑定时间", null=True, blank=True)
    totp_last_step = models.BigIntegerField("最近使用的口令时间片", default=0)

    class Meta:
        verbose_name = verbose_name_plural = "账号安全"


class LoginEvent(models.Model):
    """登录记录: every sign-in attempt, shown to the account holder and audited."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="login_events")
    identifier = models.CharField("登录标识（脱敏）", max_length=64)
    method = models.CharField("方式", max_length=16)  # password | sms | totp | oidc
    success = models.BooleanField("成功")
    reason = models.CharField("原因", max_length=100, blank=True)
    ip = models.GenericIPAddressField("IP", null=True, blank=True)
    user_agent = models.CharField("客户端", max_length=200, blank=True)
    created_at = models.DateTimeField("时间", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = verbose_name_plural = "登录记录"
        ordering = ["-created_at"]


# ============================================================================ single sign-on (OIDC)

class ClientPolicy(models.Model):
    """接入应用: the platform's rules for one OAuth 2 / OpenID Connect client.

    The client itself (id, hashed secret, redirect URIs, grant type) is django-oauth-toolkit's
    ``Application``; this adds what the platform decides: the scopes it may ask for, whether it
    is enabled, and who registered it.
    """

    application = models.OneToOneField("oauth2_provider.Application", on_delete=models.CASCADE,
                                       related_name="policy", verbose_name="应用")
    allowed_scopes = models.JSONField("允许的权限范围", default=list)
    description = models.CharField("说明", max_length=200, blank=True)
    is_active = models.BooleanField("启用", default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name="登记人")
    created_at = models.DateTimeField("登记时间", auto_now_add=True)
    secret_rotated_at = models.DateTimeField("密钥更换时间", null=True, blank=True)
    disabled_at = models.DateTimeField("停用时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "接入应用"


class ActingContext(models.Model):
    """单点登录的办事身份: the enterprise a person acted for when authorising a client.

    Bound first to the authorisation code, then to each access token issued from it (and from
    its refresh tokens), so the ID token and userinfo name the same enterprise.
    """

    grant = models.OneToOneField("oauth2_provider.Grant", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+")
    access_token = models.OneToOneField("oauth2_provider.AccessToken", null=True, blank=True,
                                        on_delete=models.CASCADE, related_name="+")
    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+", verbose_name="企业")

    class Meta:
        verbose_name = verbose_name_plural = "单点登录办事身份"
