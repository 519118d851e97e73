"""Mock of the Luohu youth activity center's course and enrolment API (罗湖区青少年活动中心).

Plain REST under ``/api/v1``, no batch calls. Every call needs ``X-Api-Key: dev-youth-key``
(``API_KEY``); 20 calls a second per key, then ``429`` with ``Retry-After: 1``. Writes need an
``Idempotency-Key``. Admin routes: the shared ``/__admin/stats`` and ``/__admin/faults``, plus
``/__admin/clock`` and ``/__admin/rate-limit`` (see ``mocks.youth.app``).

Modules: ``catalogue`` (courses, members), ``enrollment`` (the state machine, lottery and
waitlist, and the choices made where the center is silent), ``seed`` (the history, with the
H0003 fixture), ``guard`` (key, limit, idempotency), ``handlers`` (the calls).
"""

from __future__ import annotations

from mocks.youth.app import create_app
from mocks.youth.guard import API_KEY

__all__ = ["API_KEY", "create_app"]
