"""Courses and applications rendered as the center's API returns them."""

from __future__ import annotations

from datetime import datetime

from mocks.youth.clock import iso
from mocks.youth.enrollment import Application, CourseBook


def course_view(book: CourseBook, now: datetime) -> dict[str, object]:
    """A ``Course``; ``enrolled`` counts seats held (ENROLLED, OFFERED, WON)."""
    course = book.course
    return {
        "course_id": course.course_id,
        "name": course.name,
        "category": course.category,
        "term": course.term,
        "age_min": course.age_min,
        "age_max": course.age_max,
        "schedule": {"weekday": course.weekday, "start": course.start, "end": course.end},
        "start_date": course.start_date.isoformat(),
        "sessions": course.sessions,
        "venue": course.venue,
        "teacher": course.teacher,
        "fee_fen": course.fee_fen,
        "material_fee_fen": course.material_fee_fen,
        "capacity": course.capacity,
        "enrolled": book.seats_taken,
        "mode": course.mode,
        "prereg_open": iso(course.prereg_open),
        "prereg_close": iso(course.prereg_close),
        "lottery_at": iso(course.lottery_at),
        "status": book.status(now),
    }


def application_view(app: Application) -> dict[str, object]:
    """An ``Application``, plus ``paid_at``, ``channel``, ``payment_ref`` and ``refund_fen``."""
    return {
        "application_id": app.application_id,
        "course_id": app.course_id,
        "member_no": app.member_no,
        "preference_rank": app.preference_rank,
        "state": app.state,
        "waitlist_no": app.waitlist_no,
        "pay_deadline": iso(app.pay_deadline),
        "amount_fen": app.amount_fen,
        "created_at": iso(app.created_at),
        "paid_at": iso(app.paid_at),
        "channel": app.channel,
        "payment_ref": app.payment_ref,
        "refund_fen": app.refund_fen,
    }
