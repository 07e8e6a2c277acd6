"""The demo city's 一件事一次办 bundles, built from its published items by name."""

from __future__ import annotations

from yiwang.catalog.models import ServiceItem

# code, name, description, item names (the first published item of each name, city level or
# 滨江区 preferred, as a resident of 滨江区 would be served).
BUNDLES = [
    ("kai-canguan", "我要开餐馆",
     "开一家餐馆要办的营业执照、食品经营许可和招牌设置，一次申请，市场监管、行政审批和城市管理部门同时办理。",
     ["企业设立登记", "食品(含保健食品)经营许可核发", "规范户外招牌设施设置"]),
    ("xinsheng-er", "新生儿出生一件事",
     "孩子出生后的出生医学证明、户口登记、医保参保和社保卡申领，一张表、一套材料，卫健、公安、医保和人社部门并联办理。",
     ["《出生医学证明》首次签发", "户口登记", "城乡居民参保登记", "社会保障卡申领"]),
    ("tuixiu", "退休一件事",
     "办理退休：养老保险待遇申请、提取住房公积金，一次提交，人社部门和公积金中心同时办理。",
     ["企业职工基本养老保险正常退休申请", "离休、退休提取住房公积金"]),
]
PREFERRED_REGIONS = ("390100000000", "390102000000")


def _pick(name: str) -> ServiceItem | None:
    candidates = list(ServiceItem.objects.filter(published_version__name=name, state=ServiceItem.State.ACTIVE)
                      .select_related("region"))
    candidates.sort(key=lambda i: (i.region.code not in PREFERRED_REGIONS, i.region.code, i.pk))
    return candidates[0] if candidates else None


def load_bundles(summary) -> None:
    from yiwang.cases import services_bundles
    from yiwang.cases.models import Bundle

    for code, name, description, names in BUNDLES:
        items = [i for i in (_pick(n) for n in names) if i is not None]
        if len(items) < 2:
            continue
        existing = Bundle.objects.filter(code=code).first()
        if existing is not None and set(existing.items.values_list("pk", flat=True)) == {i.pk for i in items}:
            continue
        services_bundles.define_bundle(None, code=code, name=name, description=description, items=items)
        summary.created["一件事"] += 1
