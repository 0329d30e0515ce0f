"""PDF in and out: an archival PDF/A-3 from HTML with the request's signed data attached, a PAdES signature, and
the checks a receiving authority makes — WeasyPrint lays out, pyHanko signs and validates.

- **Layout** is WeasyPrint's (HTML and CSS, Pango/HarfBuzz shaping): Arabic joins and runs right to left, Chinese
  and Vietnamese render, with Debian's Noto fonts embedded and subset. The output is PDF/A-3b, the archival form
  that permits an attached file of any type: the request's compact JWS (``hanoinet-request.jws``), which a node
  reads back to recover every item exactly.
- **Signature** is PAdES baseline (ETSI.CAdES.detached, SHA-256) by pyHanko, in an incremental update, so the
  archival file stays byte for byte inside the signed range; an RFC 3161 timestamp is added where a TSA is set.
- **Checks** are pyHanko's validator: the signature is intact and covers the whole file, the chain leads to a
  trust anchor the caller gives (a node root rebuilt from a signed directory entry, or the authority's PKI).
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from hanoinet.platform.errors import INVALID_FILE, DomainError, ErrorKind

if TYPE_CHECKING:
    from hanoinet.documents.certificates import SigningCredentials

ATTACHMENT = "hanoinet-request.jws"
"""The name of the attached signed request data: a compact JWS (RFC 7515) a node verifies and reads."""
MAX_PDF_BYTES = 32 * 1024 * 1024
"""The largest PDF a node reads for verification or import (a request's document is a few hundred KiB)."""

logging.getLogger("weasyprint").setLevel(logging.ERROR)  # layout chatter (unknown CSS) is not the node's log
logging.getLogger("fontTools").setLevel(logging.ERROR)
logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # an untrusted chain is a result we report, not a fault
logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
warnings.filterwarnings("ignore", message="DSA is deprecated", module="pyhanko")  # pyHanko imports DSA; we use none


class NotADocument(DomainError):  # noqa: N818 - reads as what the file is not
    """The file is not a PDF this node can read, or carries no hanoinet data."""

    error_kind: ClassVar[ErrorKind] = INVALID_FILE


def _no_fetcher() -> Any:
    """WeasyPrint's fetcher for a document: one that allows no protocol, so nothing is fetched from the network or
    the disk. The template needs no resource, and a text that reached the layout must never make the node read a
    file or call a URL (SSRF)."""
    from weasyprint.urls import URLFetcher  # noqa: PLC0415 - with WeasyPrint, only when a document is made

    return URLFetcher(allowed_protocols=(), allow_redirects=False, timeout=1)


def render(html: str, *, attachment: bytes, description: str, base_url: str | None = None) -> bytes:
    """Lay out ``html`` as PDF/A-3b with ``attachment`` embedded as ``hanoinet-request.jws`` (its source data)."""
    from weasyprint import HTML, Attachment  # noqa: PLC0415 - 1.2 s to import: only when a document is made

    attached = Attachment(
        file_obj=io.BytesIO(attachment), name=ATTACHMENT, description=description, relationship="Source"
    )
    document = HTML(string=html, base_url=base_url, url_fetcher=_no_fetcher()).render()
    data = document.write_pdf(pdf_variant="pdf/a-3b", attachments=[attached], custom_metadata=True)
    if not isinstance(data, bytes):  # write_pdf returns bytes when given no target
        raise TypeError("WeasyPrint returned no PDF")
    return data


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def sign(
    pdf: bytes,
    credentials: SigningCredentials,
    *,
    reason: str,
    location: str,
    signer_name: str,
    tsa_url: str | None = None,
) -> bytes:
    """Add a PAdES signature by ``credentials`` (and a timestamp from ``tsa_url``, if given) to ``pdf``."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: PLC0415 - pyHanko: 0.9 s
    from pyhanko.sign import fields, signers, timestamps  # noqa: PLC0415 - likewise
    from pyhanko_certvalidator.registry import SimpleCertificateStore  # noqa: PLC0415 - likewise

    key = asn1_keys.PrivateKeyInfo.load(
        credentials.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    signer = signers.SimpleSigner(
        signing_cert=_asn1_cert(credentials.leaf),
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
            [_asn1_cert(c) for c in credentials.chain[1:]]
        ),
    )
    meta = signers.PdfSignatureMetadata(
        field_name="hanoinet-signature",
        reason=reason,
        location=location,
        name=signer_name,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
    )
    stamper = timestamps.HTTPTimeStamper(tsa_url) if tsa_url else None
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = signers.PdfSigner(meta, signer, timestamper=stamper).sign_pdf(writer)
    return bytes(out.getbuffer())


def _reader(pdf: bytes) -> Any:
    from pyhanko.pdf_utils.misc import PdfError  # noqa: PLC0415 - pyHanko: 0.9 s, only for documents
    from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: PLC0415 - likewise

    if len(pdf) > MAX_PDF_BYTES:
        raise NotADocument(f"the file is larger than {MAX_PDF_BYTES // (1024 * 1024)} MiB; a request's is far less")
    if not pdf.startswith(b"%PDF-"):
        raise NotADocument("the file is not a PDF (it does not start with %PDF-)")
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        reader.root  # noqa: B018 - reading the catalogue now makes a broken file fail here, not later
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError) as exc:
        raise NotADocument(f"the PDF cannot be read: {type(exc).__name__}") from None
    return reader


def attachment(pdf: bytes, name: str = ATTACHMENT) -> bytes | None:
    """The bytes of the file attached to ``pdf`` under ``name`` (PDF/A-3 associated file), or None."""
    reader = _reader(pdf)
    try:
        names = reader.root["/Names"]["/EmbeddedFiles"]
    except KeyError:
        return None
    pending = [names]
    while pending:  # a name tree: /Names pairs at the leaves, /Kids above them
        node = pending.pop()
        pending.extend(k.get_object() for k in node.get("/Kids", []))
        pairs = list(node.get("/Names", []))
        for key, spec in zip(pairs[0::2], pairs[1::2], strict=False):
            if str(key) == name:
                stream = spec.get_object()["/EF"]["/F"].get_object()
                return bytes(stream.data)
    return None


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """What the validator found of a document's signature."""

    present: bool
    intact: bool = False
    """The signed bytes are what was signed, and the signature verifies with the signer's key."""
    whole_file: bool = False
    """The signature covers the entire file: nothing was added after signing."""
    trusted: bool = False
    """The signer's chain leads to one of the trust anchors given."""
    signer: x509.Certificate | None = None
    chain: tuple[x509.Certificate, ...] = ()
    signed_at: datetime | None = None
    timestamped_at: datetime | None = None
    detail: str = ""


def _to_crypto(cert: Any) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.dump())


