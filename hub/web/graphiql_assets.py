"""GraphiQL's asset files: fetched with ``npm pack`` and kept only if they match their hashes.

``npm pack`` of the exact versions the page pins (so the machine's configured registry is
used); a fetch is bounded by one deadline for all packages, and can be stopped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MAX_ASSET_BYTES = 16 * 1024 * 1024
DEFAULT_TIMEOUT_S = 60.0
"""The whole fetch, every package: a registry that does not answer must not hold anyone up."""
# npm's defaults retry an unreachable registry for over a minute per package
_NPM_FLAGS = (
    "--ignore-scripts",
    "--fetch-retries=1",
    "--fetch-retry-mintimeout=1000",
    "--fetch-retry-maxtimeout=5000",
)
_POLL_S = 0.1


class GraphiQLAssetsError(RuntimeError):
    """An asset could not be obtained or did not match the page's integrity hash."""


@dataclass(frozen=True)
class Asset:
    url: str
    package: str
    version: str
    path: str
    integrity: str
    local_name: str

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"


def _verified(data: bytes, integrity: str) -> bool:
    algorithm, _, expected = integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    return hmac.compare_digest(actual, expected)


def _wait(process: subprocess.Popen[str], spec: str, timeout: float, stop: threading.Event) -> None:
    # polled, not one long wait: a hub shutting down stops a fetch at once
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if stop.is_set():
            raise GraphiQLAssetsError(f"npm pack {spec} stopped")
        if time.monotonic() >= deadline:
            raise GraphiQLAssetsError(
                f"npm pack {spec} timed out after {timeout:.0f} s (is the registry reachable?)"
            )
        stop.wait(_POLL_S)


def _npm_pack(
    npm: str, spec: str, destination: Path, timeout: float, stop: threading.Event
) -> Path:
    command = [npm, "pack", spec, "--pack-destination", str(destination), *_NPM_FLAGS]
    # output to a file, not a pipe: npm lists every packed file, more than a pipe holds
    with tempfile.TemporaryFile(mode="w+", dir=destination) as output:
        try:  # fixed argv, spec validated by _parse_asset, no shell
            process = subprocess.Popen(  # noqa: S603
                command, cwd=destination, stdout=output, stderr=subprocess.STDOUT, text=True
            )
        except OSError as exc:
            raise GraphiQLAssetsError(f"npm pack {spec} failed: {exc}") from exc
        try:
            _wait(process, spec, timeout, stop)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        output.seek(0)
        detail = output.read()[-500:].strip()
    if process.returncode != 0:
        raise GraphiQLAssetsError(f"npm pack {spec} exited {process.returncode}: {detail}")
    tarballs = sorted(destination.glob("*.tgz"))
    if len(tarballs) != 1:
        raise GraphiQLAssetsError(f"npm pack {spec} produced {len(tarballs)} tarballs")
    return tarballs[0]


def _read_member(tarball: Path, asset: Asset) -> bytes:
    wanted = f"package/{asset.path}"
    found: list[tarfile.TarInfo] = []
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for member in archive:
                name = PurePosixPath(member.name)
                if name.is_absolute() or ".." in name.parts:
                    raise GraphiQLAssetsError(f"{asset.spec}: unsafe tarball member {name}")
                if member.name == wanted:
                    found.append(member)
            if len(found) != 1 or not found[0].isreg() or found[0].size > MAX_ASSET_BYTES:
                raise GraphiQLAssetsError(f"{asset.spec}: no single regular file {wanted}")
            stream = archive.extractfile(found[0])
            data = stream.read() if stream is not None else b""
    except (OSError, tarfile.TarError) as exc:
        raise GraphiQLAssetsError(f"{asset.spec}: unreadable tarball: {exc}") from exc
    return data


def _write_atomic(target: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def present(directory: Path, asset: Asset) -> bool:
    target = directory / asset.local_name
    return target.is_file() and _verified(target.read_bytes(), asset.integrity)


def ensure_assets(
    directory: Path,
    assets: Sequence[Asset],
    *,
    npm: str = "npm",
    timeout: float = DEFAULT_TIMEOUT_S,
    stop: threading.Event | None = None,
) -> None:
    """Make every asset present and verified in ``directory``; pack each package once.

    ``timeout`` bounds the whole fetch, every package included; ``stop`` ends it early.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stop = stop or threading.Event()
    deadline = time.monotonic() + timeout
    wanted: dict[str, list[Asset]] = {}
    for asset in assets:
        if not present(directory, asset):
            (directory / asset.local_name).unlink(missing_ok=True)  # never keep a bad file
            wanted.setdefault(asset.spec, []).append(asset)
    for spec, group in wanted.items():
        remaining = max(deadline - time.monotonic(), 0.0)
        with tempfile.TemporaryDirectory(prefix="graphiql-npm-") as temp:
            tarball = _npm_pack(npm, spec, Path(temp), remaining, stop)
            verified = [(asset, _read_member(tarball, asset)) for asset in group]
        for asset, data in verified:  # all of a package's files verify before any is written
            if not _verified(data, asset.integrity):
                raise GraphiQLAssetsError(f"{spec}: {asset.path} does not match its integrity")
        for asset, data in verified:
            _write_atomic(directory / asset.local_name, data)
