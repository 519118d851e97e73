"""The center's REST calls under ``/api/v1``; refusals are raised and answered by the guard."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from mocks.youth.answers import answer
from mocks.youth.enrollment import PREFERENCE_RANKS, Refusal
from mocks.youth.state import STATE_KEY
from mocks.youth.views import application_view, course_view

MAX_PAGE_SIZE = 50
CHANNELS = frozenset({"wechat", "alipay", "unionpay"})


def bad_request(message: str) -> Refusal:
    return Refusal("bad_request", message, 400)


def _int(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name, "")
    if raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"{name} 须为整数") from None


async def _body(request: web.Request) -> dict[str, object]:
    try:
        body = await request.json()
    except ValueError:
        raise bad_request("请求体须为 JSON 对象") from None
    if not isinstance(body, dict):
        raise bad_request("请求体须为 JSON 对象")
    return body


def _text(body: Mapping[str, object], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise bad_request(f"{name} 须为非空字符串")
    return value


def _whole(body: Mapping[str, object], name: str) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad_request(f"{name} 须为整数")
    return value


async def list_courses(request: web.Request) -> web.Response:
    """``GET /api/v1/courses``: filters are exact except ``q`` (name or teacher contains)."""
    state, query = request.app[STATE_KEY], request.query
    page, page_size, age = _int(query, "page"), _int(query, "page_size"), _int(query, "age")
    page, page_size = 1 if page is None else page, 20 if page_size is None else page_size
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise bad_request(f"page ≥ 1, 1 ≤ page_size ≤ {MAX_PAGE_SIZE}")
    term, category, status = query.get("term"), query.get("category"), query.get("status")
    text = query.get("q", "").strip()
    now = state.clock.now()
    items = []
    for course_id in state.engine.books:
        book = state.engine.book(course_id, now)
        course = book.course
        if (
            (term and course.term != term)
            or (category and course.category != category)
            or (age is not None and not course.age_min <= age <= course.age_max)
            or (text and text not in course.name and text not in course.teacher)
            or (status and book.status(now) != status)
        ):
            continue
        items.append(book)
    shown = items[(page - 1) * page_size : page * page_size]
    return answer(
        {
            "total": len(items),
            "page": page,
            "page_size": page_size,
            "items": [course_view(book, now) for book in shown],
        }
    )


async def get_course(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    now = state.clock.now()
    return answer(course_view(state.engine.book(request.match_info["course_id"], now), now))


async def get_member(request: web.Request) -> web.Response:
    member_no = request.match_info["member_no"]
    member = request.app[STATE_KEY].engine.members.get(member_no)
    if member is None:
        raise Refusal("not_found", f"member {member_no} does not exist", 404)
    return answer(
        {
            "member_no": member.member_no,
            "name": member.name,
            "birth_date": member.birth_date.isoformat(),
            "guardian_resident_id": member.guardian_resident_id,
        }
    )


async def member_applications(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    apps = state.engine.applications_of(request.match_info["member_no"], state.clock.now())
    return answer({"items": [application_view(app) for app in apps]})


async def create_application(request: web.Request) -> web.Response:
    state, body = request.app[STATE_KEY], await _body(request)
    rank = body.get("preference_rank", 1)
    if not isinstance(rank, int) or isinstance(rank, bool) or rank not in PREFERENCE_RANKS:
        raise bad_request("preference_rank 须为 1、2 或 3")
    now = state.clock.now()
    app = state.engine.apply(_text(body, "course_id"), _text(body, "member_no"), rank, now)
    return answer(application_view(app))


async def pay_application(request: web.Request) -> web.Response:
    state, body = request.app[STATE_KEY], await _body(request)
    amount, channel = _whole(body, "amount_fen"), _text(body, "channel")
    ref = _text(body, "payment_ref")
    if channel not in CHANNELS:
        raise bad_request("channel 须为 wechat、alipay 或 unionpay")
    application_id = request.match_info["application_id"]
    app = state.engine.pay(application_id, amount, channel, ref, state.clock.now())
    return answer(application_view(app))


async def cancel_application(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    app = state.engine.cancel(request.match_info["application_id"], state.clock.now())
    return answer(application_view(app))


def add_routes(app: web.Application) -> None:
    """The seven calls the center offers; there is no batch call."""
    app.router.add_get("/api/v1/courses", list_courses)
    app.router.add_get("/api/v1/courses/{course_id}", get_course)
    app.router.add_get("/api/v1/members/{member_no}", get_member)
    app.router.add_get("/api/v1/members/{member_no}/applications", member_applications)
    app.router.add_post("/api/v1/applications", create_application)
    app.router.add_post("/api/v1/applications/{application_id}/pay", pay_application)
    app.router.add_post("/api/v1/applications/{application_id}/cancel", cancel_application)
