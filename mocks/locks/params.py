"""The parameters of a call: the query of a GET, the query and form of a POST, as one map."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from mocks.locks.answers import BAD_PARAMETER, CloudError


class Params:
    """Typed reads of string parameters; anything malformed raises ``CloudError(-3)``."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)

    def text(self, name: str) -> str:
        value = self.values.get(name, "")
        if not value:
            raise CloudError(BAD_PARAMETER, f"{name} is required")
        return value

    def integer(self, name: str, default: int | None = None, *, low: int = 1) -> int:
        raw = self.values.get(name, "")
        if not raw and default is not None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise CloudError(BAD_PARAMETER, f"{name} must be an integer") from None
        if value < low:
            raise CloudError(BAD_PARAMETER, f"{name} must be at least {low}")
        return value

    def integers(self, name: str) -> list[int]:
        parts = [part.strip() for part in self.text(name).split(",")]
        try:
            return [int(part) for part in parts]
        except ValueError:
            detail = f"{name} must be integers separated by commas"
            raise CloudError(BAD_PARAMETER, detail) from None


PARAMS_KEY = web.RequestKey("lock_params", Params)


async def read_params(request: web.Request) -> Params:
    """Merge the query string and, for a POST, the form (the form wins)."""
    values: dict[str, str] = dict(request.query)
    if request.method == "POST":
        for key, value in (await request.post()).items():
            if isinstance(value, str):
                values[key] = value
    return Params(values)


def params_of(request: web.Request) -> Params:
    """The parameters the guard middleware already read."""
    return request[PARAMS_KEY]
