"""``ihub partner …`` and ``ihub manifest …``: operators' commands for partner access."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlmodel import Session

from hub.security.manifests import ManifestError, check_stored, register, sign
from hub.security.partners import MODES, add_partner
from hub.settings import Settings
from hub.store.db import create_tables, make_engine


def add_arguments(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    partner = commands.add_parser("partner", help="register a partner system")
    partner.add_argument("action", choices=["add"])
    partner.add_argument("partner_id")
    partner.add_argument("--name", required=True)
    partner.add_argument("--bank", choices=["icbc", "ccb"])
    partner.add_argument("--mode", choices=MODES, default="ids_only")
    manifest = commands.add_parser("manifest", help="partners' trusted documents")
    actions = manifest.add_subparsers(dest="action", required=True)
    register_command = actions.add_parser("register", help="validate and store a manifest")
    register_command.add_argument("--partner", required=True)
    register_command.add_argument("file", type=Path)
    register_command.add_argument(
        "--signature", type=Path, help="detached signature (default FILE.sig)"
    )
    actions.add_parser("check", help="re-validate stored manifests against the schema")
    actions.add_parser("keygen", help="create the operator's Ed25519 signing key")
    sign_command = actions.add_parser("sign", help="write FILE.sig with the operator's key")
    sign_command.add_argument("file", type=Path)


def _signing_key_path(settings: Settings) -> Path:
    return settings.keys_dir / "manifest-signing.pem"


def _public_key(settings: Settings) -> Ed25519PublicKey | None:
    path = settings.manifest_public_key or _signing_key_path(settings).with_suffix(".pub")
    if not path.exists():
        return None
    key = serialization.load_pem_public_key(path.read_bytes())
    return key if isinstance(key, Ed25519PublicKey) else None


def run(args: argparse.Namespace, settings: Settings) -> int:
    from schema import build_schema

    engine = make_engine(settings.database_url)
    create_tables(engine)
    if args.command == "partner":
        with Session(engine) as session:
            client_id, secret = add_partner(
                session, args.partner_id, name=args.name, mode=args.mode, bank=args.bank
            )
        print(f"client_id: {client_id}\nclient_secret: {secret}\n(the secret is shown only now)")
        return 0
    if args.action == "keygen":
        path = _signing_key_path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)
        path.with_suffix(".pub").write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        print(f"signing key: {path}\npublic key: {path.with_suffix('.pub')}")
        return 0
    if args.action == "sign":
        private = serialization.load_pem_private_key(
            _signing_key_path(settings).read_bytes(), password=None
        )
        assert isinstance(private, Ed25519PrivateKey)
        target = Path(f"{args.file}.sig")
        target.write_bytes(sign(args.file.read_bytes(), private))
        print(f"signature: {target}")
        return 0
    schema = build_schema()._schema
    if args.action == "check":
        with Session(engine) as session:
            broken = check_stored(session, schema)
        for line in broken:
            print(f"would break: {line}", file=sys.stderr)
        print("every stored manifest operation is valid" if not broken else f"{len(broken)} broken")
        return 1 if broken else 0
    signature_path = args.signature or Path(f"{args.file}.sig")
    signature = signature_path.read_bytes() if signature_path.exists() else None
    try:
        with Session(engine) as session:
            manifest = register(
                session,
                args.partner,
                args.file.read_bytes(),
                schema,
                signature=signature,
                public_key=_public_key(settings),
                require_signed=settings.require_signed_manifests,
            )
    except ManifestError as refused:
        print("manifest refused:", file=sys.stderr)
        for problem in refused.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"registered {len(manifest.operations)} operations for {args.partner}")
    return 0
