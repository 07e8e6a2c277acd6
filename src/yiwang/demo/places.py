"""The demo city 临江市 of the fictional province 江川省: divisions and the organisations serving them.

Division codes use the prefix 39, which no real province has. All names, addresses and
telephone numbers are invented for the demo.
"""

from __future__ import annotations

import dataclasses

PROVINCE = ("390000000000", "江川省")
CITY = ("390100000000", "临江市")

# County-level divisions: code, name, main road (for addresses), and its towns.
# Towns: 3-digit code (001–099 街道, 1xx 镇, 2xx 乡), name, and villages/communities
# (3-digit code: 0xx 社区居委会, 2xx 村委会).
COUNTIES: list[tuple[str, str, str, list[tuple[str, str, list[tuple[str, str]]]]]] = [
    ("390102", "滨江区", "滨江大道", [
        ("001", "滨江街道", [("001", "江滨社区"), ("002", "望江社区"), ("003", "渡口社区")]),
        ("002", "临港街道", [("001", "港湾社区"), ("002", "海关路社区")]),
        ("101", "沙洲镇", [("001", "沙洲社区"), ("201", "新洲村"), ("202", "柳湾村")]),
    ]),
    ("390103", "望湖区", "望湖路", [
        ("001", "望湖街道", [("001", "湖畔社区"), ("002", "月湖社区")]),
        ("002", "书院街道", [("001", "文庙社区"), ("002", "书院社区"), ("003", "学府社区")]),
        ("101", "莲塘镇", [("201", "莲塘村"), ("202", "荷花村")]),
    ]),
    ("390104", "云台区", "云台路", [
        ("001", "云台街道", [("001", "云峰社区"), ("002", "台北路社区")]),
        ("002", "高新街道", [("001", "创业社区"), ("002", "科创社区")]),
        ("101", "松岭镇", [("001", "松岭社区"), ("201", "石桥村"), ("202", "杨柳村")]),
        ("201", "白云乡", [("201", "白云村"), ("202", "竹林村")]),
    ]),
    ("390121", "青溪县", "青溪大道", [
        ("101", "青溪镇", [("001", "城关社区"), ("002", "溪口社区"), ("201", "东门村")]),
        ("102", "桃源镇", [("201", "桃源村"), ("202", "杏花村")]),
        ("201", "龙潭乡", [("201", "龙潭村"), ("202", "石坪村")]),
        ("202", "清水乡", [("201", "清水村"), ("202", "茶园村")]),
    ]),
    ("390181", "石门市", "石门大道", [
        ("001", "石门街道", [("001", "北门社区"), ("002", "南关社区")]),
        ("101", "双河镇", [("001", "红星社区"), ("201", "双河村"), ("202", "丰收村")]),
        ("102", "枫林镇", [("201", "枫林村"), ("202", "枣树村")]),
    ]),
]


@dataclasses.dataclass(frozen=True)
class DeptKind:
    """A kind of department: one 4-digit department code shared by every level."""

    key: str
    code: str
    city: str | None        # name suffix at city level (None: no city-level department)
    county: str | None      # name suffix at county level (None: none)
    window: str             # window label in the service hall
    where: str = "all"      # which counties have one: "all" or "some"
    institution: bool = False


