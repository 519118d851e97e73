"""The bank's own key pair and the app key pair it issues to the hub, kept across restarts.

Layout under ``keys_dir(state_dir, bank)`` (``<state_dir>/bank/<bank>/``):

``bank-private.pem``  the bank's signing key (PKCS#8, mode 0600), never leaves the mock
``bank-public.pem``   what the hub verifies answers with
``app-private.pem``   the key issued to the hub for signing requests (PKCS#8, mode 0600)
``app-public.pem``    what the bank verifies requests with
``app.json``          ``{"app_id": "ihub-<bank>-dev"}``

Every file is written to a temporary name and then linked into place only if absent, so two
processes starting at once agree on whichever key landed first.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_BITS = 2048


def keys_dir(state_dir: Path, bank: str) -> Path:
    """Where ``bank`` (``"icbc"`` or ``"ccb"``) keeps its keys and app id."""
    return Path(state_dir) / "bank" / bank


def default_app_id(bank: str) -> str:
    """The app id a bank issues to the hub on first start: ``ihub-icbc-dev``, ``ihub-ccb-dev``."""
    return f"ihub-{bank}-dev"


@dataclass(frozen=True)
class BankKeys:
    """What the running bank needs: its signing key and the hub app's id and public key."""

    bank_private: rsa.RSAPrivateKey
    bank_public: rsa.RSAPublicKey
    app_id: str
    app_public: rsa.RSAPublicKey


def load_or_create_keys(state_dir: Path, bank: str) -> BankKeys:
    """Reuse the keys of an earlier start, generating and writing whatever is missing."""
    folder = keys_dir(state_dir, bank)
    folder.mkdir(parents=True, exist_ok=True)
    bank_private = _key_pair(folder, "bank")
    app_private = _key_pair(folder, "app")
    _write_if_absent(folder / "app.json", _app_json(bank), private=False)
    app_id = json.loads((folder / "app.json").read_text(encoding="utf-8"))["app_id"]
    return BankKeys(bank_private, bank_private.public_key(), str(app_id), app_private.public_key())


def _app_json(bank: str) -> bytes:
    return (json.dumps({"app_id": default_app_id(bank)}, indent=2) + "\n").encode()


def _key_pair(folder: Path, owner: str) -> rsa.RSAPrivateKey:
    private_path = folder / f"{owner}-private.pem"
    if not private_path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_if_absent(private_path, pem, private=True)
    # read back: another process may have won the race to write it
    loaded = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{private_path} is not an RSA private key")
    public_pem = loaded.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_path = folder / f"{owner}-public.pem"
    if not public_path.exists() or public_path.read_bytes() != public_pem:
        _replace(public_path, public_pem)
    return loaded


def _temporary(path: Path, content: bytes, *, private: bool) -> Path:
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(name, 0o600 if private else 0o644)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)


def _write_if_absent(path: Path, content: bytes, *, private: bool) -> None:
    temporary = _temporary(path, content, private=private)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def _replace(path: Path, content: bytes) -> None:
    os.replace(_temporary(path, content, private=False), path)