def check(pdf: bytes, trust: Callable[[tuple[x509.Certificate, ...]], list[x509.Certificate]]) -> SignatureCheck:
    """Validate the document's last signature. ``trust`` is given the certificates the signature carries (the
    signer's first) and returns the trust anchors the caller vouches for among them or beside them — a node root
    matched to a signed directory entry, or the authority's PKI. No network fetch: revocation is not checked."""
    from pyhanko.sign.validation import validate_pdf_signature  # noqa: PLC0415 - pyHanko: 0.9 s, only here
    from pyhanko.sign.validation.errors import SignatureValidationError  # noqa: PLC0415 - likewise
    from pyhanko.sign.validation.status import SignatureCoverageLevel  # noqa: PLC0415 - likewise
    from pyhanko_certvalidator import ValidationContext  # noqa: PLC0415 - likewise

    signatures = _reader(pdf).embedded_signatures
    if not signatures:
        return SignatureCheck(present=False, detail="the document carries no signature")
    embedded = signatures[-1]
    signer = _to_crypto(embedded.signer_cert)
    chain = (signer, *(_to_crypto(c) for c in embedded.other_embedded_certs if c.dump() != embedded.signer_cert.dump()))
    roots = trust(chain)
    context = ValidationContext(
        trust_roots=[_asn1_cert(c) for c in roots], allow_fetching=False, revocation_mode="soft-fail"
    )
    try:
        status = validate_pdf_signature(embedded, context)
    except (SignatureValidationError, ValueError) as exc:
        return SignatureCheck(present=True, signer=signer, chain=chain, detail=str(exc)[:300])
    stamp = status.timestamp_validity
    return SignatureCheck(
        present=True,
        intact=bool(status.intact and status.valid),
        whole_file=status.coverage is SignatureCoverageLevel.ENTIRE_FILE,
        trusted=bool(status.trusted) and bool(roots),
        signer=signer,
        chain=chain,
        signed_at=status.signer_reported_dt,
        timestamped_at=stamp.timestamp if stamp is not None and stamp.intact and stamp.valid else None,
        detail=status.summary(),
    )
