"""Scenario guides (一件事), the 43 public services and the 政务公开 entries, by rule.

A scenario lists item names in the order a resident does them; each name must be an item of
the catalogue (checked when the guide is built). Its materials are the items' materials merged
by name, its form the items' fields merged by key, each with the item codes that need it.
"""

from __future__ import annotations

import json
from typing import Any

from mocks.catalogue.items import SEED_EPOCH, TIME_FORMAT

Record = dict[str, Any]


def _w(text: str) -> tuple[str, ...]:
    return tuple(text.split())


SCENARIOS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "开饭店",
        _w("企业名称自主申报 个体工商户设立登记 食品经营许可 户外广告设置许可 新办纳税人套餐"),
    ),
    (
        "开办培训机构",
        _w(
            "企业名称自主申报 有限责任公司设立登记 校外培训机构设立审批 新办纳税人套餐 "
            "住房公积金缴存登记"
        ),
    ),
    ("开办幼儿园", _w("民办幼儿园设立审批 食品经营许可 公共场所卫生许可 新办纳税人套餐")),
    (
        "新生儿出生",
        _w("新生儿入户 少儿医疗保险参保登记 少儿社会保障卡申领 生育津贴申领 生育医疗费用报销"),
    ),
    ("退休", _w("退休申请 基本养老金申领 退休提取住房公积金 职工医保退休视同缴费年限核定")),
    ("开网店", _w("网络交易经营者登记申请 个体工商户设立登记 新办纳税人套餐")),
    ("开药店", _w("有限责任公司设立登记 药品零售企业许可 医保定点药店申请")),
    ("开诊所", _w("有限责任公司设立登记 医疗机构执业许可 中医诊所许可 放射诊疗许可")),
    ("开美容院", _w("个体工商户设立登记 公共场所卫生许可 医疗美容项目许可")),
    ("开旅馆", _w("有限责任公司设立登记 旅馆业特种行业许可申请 公共场所卫生许可 食品经营许可")),
    ("开娱乐场所", _w("有限责任公司设立登记 娱乐场所经营许可 营业性演出许可")),
    ("开网吧", _w("互联网上网服务营业场所安全审核申请 互联网上网服务营业场所许可")),
    ("开健身房", _w("个体工商户设立登记 高危险性体育项目经营许可 游泳场所开放许可")),
    ("开旅行社", _w("有限责任公司设立登记 旅行社设立许可 新办纳税人套餐")),
    ("开书店", _w("个体工商户设立登记 出版物零售许可")),
    ("开汽车维修店", _w("个体工商户设立登记 机动车维修经营许可")),
    ("开办养老机构", _w("社会组织成立登记 养老机构备案 食品经营许可")),
    ("结婚", _w("婚姻登记预约 婚姻状况变更 夫妻投靠落户")),
    ("离婚析产", _w("婚姻登记档案查询 离婚析产转移登记")),
    (
        "购买二手房",
        _w(
            "房屋买卖合同网签备案 个人房产交易税费缴纳 存量房转移登记 购房提取住房公积金 "
            "住房公积金个人贷款申请"
        ),
    ),
    ("租房", _w("房屋租赁登记备案 租房提取住房公积金 居住证申领")),
    ("申请人才住房", _w("无房证明开具 人才住房申请")),
    ("申请公共租赁住房", _w("无房证明开具 公共租赁住房申请")),
    ("既有住宅加装电梯", _w("既有住宅加装电梯申请 加装电梯提取住房公积金")),
    ("小学入学", _w("居住证签注 适龄儿童入学申请 随迁子女入学申请")),
    ("幼儿园入园", _w("少儿医疗保险参保登记 幼儿园学位申请")),
    ("应届毕业生入户", _w("应届毕业生落户 档案转递 就业登记 高校毕业生社保补贴申领")),
    ("人才引进", _w("人才引进落户 人才引进补贴申领")),
    ("入职就业", _w("就业登记 社会保险参保登记 住房公积金账户设立")),
    ("失业", _w("失业登记 失业保险金申领 失业人员医疗补助申领")),
    ("自主创业", _w("一次性创业资助申领 创业担保贷款申请 创业场租补贴申领")),
    ("灵活就业", _w("灵活就业人员参保登记 灵活就业人员缴存住房公积金 灵活就业社保补贴申领")),
    ("身后事", _w("死亡注销户口 丧葬补助金申领 殡葬补贴申领 个人账户一次性支取 继承转移登记")),
    ("高龄老人服务", _w("高龄津贴申领 居家养老服务申请 养老机构入住评估")),
    ("残疾人服务", _w("残疾人证申请 残疾人两项补贴申请 残疾人辅助器具适配申请")),
    ("退役军人服务", _w("退役军人落户 退役士兵安置申请 退役军人优待证申领")),
    ("出国出境", _w("普通护照申领 往来港澳通行证申领 往来港澳个人旅游签注")),
    ("外国人来深工作", _w("外国人工作许可办理 外国人居留许可申请 外国人参保登记")),
    ("异地就医", _w("异地就医备案 异地长期居住备案")),
    ("生育", _w("生育医疗费用报销 生育津贴申领 计划生育奖励申请")),
    ("企业注销", _w("清税注销 社会保险停保登记 有限责任公司注销登记")),
    ("法律援助", _w("人民调解申请 法律援助申请")),
    ("困难救助", _w("低收入家庭认定 最低生活保障申请 临时救助申请")),
    ("网约车从业", _w("网络预约出租汽车驾驶员证许可 道路旅客运输经营许可")),
)

FIELDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("applicant_name", "申请人姓名", ()),
    ("id_number", "身份证号码", ()),
    ("phone", "联系电话", ()),
    ("company_name", "企业名称", ("设立", "许可", "经营", "纳税人", "企业", "注销")),
    ("credit_code", "统一社会信用代码", ("许可", "经营", "纳税人", "注销", "备案")),
    ("premises", "经营场所地址", ("设立", "经营", "场所", "许可")),
    ("property_address", "房屋地址", ("房", "电梯", "转移登记")),
    ("child_name", "子女姓名", ("新生儿", "少儿", "入学", "学位")),
    ("bank_account", "银行账号", ("补贴", "津贴", "补助", "申领", "提取", "救助")),
)

PUBLIC_SERVICES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "culture_sports",
        "文体",
        _w(
            "图书馆座位预约 体育场馆预约 文化馆活动报名 博物馆参观预约 "
            "全民健身活动报名 社区书屋查询 公益电影放映 非遗体验活动 "
            "青少年宫课程 游泳馆开放时间"
        ),
    ),
    (
        "medical",
        "医疗",
        _w(
            "社康机构查询 预约挂号 疫苗接种预约 核酸检测点查询 家庭医生签约 "
            "孕产妇建档 儿童健康体检 老年人免费体检 献血点查询"
        ),
    ),
    (
        "transport",
        "交通",
        _w(
            "公交线路查询 地铁站点查询 停车场空位查询 交通违法查询 "
            "充电桩查询 共享单车停放点 道路施工公告 口岸通关状态"
        ),
    ),
    (
        "convenience",
        "便民",
        _w(
            "水电燃气缴费 垃圾分类指引 便民服务点查询 天气预警 "
            "应急避难场所查询 法律咨询预约 社区食堂查询 长者饭堂查询 "
            "政务服务大厅排队 24小时自助服务点"
        ),
    ),
    (
        "education",
        "教育",
        _w("学位申请指引 学区划分查询 校外培训机构查询 教育收费公示 托育机构查询 家长学校课程"),
    ),
)

DISCLOSURE_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("decision", "决策公开"),
    ("execution", "执行公开"),
    ("management", "管理公开"),
    ("service", "服务公开"),
    ("result", "结果公开"),
    ("budget", "财政预决算"),
    ("key_areas", "重点领域信息"),
    ("personnel", "人事信息"),
    ("interpretation", "政策解读"),
    ("response", "回应关切"),
    ("organization", "机构职能"),
)
SITE = "https://www.szlh.gov.cn"


def _item_materials(item: Record) -> list[Record]:
    materials = item["materials"]
    return json.loads(materials) if isinstance(materials, str) else list(materials)


def item_fields(name: str) -> list[tuple[str, str]]:
    """The form fields one item asks for, by what it is about."""
    return [
        (key, label) for key, label, words in FIELDS if not words or any(w in name for w in words)
    ]


def build_scenarios(items: list[Record]) -> list[Record]:
    """Every scenario guide with its ordered items, merged materials and merged form."""
    by_name: dict[str, Record] = {}
    for item in items:
        by_name.setdefault(item["name"], item)
    guides: list[Record] = []
    for number, (title, names) in enumerate(SCENARIOS, start=1):
        missing = [name for name in names if name not in by_name]
        if missing:
            raise AssertionError(f"scenario {title}: no items named {missing}")
        steps = [by_name[name] for name in names]
        materials: dict[str, Record] = {}
        form: dict[str, Record] = {}
        for step in steps:
            for material in _item_materials(step):
                merged = materials.setdefault(
                    material["name"],
                    {k: material[k] for k in ("name", "type", "from_dept")} | {"item_codes": []},
                )
                merged["item_codes"].append(step["impl_code"])
            for key, label in item_fields(step["name"]):
                form.setdefault(key, {"key": key, "label": label, "item_codes": []})
                form[key]["item_codes"].append(step["impl_code"])
        guides.append(
            {
                "id": f"SC{number:03d}",
                "name": title,
                "description": f"{title}一件事：{len(steps)}个事项一次申请、一表填报。",
                "items": [
                    {
                        "order": order,
                        "impl_code": s["impl_code"],
                        "name": s["name"],
                        "dept_name": s["dept_name"],
                    }
                    for order, s in enumerate(steps, start=1)
                ],
                "materials": list(materials.values()),
                "form": list(form.values()),
            }
        )
    return guides


def build_public_services() -> list[Record]:
    services: list[Record] = []
    for category, category_name, names in PUBLIC_SERVICES:
        for name in names:
            service_id = f"PS{len(services) + 1:03d}"
            services.append(
                {
                    "id": service_id,
                    "name": name,
                    "category": category,
                    "category_name": category_name,
                    "link": f"{SITE}/bmfw/{category}/{service_id}",
                }
            )
    return services


def build_disclosures() -> list[Record]:
    entries: list[Record] = []
    for number, (code, name) in enumerate(DISCLOSURE_CATEGORIES, start=1):
        for n in range(1, 4 + number * 5 % 6):
            entry_id = f"GK{number:02d}{n:03d}"
            published = SEED_EPOCH.replace(month=1 + (number + n) % 11, day=1 + n * 3)
            entries.append(
                {
                    "id": entry_id,
                    "category": code,
                    "category_name": name,
                    "title": f"罗湖区{published.year}年{name}第{n}号",
                    "url": f"{SITE}/xxgk/{code}/{entry_id}.html",
                    "published_at": published.strftime(TIME_FORMAT),
                }
            )
    return entries
