"""The ``/v3`` calls; the guard has already checked client, token and date."""

from __future__ import annotations

from aiohttp import web

from mocks.common.admin import record_batch
from mocks.locks import answers
from mocks.locks.answers import CloudError
from mocks.locks.keys import CLOUD_KEY, COMMANDS_KEY
from mocks.locks.params import params_of

MAX_PAGE_SIZE = 100
MAX_LOCK_IDS = 20


async def key_list(request: web.Request) -> web.Response:
    """``GET /v3/key/list?uid=&pageNo=&pageSize=``: a user's keys, deleted ones included."""
    params = params_of(request)
    uid = params.integer("uid")
    page_no = params.integer("pageNo", 1)
    page_size = params.integer("pageSize", 20)
    if page_size > MAX_PAGE_SIZE:
        raise CloudError(answers.BAD_PARAMETER, f"pageSize must be at most {MAX_PAGE_SIZE}")
    keys = request.app[CLOUD_KEY].keys_json(uid)
    return answers.ok(answers.page(keys, page_no, page_size))


async def lock_detail(request: web.Request) -> web.Response:
    """``GET /v3/lock/detail?lockId=``, or -1003."""
    lock = request.app[CLOUD_KEY].lock(params_of(request).integer("lockId"))
    return answers.ok(lock.as_json())


async def locks_by_ids(request: web.Request) -> web.Response:
    """``GET /v3/lock/listByIds?lockIds=1,2,3``: at most 20 ids; unknown ids are left out.

    The answer comes in ascending ``lockId`` order, once per lock, whatever the order and
    repetitions of the request. Every batch received is recorded, refused ones included.
    """
    lock_ids = params_of(request).integers("lockIds")
    record_batch(request, len(lock_ids))
    if len(lock_ids) > MAX_LOCK_IDS:
        raise CloudError(answers.BAD_PARAMETER, f"lockIds: at most {MAX_LOCK_IDS} ids")
    locks = request.app[CLOUD_KEY].locks
    found = sorted({lock_id for lock_id in lock_ids if lock_id in locks})
    return answers.ok({"list": [locks[lock_id].as_json() for lock_id in found]})


async def gateways_of_lock(request: web.Request) -> web.Response:
    """``GET /v3/gateway/listByLock?lockId=``: empty for a lock without gateway."""
    cloud = request.app[CLOUD_KEY]
    lock = cloud.lock(params_of(request).integer("lockId"))
    return answers.ok({"list": [gateway.as_json() for gateway in cloud.gateways[lock.lock_id]]})


async def unlock(request: web.Request) -> web.Response:
    """``POST /v3/lock/unlock`` form ``lockId, uid``: a ``commandId`` to poll, or a refusal."""
    params = params_of(request)
    lock_id, uid = params.integer("lockId"), params.integer("uid")
    command = request.app[COMMANDS_KEY].unlock(lock_id, uid)
    return answers.ok({"errcode": 0, "errmsg": "none", "commandId": command.command_id})


async def command_query(request: web.Request) -> web.Response:
    """``GET /v3/command/query?commandId=``: ``{status: PENDING|SUCCESS|FAILED, errcode}``."""
    command_id = params_of(request).integer("commandId")
    return answers.ok(request.app[COMMANDS_KEY].query(command_id))
