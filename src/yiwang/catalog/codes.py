"""Code tables for service items (GB/T 39046 appendix A and the national exchange schema)."""

from django.db import models


class ItemType(models.TextChoices):
    """事项类型 (GB/T 39046 A.1)."""

    LICENSING = "01", "行政许可"
    PENALTY = "02", "行政处罚"
    COERCION = "03", "行政强制"
    LEVY = "04", "行政征收"
    BENEFIT = "05", "行政给付"
    INSPECTION = "06", "行政检查"
    CONFIRMATION = "07", "行政确认"
    REWARD = "08", "行政奖励"
    ADJUDICATION = "09", "行政裁决"
    OTHER_POWER = "10", "其他行政权力"
    PUBLIC_SERVICE = "20", "公共服务"


class ExerciseLevel(models.TextChoices):
    """行使层级."""

    NATION = "1", "国家级"
    PROVINCE = "2", "省级"
    CITY = "3", "市级"
    COUNTY = "4", "县级"
    TOWN = "5", "镇（乡、街道）级"
    VILLAGE = "6", "村（社区）级"
    GRADED = "7", "分级管理"


class PowerSource(models.TextChoices):
    """权力来源."""

    STATUTORY = "1", "法定本级行使"
    DELEGATED = "2", "上级下放"
    AUTHORISED = "3", "上级授权"


class ServiceObject(models.TextChoices):
    """服务对象."""

    NATURAL_PERSON = "1", "自然人"
    ENTERPRISE = "2", "企业法人"
    PUBLIC_INSTITUTION = "3", "事业法人"
    SOCIAL_ORGANISATION = "4", "社会组织法人"
    GOVERNMENT = "5", "行政机关"
    OTHER = "6", "其他组织"


class CaseType(models.TextChoices):
    """办件类型 (A.6)."""

    IMMEDIATE = "1", "即办件"
    PROMISED = "2", "承诺件"
    OTHER = "9", "其他"


class HandlingForm(models.TextChoices):
    """办理形式."""

    WINDOW = "1", "窗口办理"
    ONLINE = "2", "网上办理（电脑端）"
    MOBILE = "3", "移动端办理"
    EXPRESS = "4", "快递申请"
    OTHER = "9", "其他"


class OnlineDepth(models.TextChoices):
    """网上办理深度 (multi-valued)."""

    CONSULT = "1", "互联网咨询"
    COLLECT = "2", "互联网收件"
    PREVIEW = "3", "互联网预审"
    ACCEPT = "4", "互联网受理"
    HANDLE = "5", "互联网办理"
    RESULT_INFO = "6", "办理结果信息反馈"
    E_CERTIFICATE = "7", "电子证照反馈"
    OTHER = "8", "其他"


class OnlineLevel(models.IntegerChoices):
    """网上办理深度等级 Ⅰ–Ⅳ (summary of the depth flags)."""

    I = 1, "Ⅰ级（网上咨询）"
    II = 2, "Ⅱ级（网上收件）"
    III = 3, "Ⅲ级（网上预审受理）"
    IV = 4, "Ⅳ级（全程网办）"


class Scope(models.TextChoices):
    """通办范围."""

    LOCAL = "local", "本级"
    COUNTY = "county", "跨县"
    CITY = "city", "跨市"
    PROVINCE = "province", "跨省"
    NATIONAL = "national", "全国"


class ResultType(models.TextChoices):
    """审批结果类型."""

    LICENCE = "10", "证照"
    DOCUMENT = "20", "批文"
    OTHER = "99", "其他"


class MaterialKind(models.TextChoices):
    ORIGINAL = "1", "原件"
    COPY = "2", "复印件"
    BOTH = "3", "原件和复印件"


class MaterialFormat(models.TextChoices):
    PAPER = "1", "纸质"
    ELECTRONIC = "2", "电子"
    BOTH = "3", "纸质和电子"


class MaterialSource(models.TextChoices):
    APPLICANT = "applicant", "申请人自备"
    ISSUED = "issued", "政府部门核发"
    CERTIFICATE = "certificate", "电子证照"
    SHARED = "shared", "共享数据获取"


def online_level(depth: list[str], visits: int) -> int:
    """Summarise depth flags as level Ⅰ–Ⅳ; 全程网办 requires zero visits to the hall."""
    d = set(depth or [])
    if "5" in d and visits == 0:
        return 4
    if d & {"3", "4", "5"}:
        return 3
    if "2" in d:
        return 2
    return 1


PERSON_OBJECTS = {"1"}
LEGAL_OBJECTS = {"2", "3", "4", "5", "6"}