DEPT_KINDS: list[DeptKind] = [
    DeptKind("gongan", "0101", "公安局", "公安分局", "公安"),
    DeptKind("fagai", "0103", "发展和改革委员会", "发展和改革局", "发展改革"),
    DeptKind("jiaoyu", "0104", "教育局", "教育局", "教育"),
    DeptKind("gongxin", "0105", "工业和信息化局", "经济和信息化局", "工业信息化", where="some"),
    DeptKind("sifa", "0106", "司法局", "司法局", "司法"),
    DeptKind("minzheng", "0107", "民政局", "民政局", "民政"),
    DeptKind("caizheng", "0108", "财政局", "财政局", "财政"),
    DeptKind("renshe", "0109", "人力资源和社会保障局", "人力资源和社会保障局", "人社"),
    DeptKind("ziran", "0110", "自然资源和规划局", "自然资源和规划局", "自然资源"),
    DeptKind("shengtai", "0111", "生态环境局", "生态环境局", "生态环境"),
    DeptKind("zhujian", "0112", "住房和城乡建设局", "住房和城乡建设局", "住房城建"),
    DeptKind("jiaotong", "0113", "交通运输局", "交通运输局", "交通运输"),
    DeptKind("shuili", "0114", "水利局", "水务局", "水务"),
    DeptKind("nongye", "0115", "农业农村局", "农业农村局", "农业农村"),
    DeptKind("shangwu", "0116", "商务局", "商务局", "商务"),
    DeptKind("shichang", "0117", "市场监督管理局", "市场监督管理局", "市场监管"),
    DeptKind("wenlv", "0118", "文化广电旅游局", "文化广电旅游局", "文化旅游"),
    DeptKind("weijian", "0119", "卫生健康委员会", "卫生健康局", "卫生健康"),
    DeptKind("tuiyi", "0120", "退役军人事务局", "退役军人事务局", "退役军人"),
    DeptKind("yingji", "0121", "应急管理局", "应急管理局", "应急管理"),
    DeptKind("yibao", "0122", "医疗保障局", "医疗保障局", "医疗保障"),
    DeptKind("chengguan", "0123", "城市管理局", "综合行政执法局", "城市管理"),
    DeptKind("shuiwu", "0124", "税务局", "税务局", "税务"),
    DeptKind("gongjijin", "0125", "住房公积金管理中心", None, "公积金", institution=True),
    DeptKind("canlian", "0126", "残疾人联合会", "残疾人联合会", "残联", institution=True),
    DeptKind("shenpi", "0127", None, "行政审批局", "行政审批"),
    DeptKind("qixiang", "0128", "气象局", "气象局", "气象", where="some"),
    DeptKind("xiaofang", "0129", "消防救援支队", "消防救援大队", "消防", where="some"),
    DeptKind("tongji", "0130", None, "统计局", "统计", where="some"),
    DeptKind("yancao", "0131", None, "烟草专卖局", "烟草专卖", where="some"),
    DeptKind("minzong", "0132", None, "民族宗教事务局", "民族宗教", where="some"),
]
KIND_BY_KEY = {k.key: k for k in DEPT_KINDS}
GOVERNMENT_CODE = "0001"   # 人民政府（办公室）
SERVICE_CODE = "0002"      # 政务服务中心、便民服务中心（站）
SOME_COUNTIES = ("390102", "390121")  # counties that have the rarer departments

# The city public security bureau's traffic police detachment (a sub-unit of the bureau).
TRAFFIC_POLICE = "临江市公安局交通警察支队"


def short_county(name: str) -> str:
    """滨江区 → 滨江 (used in names such as 临江市公安局滨江分局)."""
    return name[:-1] if name.endswith(("区", "县", "市")) else name


def city_department_name(kind: DeptKind) -> str:
    if kind.key == "shuiwu":
        return "国家税务总局临江市税务局"
    return f"临江市{kind.city}"


def county_department_name(kind: DeptKind, county_code: str, county_name: str) -> str:
    is_district = county_name.endswith("区")
    if kind.key == "gongan":
        return f"临江市公安局{short_county(county_name)}分局" if is_district else f"{county_name}公安局"
    if kind.key == "shuiwu":
        return f"国家税务总局临江市{county_name}税务局" if is_district else f"国家税务总局{county_name}税务局"
    if kind.key == "shengtai":
        return f"临江市生态环境局{short_county(county_name)}分局"
    if kind.key == "qixiang":
        return f"{county_name}气象局"
    return f"{county_name}{kind.county}"


def county_has(kind: DeptKind, county_code: str) -> bool:
    if kind.county is None:
        return False
    return kind.where == "all" or county_code in SOME_COUNTIES
