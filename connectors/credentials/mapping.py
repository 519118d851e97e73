"""Pure functions for the verification service's answers: ``{"valid": false}`` and nothing
else, or the certificate's details."""

from __future__ import annotations

from connectors.credentials.models import Credential, DegreeLevel, Verification
from connectors.errors import UpstreamPayloadError
from connectors.payload import Fields

DEPARTMENT = "credentials"


def verification(payload: object, cert_no: str) -> Verification:
    f = Fields(payload, DEPARTMENT, "verify")
    if not f.flag("valid"):
        return Verification(cert_no, False, None)
    try:
        degree = DegreeLevel(f.text("degree"))
    except ValueError as exc:
        raise UpstreamPayloadError(DEPARTMENT, f"verify.degree: {f.text('degree')!r}") from exc
    credential = Credential(
        cert_no=f.opt_text("cert_no") or cert_no,
        school=f.text("school"),
        degree=degree,
        major=f.text("major"),
        graduation_date=f.day("graduation_date"),
        full_time=f.flag("full_time"),
    )
    return Verification(cert_no, True, credential)
