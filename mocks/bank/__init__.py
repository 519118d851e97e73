"""Mocks of the two partner banks' signed open APIs (departments.md §3): ICBC and CCB.

Each bank is its own application on its own port (dev: ICBC 8103, CCB 8104), speaking one
protocol (``mocks.bank.protocol``: form-encoded ``POST /api/{method}``, SHA256withRSA both
ways, ``msg_id`` replay, limits) in its own dialect (``mocks.bank.icbc`` English,
``mocks.bank.ccb`` pinyin abbreviations).

Keys for the hub's dev settings
-------------------------------
On first start each bank generates an RSA-2048 key pair of its own and one it issues to the
hub, under ``keys_dir(state_dir, bank)`` = ``<state_dir>/bank/icbc/`` or ``…/bank/ccb/``
(``state_dir`` from ``MockConfig``, ``var/mocks`` by default); later starts reuse them. The hub
reads three files there:

- ``bank-public.pem`` to verify the bank's answers,
- ``app-private.pem`` (mode 0600) to sign its requests,
- ``app.json`` ``{"app_id": "ihub-icbc-dev"}`` (``ihub-ccb-dev`` at CCB).

The bank keeps ``bank-private.pem`` (0600) and ``app-public.pem`` beside them.

Modules: ``keys``, ``signing``, ``protocol`` (the gateway), ``limits``, ``replay``, ``codes``
(return codes), ``catalogue`` (the 340 items), ``branches``, ``data`` (per-bank share and
seeded appointments), ``booking`` (the rules), ``admin`` (``/__admin/clock``, ``/limits``,
``/appointments/{no}/status``), ``icbc``, ``ccb``.
"""

from __future__ import annotations

from mocks.bank.ccb import create_ccb_app
from mocks.bank.icbc import create_icbc_app
from mocks.bank.keys import keys_dir

__all__ = ["create_ccb_app", "create_icbc_app", "keys_dir"]
