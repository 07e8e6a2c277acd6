"""Synthetic published implementation items for load tests and benchmarks.

``generate(n, seed)`` writes ``n`` published items in bulk (a few thousand rows per statement)
with everything the portal, the API and search read: basic item, implementation item, its
published version, 2–6 materials, themes and the search row (composed exactly as
:func:`yiwang.catalog.search.index_version` composes it). One audit entry records the batch.

Codes never collide with items made through the services: synthetic basic codes use the
national scope ``00``, main item numbers 900–999 and sub-item numbers 001–999
(``allocate_basic_code`` only allocates main items under the province scope).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Callable

from django.db import connection, transaction
from django.db.models import OuterRef, Subquery

from yiwang.catalog import codes, search
from yiwang.catalog.models import BasicItem, ItemVersion, Material, SearchEntry, ServiceItem, Theme
from yiwang.core import audit, validators
from yiwang.core.models import Organization, Region

SCOPE = "00"
FIRST_MAIN = 900
SUBS_PER_MAIN = 999
MAX_PER_ORG = (1000 - FIRST_MAIN) * SUBS_PER_MAIN
BATCH = 2000
AUDIT_ACTION = "catalog.synthetic.generate"


@dataclasses.dataclass(frozen=True)
class Domain:
    """One line of government work: the department doing it and the words its items use."""

    department: str
    code: str
    keywords: tuple[str, ...]
    person_share: float
    fixed: tuple[tuple[str, str], ...]  # (type code, real-looking item name)
    subjects: tuple[str, ...]
    materials: tuple[str, ...]
    aliases: tuple[tuple[str, str], ...]  # (word in the name, everyday words "a|b")
    themes: tuple[str, ...]  # theme name fragments


DOMAINS: tuple[Domain, ...] = (
    Domain("市场监督管理局", "0117", ("市场监督", "市场监管"), 0.2,
           (("01", "食品经营许可"), ("01", "食品生产许可"), ("01", "药品零售企业许可"),
            ("01", "特种设备使用登记"), ("07", "个体工商户登记"), ("07", "企业名称登记"),
            ("01", "小餐饮经营许可"), ("07", "营业执照补领"), ("01", "第二类医疗器械经营备案")),
           ("食品经营", "食品生产", "小餐饮", "药品零售", "医疗器械经营", "特种设备使用", "计量器具",
            "个体工商户", "企业名称", "广告发布", "化妆品生产", "工业产品生产", "检验检测机构",
            "农民专业合作社", "食品小作坊"),
           ("营业执照", "法定代表人身份证明", "经营场所使用证明", "食品安全管理制度文本",
            "设备布局和工艺流程图", "从业人员健康证明", "产品质量检验报告", "企业章程", "股东会决议"),
           (("食品", "开饭店|开餐馆|开超市"), ("餐饮", "开饭店|开小吃店"), ("个体工商户", "开个体店|办执照"),
            ("营业执照", "办执照|补执照"), ("企业名称", "起名字|核名"), ("药品", "开药店")),
           ("企业开办", "准营", "开办")),
    Domain("公安局", "0102", ("公安",), 0.85,
           (("07", "户口迁移登记"), ("07", "出生户口登记"), ("20", "居民身份证申领"),
            ("20", "普通护照签发"), ("20", "往来港澳通行证签发"), ("07", "机动车注册登记"),
            ("20", "机动车驾驶证换证"), ("20", "居住证申领"), ("01", "烟花爆竹燃放许可"),
            ("01", "大型群众性活动安全许可")),
           ("户口迁移", "户口登记", "居民身份证", "护照", "往来港澳通行证", "往来台湾通行证", "机动车",
            "驾驶证", "居住证", "犬只", "烟花爆竹燃放", "剧毒化学品购买", "保安服务", "旅馆业特种行业",
            "公章刻制"),
           ("居民身份证", "居民户口簿", "近期免冠照片", "出生医学证明", "结婚证", "准予迁入证明",
            "机动车登记证书", "机动车行驶证", "驾驶人体检证明", "房屋所有权证明"),
           (("户口", "上户口|落户|迁户口"), ("身份证", "办身份证|补身份证|换身份证"),
            ("护照", "办护照|出国证件"), ("通行证", "港澳通行证|去香港"), ("驾驶证", "换驾照|驾照"),
            ("机动车", "上牌|车辆上牌"), ("居住证", "暂住证")),
           ("户籍", "出境", "交通", "身份")),
    Domain("人力资源和社会保障局", "0110", ("人力资源", "人社"), 0.8,
           (("07", "社会保险登记"), ("20", "社会保障卡申领"), ("05", "失业保险金申领"),
            ("05", "基本养老保险待遇核定"), ("07", "就业登记"), ("01", "劳务派遣经营许可"),
            ("01", "人力资源服务许可"), ("20", "职业技能等级证书查询")),
           ("社会保险", "社会保障卡", "失业保险", "基本养老保险", "工伤保险", "就业", "职业技能鉴定",
            "劳务派遣", "人力资源服务", "创业担保贷款", "职称评审", "劳动用工", "高校毕业生就业"),
           ("居民身份证", "劳动合同", "解除劳动关系证明", "社会保障卡", "银行账户信息", "学历证书",
            "职业资格证书", "工伤认定申请表", "营业执照"),
           (("社会保险", "交社保|社保|参保"), ("社会保障卡", "社保卡|办社保卡|补社保卡"),
            ("养老", "退休金|领养老金"), ("失业", "失业金|领失业金"), ("就业", "找工作"),
            ("工伤", "工伤赔偿")),
           ("就业", "社会保障", "养老", "退休")),
    Domain("民政局", "0107", ("民政",), 0.75,
           (("07", "内地居民结婚登记"), ("07", "内地居民离婚登记"), ("07", "社会团体成立登记"),
            ("07", "民办非企业单位成立登记"), ("05", "最低生活保障金给付"), ("05", "特困人员救助供养"),
            ("10", "养老机构备案"), ("05", "高龄津贴发放")),
           ("婚姻", "结婚", "社会团体", "民办非企业单位", "最低生活保障", "特困人员", "养老机构",
            "殡葬", "临时救助", "残疾人两项补贴", "地名命名", "收养", "慈善组织"),
           ("居民身份证", "居民户口簿", "近期半身免冠合影照片", "婚姻状况声明", "家庭收入证明",
            "章程草案", "验资报告", "住所使用证明", "残疾人证", "收养申请书"),
           (("结婚", "领结婚证|扯证|结婚证"), ("离婚", "离婚证"), ("最低生活保障", "低保|吃低保"),
            ("养老", "养老院"), ("殡葬", "办丧事"), ("收养", "领养")),
           ("婚姻", "养老", "社会救助", "生育收养", "社会保障")),
    Domain("住房和城乡建设局", "0113", ("住房和城乡建设", "住建", "建设局"), 0.15,
           (("01", "建设工程施工许可"), ("01", "建设工程规划许可"), ("07", "建设工程竣工验收备案"),
            ("01", "商品房预售许可"), ("01", "燃气经营许可"), ("01", "建筑业企业资质认定"),
            ("01", "建设工程消防设计审查"), ("05", "公共租赁住房租赁补贴发放")),
           ("建设工程施工", "建设工程规划", "建设工程竣工验收", "建设工程消防验收", "商品房预售",
            "燃气经营", "建筑业企业资质", "房地产开发企业资质", "城市建筑垃圾处置", "物业服务",
            "公共租赁住房", "城镇排水", "市政设施占用"),
           ("营业执照", "建设工程规划许可证", "施工图设计文件审查合格书", "施工合同", "监理合同",
            "工程质量安全承诺书", "建设用地批准书", "竣工验收报告", "消防设计文件"),
           (("建设工程施工", "施工许可证|开工手续"), ("商品房", "买房|预售证"), ("公共租赁住房", "公租房|廉租房"),
            ("燃气", "开燃气站")),
           ("工程建设", "投资", "住房")),
    Domain("交通运输局", "0118", ("交通运输", "交通局"), 0.3,
           (("01", "道路旅客运输经营许可"), ("01", "道路货物运输经营许可"), ("01", "出租汽车经营许可"),
            ("01", "网络预约出租汽车驾驶员证核发"), ("01", "公路超限运输许可"),
            ("07", "机动车维修经营备案")),
           ("道路旅客运输", "道路货物运输", "出租汽车经营", "网络预约出租汽车", "公路超限运输",
            "机动车维修", "机动车驾驶员培训", "港口经营", "水路运输", "公路路政"),
           ("营业执照", "机动车驾驶证", "车辆技术等级评定证明", "安全生产管理制度文本",
            "从业资格证", "车辆行驶证", "停车场地证明"),
           (("出租汽车", "开出租|跑出租"), ("网络预约出租汽车", "网约车|跑网约车"),
            ("道路货物运输", "跑货运|货车营运证"), ("机动车维修", "开修车铺")),
           ("交通", "准营")),
    Domain("卫生健康委员会", "0121", ("卫生健康", "卫健", "卫生"), 0.55,
           (("01", "医疗机构执业登记"), ("01", "医师执业注册"), ("01", "护士执业注册"),
            ("01", "公共场所卫生许可"), ("20", "出生医学证明办理"), ("07", "生育登记"),
            ("01", "放射诊疗许可")),
           ("医疗机构执业", "医师执业", "护士执业", "公共场所卫生", "出生医学证明", "生育", "放射诊疗",
            "母婴保健技术服务", "消毒产品生产企业卫生", "饮用水供水单位卫生", "职业健康"),
           ("医师资格证书", "护士执业证书", "健康体检证明", "卫生管理制度", "营业执照",
            "出生医学证明首次签发登记表", "结婚证", "居民身份证", "场所平面图"),
           (("出生医学证明", "出生证|办出生证"), ("生育", "准生证|二孩登记"),
            ("医疗机构", "开诊所|开医院"), ("公共场所卫生", "卫生许可证")),
           ("生育", "医疗", "准营")),
    Domain("教育局", "0104", ("教育",), 0.6,
           (("01", "民办学校办学许可"), ("07", "教师资格认定"), ("20", "义务教育阶段学生转学"),
            ("20", "学历证明书办理"), ("05", "家庭经济困难学生资助")),
           ("民办学校办学", "教师资格", "义务教育转学", "学历证明", "家庭经济困难学生资助",
            "中小学校外培训机构", "幼儿园设立", "学籍"),
           ("居民身份证", "学历证书", "普通话水平测试等级证书", "教师资格体检合格证明",
            "办学章程", "校舍产权证明", "户口簿", "学生证"),
           (("教师资格", "考教师证|教师证"), ("转学", "孩子转学"), ("学历", "毕业证丢了"),
            ("幼儿园", "开幼儿园")),
           ("教育", "入学")),
    Domain("生态环境局", "0132", ("生态环境", "环保", "环境"), 0.05,
           (("01", "排污许可"), ("01", "建设项目环境影响报告书审批"), ("01", "危险废物经营许可"),
            ("07", "建设项目环境影响登记表备案")),
           ("排污", "建设项目环境影响评价", "危险废物经营", "辐射安全", "机动车排放检验机构",
            "放射性同位素转让", "污染防治设施拆除"),
           ("营业执照", "环境影响报告书", "污染防治措施说明", "排污口规范化设置情况",
            "危险废物管理计划", "环境监测报告"),
           (("排污", "排污证"), ("环境影响", "环评|做环评")),
           ("环境", "工程建设", "投资")),
    Domain("自然资源和规划局", "0131", ("自然资源", "规划"), 0.45,
           (("07", "不动产登记"), ("07", "国有建设用地使用权首次登记"), ("01", "建设用地规划许可"),
            ("01", "乡村建设规划许可"), ("01", "采矿许可")),
           ("不动产", "国有建设用地使用权", "建设用地规划", "乡村建设规划", "采矿", "宅基地使用权",
            "房屋所有权转移", "抵押权", "测绘资质"),
           ("不动产权属证书", "不动产登记申请书", "购房合同", "完税证明", "居民身份证",
            "土地出让合同", "宗地图", "营业执照"),
           (("不动产", "房产证|办房产证|过户"), ("房屋所有权转移", "过户|二手房过户"), ("抵押", "房贷抵押"),
            ("宅基地", "农村盖房")),
           ("住房", "工程建设", "不动产")),
    Domain("税务局", "0140", ("税务",), 0.4,
           (("07", "税务登记"), ("20", "增值税发票领用"), ("20", "个人所得税综合所得汇算清缴"),
            ("20", "纳税证明开具"), ("04", "契税征收")),
           ("税务", "增值税发票", "个人所得税", "纳税证明", "契税", "车船税", "房产税", "出口退税",
            "社会保险费"),
           ("营业执照", "居民身份证", "税务事项通知书", "财务会计报表", "完税凭证", "房屋买卖合同"),
           (("个人所得税", "个税|退个税"), ("增值税发票", "领发票|开发票"), ("纳税证明", "完税证明"),
            ("契税", "买房交税")),
           ("税费", "纳税")),
    Domain("文化广电和旅游局", "0123", ("文化", "旅游", "广电"), 0.2,
           (("01", "娱乐场所经营许可"), ("01", "营业性演出许可"), ("01", "旅行社业务经营许可"),
            ("01", "互联网上网服务营业场所经营许可")),
           ("娱乐场所经营", "营业性演出", "旅行社业务经营", "互联网上网服务营业场所", "艺术品经营",
            "文物保护单位修缮", "卫星电视广播地面接收设施"),
           ("营业执照", "场所平面图", "消防安全检查合格证明", "演出节目内容说明", "质量保证金缴存证明"),
           (("互联网上网服务", "开网吧|网吧"), ("娱乐场所", "开KTV|开歌厅"), ("旅行社", "开旅行社")),
           ("准营", "文化")),
    Domain("农业农村局", "0127", ("农业农村", "农业"), 0.35,
           (("01", "农药经营许可"), ("01", "兽药经营许可"), ("01", "种子生产经营许可"),
            ("01", "动物防疫条件合格证核发"), ("01", "渔业捕捞许可"), ("05", "耕地地力保护补贴发放")),
           ("农药经营", "兽药经营", "种子生产经营", "动物防疫条件", "渔业捕捞", "耕地地力保护补贴",
            "农机购置补贴", "农村土地承包经营权", "生猪定点屠宰"),
           ("营业执照", "经营场所证明", "仓储设施清单", "专业技术人员资格证明", "土地承包合同",
            "农机购置发票"),
           (("农机购置补贴", "买农机补贴"), ("渔业捕捞", "捕鱼证"), ("种子", "卖种子")),
           ("农业", "准营")),
    Domain("应急管理局", "0138", ("应急管理", "应急"), 0.05,
           (("01", "危险化学品经营许可"), ("01", "烟花爆竹经营（零售）许可"), ("01", "安全生产许可"),
            ("06", "安全生产监督检查")),
           ("危险化学品经营", "烟花爆竹经营", "安全生产", "非煤矿山", "生产安全事故应急预案",
            "安全评价机构"),
           ("营业执照", "安全生产管理制度", "安全评价报告", "主要负责人安全生产知识考核合格证",
            "应急救援预案"),
           (("烟花爆竹经营", "卖鞭炮"), ("危险化学品", "危化品")),
           ("安全", "准营")),
    Domain("医疗保障局", "0145", ("医疗保障", "医保"), 0.85,
           (("07", "基本医疗保险参保登记"), ("20", "异地就医备案"), ("05", "医疗费用手工报销"),
            ("20", "医保关系转移接续")),
           ("基本医疗保险", "异地就医", "医疗费用报销", "医保关系转移", "门诊慢特病待遇",
            "生育保险待遇", "医疗救助"),
           ("居民身份证", "社会保障卡", "医疗费用发票", "出院小结", "费用明细清单", "诊断证明书"),
           (("基本医疗保险", "医保|交医保"), ("异地就医", "外地看病|异地医保"),
            ("医疗费用报销", "报销医药费"), ("生育保险", "生育津贴")),
           ("医疗", "社会保障")),
    Domain("发展和改革委员会", "0103", ("发展和改革", "发改"), 0.02,
           (("01", "企业投资项目核准"), ("10", "企业投资项目备案"), ("01", "固定资产投资项目节能审查")),
           ("企业投资项目", "固定资产投资项目节能", "政府投资项目", "价格认定", "粮食收购"),
           ("项目申请报告", "营业执照", "节能报告", "项目可行性研究报告", "用地预审意见"),
           (("企业投资项目", "项目立项|立项"),),
           ("投资", "工程建设")),
)

TYPE_WEIGHTS = {"01": 15, "02": 25, "03": 4, "04": 3, "05": 5, "06": 8, "07": 12, "08": 2, "09": 1,
                "10": 5, "20": 20}
TEMPLATES: dict[str, tuple[str, ...]] = {
    "01": ("{s}许可", "{s}审批", "{s}核准"),
    "02": ("对未经许可从事{s}活动的行政处罚", "对违反{s}管理规定行为的行政处罚", "对{s}中弄虚作假行为的行政处罚"),
    "03": ("对违法{s}相关物品的查封、扣押", "{s}违法行为的强制执行"),
    "04": ("{s}相关费用征收",),
    "05": ("{s}补助发放", "{s}救助金给付"),
    "06": ("{s}监督检查", "{s}日常检查"),
    "07": ("{s}登记", "{s}认定", "{s}备案", "{s}确认"),
    "08": ("{s}工作先进单位和个人表彰奖励",),
    "09": ("{s}纠纷裁决",),
    "10": ("{s}年度报告公示", "{s}信息变更备案"),
    "20": ("{s}办理", "{s}信息查询", "{s}证明开具", "{s}政策咨询"),
}
QUALIFIERS = ("（新办）", "（变更）", "（延续）", "（注销）", "（补领）", "（迁入）")
PROCESSES = ("申请\n受理\n审查\n决定\n送达", "申请\n受理\n审核\n办结", "网上申报\n材料预审\n受理\n审查\n决定\n制证送达",
             "申请\n受理\n现场核查\n审查\n决定\n送达", "申请\n即时办结")
LAWS = ("《中华人民共和国行政许可法》", "《中华人民共和国行政处罚法》", "《中华人民共和国行政强制法》",
        "《优化营商环境条例》", "国务院关于取消和下放一批行政许可事项的决定", "《江川省政务服务管理办法》")
DEFAULT_THEMES = (
    ("shengyu", "生育收养", "person"), ("huji", "户籍办理", "person"), ("jiaoyu", "教育入学", "person"),
    ("jiuye", "就业创业", "person"), ("shebao", "社会保障", "person"), ("hunyin", "婚姻登记", "person"),
    ("churujing", "出境入境", "person"), ("zhufang", "住房保障", "person"), ("jiaotong", "交通出行", "person"),
    ("yanglao", "养老服务", "person"), ("yiliao", "医疗卫生", "person"),
    ("kaiban", "企业开办", "legal"), ("touzi", "投资立项", "legal"), ("gongcheng", "工程建设", "legal"),
    ("zhunying", "准营准办", "legal"), ("shuifei", "税费缴纳", "legal"), ("zhuxiao", "企业注销", "legal"),
    ("huanjing", "环境保护", "legal"), ("anquan", "安全生产", "legal"),
)
DEFAULT_REGIONS = (("390000000000", "江川省"), ("390100000000", "临江市"), ("390102000000", "滨江区"),
                   ("390103000000", "江北区"), ("390104000000", "城东区"), ("390121000000", "临川县"))
PUBLISHED_FROM = dt.datetime(2024, 1, 1, 8, 0, tzinfo=dt.UTC)


@dataclasses.dataclass
class Result:
    created: int
    organizations_created: int
    basic_items_created: int
    first_code: str
    last_code: str


@dataclasses.dataclass
class _Spec:
    """What all implementations of one synthetic basic item share."""

    basic_id: int | None
    basic_code: str
    name: str
    item_type: str
    subject: str
    aliases: str
    materials: list[str]
    result_name: str
    audience: str  # person | legal | both


def _domain_of(org: Organization, index: int) -> Domain:
    for d in DOMAINS:
        if any(k in org.name for k in d.keywords):
            return d
    for d in DOMAINS:
        if org.department_code and d.code == org.department_code:
            return d
    return DOMAINS[index % len(DOMAINS)]


def ensure_organizations() -> tuple[list[Organization], int]:
    """The implementing organisations: existing departments, or a small city made here."""
    orgs = list(Organization.objects.filter(is_active=True).select_related("region").order_by("id"))
    departments = [o for o in orgs if o.kind in (Organization.Kind.DEPARTMENT, Organization.Kind.INSTITUTION)]
    if departments:
        return departments, 0
    if orgs:
        return orgs, 0
    regions: dict[str, Region] = {}
    for code, name in DEFAULT_REGIONS:
        parent_code = validators.division_parent(code)
        regions[code], _ = Region.objects.get_or_create(
            code=code, defaults={"name": name, "level": validators.division_level(code),
                                 "parent": regions.get(parent_code) if parent_code else None})
    created = 0
    for ri, code in enumerate(c for c, _ in DEFAULT_REGIONS[1:]):
        region = regions[code]
        for di, domain in enumerate(DOMAINS):
            uscc = validators.make_uscc("1", "1", code[:6], f"Y{ri:02d}{di:05d}")
            name = f"{region.name}{domain.department}"
            Organization.objects.get_or_create(uscc=uscc, defaults={
                "name": name, "kind": Organization.Kind.DEPARTMENT, "department_code": domain.code, "region": region,
                "address": f"{region.name}政务服务中心", "phone": "0391-12345"})
            created += 1
    return list(Organization.objects.filter(is_active=True).select_related("region").order_by("id")), created


def ensure_themes() -> list[Theme]:
    if not Theme.objects.exists():
        for order, (code, name, audience) in enumerate(DEFAULT_THEMES):
            Theme.objects.get_or_create(code=code, defaults={"name": name, "audience": audience, "order": order})
    return list(Theme.objects.order_by("code"))


def _slot(k: int) -> tuple[int, int]:
    return FIRST_MAIN + k // SUBS_PER_MAIN, 1 + k % SUBS_PER_MAIN


def _is_synthetic_basic(code: str) -> bool:
    return code.startswith(SCOPE) and code[6:9] >= str(FIRST_MAIN) and code[9:] != "000"


class _Generator:
    def __init__(self, seed: int, orgs: list[Organization], themes: list[Theme]):
        self.rng = random.Random(seed)
        self.orgs = orgs
        self.domains = {o.id: _domain_of(o, i) for i, o in enumerate(orgs)}
        self.themes_by_audience = {a: [t for t in themes if t.audience == a] for a in ("person", "legal")}
        self.theme_names = {t.id: t.name for t in themes}
        # Theme names enter the search document in the model's ordering, as index_version sees them.
        self.theme_rank = {t.id: (t.audience, t.order, t.code) for t in themes}
        self.domain_themes: dict[tuple[str, str], list[Theme]] = {}
        for d in DOMAINS:
            for a, pool in self.themes_by_audience.items():
                self.domain_themes[(d.code, a)] = [t for t in pool if any(f in t.name for f in d.themes)]
        # Where each organisation goes on: its next free slot, skipping codes already taken.
        self.next_slot = {o.id: 0 for o in orgs}
        self.taken: set[tuple[int, str]] = set()  # (organisation, basic code)
        self.specs: dict[str, _Spec] = {}
        self.used_names: dict[str, set[str]] = {}
        self.fixed_left: dict[str, list[tuple[str, str]]] = {}
        # A second run goes on after the first: known synthetic basic items are reused and
        # implementation codes already taken are skipped.
        self.existing_basic = {b.basic_code: b for b in BasicItem.objects.filter(basic_code__startswith=SCOPE)
                               .only("id", "basic_code", "name", "item_type") if _is_synthetic_basic(b.basic_code)}
        if self.existing_basic:
            rows = ServiceItem.objects.filter(basic_item__basic_code__startswith=SCOPE).values_list(
                "organization_id", "basic_item__basic_code")
            self.taken.update(rows)
        weights = [self.rng.lognormvariate(0, 0.6) * (1.6 if o.region.level <= 2 else 1.0) for o in orgs]
        self.cum_weights = []
        total = 0.0
        for w in weights:
            total += w
            self.cum_weights.append(total)

    # -- names and texts ---------------------------------------------------------------
    def _department_code(self, org: Organization) -> str:
        code = org.department_code if (org.department_code or "").isdigit() and len(org.department_code) == 4 \
            else self.domains[org.id].code
        return code

    def _new_spec(self, basic_code: str, domain: Domain) -> _Spec:
        rng = self.rng
        dept = basic_code[2:6]
        used = self.used_names.setdefault(dept, set())
        fixed = self.fixed_left.setdefault(dept, list(domain.fixed))
        if fixed and rng.random() < 0.5:
            item_type, name = fixed.pop(0)
            subject = name
        else:
            item_type = rng.choices(list(TYPE_WEIGHTS), weights=list(TYPE_WEIGHTS.values()))[0]
            for _ in range(6):
                subject = rng.choice(domain.subjects)
                name = rng.choice(TEMPLATES[item_type]).format(s=subject)
                if item_type in ("01", "07", "20") and rng.random() < 0.45:
                    name += rng.choice(QUALIFIERS)
                if name not in used:
                    break
        used.add(name)
        roll = rng.random()
        audience = "person" if roll < domain.person_share else "legal"
        if 0.45 < domain.person_share < 0.9 and rng.random() < 0.15:
            audience = "both"
        aliases = "|".join(dict.fromkeys(
            a for key, words in domain.aliases if key in name for a in words.split("|")))
        base = name.split("（")[0]
        first = {"02": "陈述申辩书", "03": "现场笔录", "06": "检查记录表", "08": "推荐审批表", "09": "裁决申请书"}
        mats = [first.get(item_type, f"{base}申请表")]
        pool = list(domain.materials)
        if audience != "person" and "营业执照" not in pool:
            pool.append("营业执照")
        rng.shuffle(pool)
        mats += pool[: rng.randint(1, 4)]
        if rng.random() < 0.35:
            mats.append("授权委托书")
        result = {"01": f"{base}决定书", "07": f"{base}证明", "05": "待遇核定通知书",
                  "02": "行政处罚决定书", "03": "行政强制决定书", "20": f"{base}结果"}.get(item_type, "办理结果通知书")
        if item_type == "01" and rng.random() < 0.6:
            result = f"{subject.split('（')[0].removesuffix('许可')}许可证"
        return _Spec(None, basic_code, name, item_type, subject, aliases, mats[:6], result, audience)

    def _spec_for(self, basic_code: str, domain: Domain) -> _Spec:
        spec = self.specs.get(basic_code)
        if spec is None:
            row = self.existing_basic.get(basic_code)
            if row is not None:
                spec = self._new_spec(basic_code, domain)
                spec.basic_id, spec.name, spec.item_type = row.id, row.name, row.item_type
            else:
                spec = self._new_spec(basic_code, domain)
            self.specs[basic_code] = spec
        return spec

    def next_item(self) -> tuple[Organization, _Spec, str, str]:
        """Pick an organisation and its next free synthetic slot: (org, spec, level, implementation code)."""
        org = self.rng.choices(self.orgs, cum_weights=self.cum_weights)[0]
        domain = self.domains[org.id]
        dept = self._department_code(org)
        level = str(org.level)
        roll = self.rng.random()
        if roll < 0.08:
            level = "7"
        elif roll < 0.12:
            level = self.rng.choice("123456")
        while True:
            k = self.next_slot[org.id]
            if k >= MAX_PER_ORG:
                raise ValueError("synthetic code space of one organisation is exhausted")
            self.next_slot[org.id] = k + 1
            main, sub = _slot(k)
            basic_code = validators.make_basic_code(SCOPE, dept, main, sub)
            if (org.id, basic_code) not in self.taken:
                self.taken.add((org.id, basic_code))
                code = validators.make_implementation_code(org.uscc, int(level), basic_code)
                return org, self._spec_for(basic_code, domain), level, code

    def version_fields(self, org: Organization, spec: _Spec, level: str, n: int) -> dict:
        rng = self.rng
        objects = {"person": ["1"], "legal": sorted(rng.sample(["2", "3", "4", "6"], rng.randint(1, 2))),
                   "both": ["1", "2"]}[spec.audience]
        who = {"person": "具有完全民事行为能力的自然人", "legal": "依法设立的企业或其他组织",
               "both": "自然人、法人或其他组织"}[spec.audience]
        statutory = rng.choice((1, 5, 10, 15, 20, 30, 60))
        promised = max(0, statutory - rng.randint(0, statutory))
        depth = sorted(set(rng.sample("12345", rng.randint(1, 5))) | {"1"} | ({"6"} if rng.random() < 0.5 else set()))
        visits = 0 if "5" in depth and rng.random() < 0.7 else rng.randint(1, 2)
        forms = ["1"] + (["2"] if "2" in depth else []) + (["3"] if rng.random() < 0.4 else [])
        fee = spec.item_type in ("04",) or rng.random() < 0.05
        published = PUBLISHED_FROM + dt.timedelta(days=rng.randint(0, 700), minutes=rng.randint(0, 600))
        base = spec.name.split("（")[0]
        conditions = (f"1. 申请人为{who}；2. {spec.subject}事项符合国家和江川省有关规定；"
                      f"3. 具备与{base}相适应的场所、设施和专业人员；4. 法律、法规规定的其他条件。")
        return {
            "number": 1, "status": ItemVersion.Status.PUBLISHED, "change_note": "批量导入", "name": spec.name,
            "aliases": spec.aliases, "item_type": spec.item_type, "exercise_level": level,
            "power_source": "2" if level in "12" else rng.choice("111113"),
            "service_objects": objects,
            "legal_basis": f"{rng.choice(LAWS)}第{rng.randint(2, 80)}条；《江川省{spec.subject.split('（')[0]}管理办法》",
            "conditions": conditions, "process": rng.choice(PROCESSES),
            "case_type": "1" if statutory <= 1 else "2", "statutory_limit_days": statutory, "promised_limit_days": promised,
            "charges_fee": fee, "fee_standard": "按国家规定标准收取" if fee else "",
            "fee_basis": "《江川省行政事业性收费目录》" if fee else "",
            "handling_forms": forms, "online_depth": depth, "online_level": codes.online_level(depth, visits), "visits": visits,
            "onsite_reason": "需现场核验原件" if visits and "5" in depth else "",
            "online_url": "https://zwfw.example.gov.cn/" if "2" in depth else "",
            "scope": rng.choice(codes.Scope.values), "in_hall": rng.random() < 0.8,
            "supports_express": rng.random() < 0.3, "supports_payment": fee, "supports_appointment": rng.random() < 0.7,
            "supports_self_service": rng.random() < 0.15,
            "location": f"{org.region.name}政务服务中心{rng.randint(1, 4)}楼{rng.randint(1, 40)}号窗口",
            "hours": "工作日 9:00-12:00，13:30-17:00", "consult_phone": f"0391-{8000000 + rng.randint(0, 999999)}",
            "supervise_phone": "0391-12345", "result_name": spec.result_name,
            "result_type": "10" if spec.result_name.endswith("证") else "20" if spec.item_type == "01" else "99",
            "published_at": published, "submitted_at": published - dt.timedelta(days=2),
            "reviewed_at": published - dt.timedelta(hours=3), "review_opinion": "同意",
        }

    def themes_for(self, domain: Domain, spec: _Spec) -> list[int]:
        audiences = ("person", "legal") if spec.audience == "both" else (spec.audience,)
        out: list[int] = []
        for a in audiences:
            preferred = self.domain_themes.get((domain.code, a)) or []
            pool = preferred if preferred and self.rng.random() < 0.85 else self.themes_by_audience[a]
            if pool:
                out.extend(t.id for t in self.rng.sample(pool, min(len(pool), self.rng.randint(0, 2))))
        return sorted(set(out), key=self.theme_rank.__getitem__)

    def materials(self, spec: _Spec) -> list[tuple]:
        """Rows in MATERIAL_COLUMNS order (without the version)."""
        out = []
        for order, name in enumerate(spec.materials, start=1):
            optional = name == "授权委托书"
            out.append((
                order, name, self.rng.choice("1113"), self.rng.choice("123"), 1, self.rng.randint(0, 2),
                not optional, "委托他人代为办理的" if optional else "",
                "certificate" if name in ("营业执照", "居民身份证", "社会保障卡", "结婚证") else "applicant",
                "", "A4", "", "", ""))
        return out


MATERIAL_COLUMNS = ("version_id", "order", "name", "kind", "media", "originals", "copies", "required", "condition",
                    "source", "source_detail", "paper_size", "notes", "blank_form", "sample")
SEARCH_COLUMNS = ("item_id", "version_id", "name", "aliases", "organization_id",
                  "region_code", "item_type", "for_person", "for_legal", "online_level", "popularity")


def _insert(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Plain multi-row insert for rows whose ids nobody needs back (much cheaper than bulk_create)."""
    if not rows:
        return
    qn = connection.ops.quote_name
    head = f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(c) for c in columns)}) VALUES "
    one = f"({', '.join(['%s'] * len(columns))})"
    per_statement = min(1000, 30000 // len(columns))  # below both databases' bound-parameter limits
    with connection.cursor() as cur:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start:start + per_statement]
            cur.execute(head + ", ".join([one] * len(chunk)), [v for row in chunk for v in row])


def generate(n: int, seed: int = 1, progress: Callable[[int], None] | None = None) -> Result:
    """Create ``n`` published synthetic items in one transaction with one audit entry."""
    if n < 1:
        raise ValueError("n must be positive")
    with transaction.atomic():
        orgs, orgs_created = ensure_organizations()
        themes = ensure_themes()
        gen = _Generator(seed, orgs, themes)
        through_v = ItemVersion.themes.through
        through_s = SearchEntry.themes.through
        basic_created = 0
        first_code = last_code = ""
        done = 0
        while done < n:
            size = min(BATCH, n - done)
            picks = [gen.next_item() for _ in range(size)]
            new_basic = {}
            for org, spec, _level, _code in picks:
                if spec.basic_id is None and spec.basic_code not in new_basic:
                    new_basic[spec.basic_code] = BasicItem(
                        basic_code=spec.basic_code, name=spec.name, item_type=spec.item_type,
                        department_code=spec.basic_code[2:6], legal_basis="")
            for b in BasicItem.objects.bulk_create(list(new_basic.values())):
                gen.specs[b.basic_code].basic_id = b.id
            basic_created += len(new_basic)
            items = ServiceItem.objects.bulk_create([
                ServiceItem(implementation_code=code, basic_item_id=spec.basic_id, organization_id=org.id,
                            region_id=org.region_id, popularity=min(int(gen.rng.paretovariate(1.2) * 3) - 3, 50000),
                            latest_name=spec.name, latest_type=spec.item_type)
                for org, spec, _level, code in picks])
            versions = ItemVersion.objects.bulk_create([
                ItemVersion(item_id=item.id, **gen.version_fields(org, spec, level, 1))
                for item, (org, spec, level, _code) in zip(items, picks)])
            mats: list[tuple] = []
            v_themes: list[tuple] = []
            s_themes: list[tuple] = []
            entries: list[tuple] = []
            index_rows: list[tuple[int, str, str]] = []
            for item, version, (org, spec, _level, _code) in zip(items, versions, picks):
                item_mats = gen.materials(spec)
                mats.extend((version.id, *m) for m in item_mats)
                theme_ids = gen.themes_for(gen.domains[org.id], spec)
                v_themes.extend((version.id, t) for t in theme_ids)
                s_themes.extend((item.id, t) for t in theme_ids)
                document = search.compose_document(
                    version.name, version.aliases, [gen.theme_names[t] for t in theme_ids],
                    [m[1] for m in item_mats], version.conditions, version.result_name, org.name)
                objects = set(version.service_objects)
                index_rows.append((item.id, *search.index_texts(document)))
                entries.append((
                    item.id, version.id, version.name.lower(), version.aliases.lower(),
                    org.id, org.region.code, version.item_type,
                    bool(objects & codes.PERSON_OBJECTS), bool(objects & codes.LEGAL_OBJECTS),
                    version.online_level, item.popularity))
            _insert(Material, MATERIAL_COLUMNS, mats)
            _insert(through_v, ("itemversion_id", "theme_id"), v_themes)
            ids = [item.id for item in items]
            first_version = ItemVersion.objects.filter(item=OuterRef("pk"), number=1)
            ServiceItem.objects.filter(id__in=ids).update(  # the listing columns, as services.refresh_listing
                published_version=Subquery(first_version.values("id")[:1]),
                latest_updated_at=Subquery(first_version.values("updated_at")[:1]))
            _insert(SearchEntry, SEARCH_COLUMNS, entries)
            _insert(through_s, ("searchentry_id", "theme_id"), s_themes)
            search.write_index(index_rows)
            first_code = first_code or picks[0][3]
            last_code = picks[-1][3]
            done += size
            if progress:
                progress(done)
        search.bump_revision()
        audit.record(AUDIT_ACTION, "ServiceItem", f"{first_code}..{last_code}", actor="system:generate_items",
                     detail={"count": n, "seed": seed, "organizations": len(orgs),
                             "organizations_created": orgs_created, "basic_items_created": basic_created,
                             "first": first_code, "last": last_code})
    _analyze()
    return Result(n, orgs_created, basic_created, first_code, last_code)


def _analyze() -> None:
    """Fresh planner statistics after a bulk load."""
    tables = ["catalog_searchentry", "catalog_searchentry_themes", "catalog_serviceitem", "catalog_itemversion",
              "catalog_material", "catalog_basicitem", "catalog_itemversion_themes"]
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            for t in tables:
                cur.execute(f"ANALYZE {t}")
        elif connection.vendor == "sqlite":
            cur.execute("PRAGMA optimize")
