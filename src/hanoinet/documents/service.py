"""Use cases for formal documents: produce a request's signed bilingual PDF, and check one that was received.

A formal document is what a requesting authority sends where no node of the other State can receive a request —
by e-mail, through the diplomatic channel, by courier — and what it keeps as its record of what it asked (Art 40:
any means producing a written record). It is made from the request and its instrument's pack, never typed apart:

- its fixed words are in the requesting language and in the requested one (``wording``); the pack's labels are in
  each language (``rules.texts``); what the officer wrote is as written, with the translation given per item;
- it embeds the request's data as the node's compact JWS (``hanoinet-request.jws``), which any node verifies
  against this node's signed directory entry and reads back exactly (``read``);
- it is signed (PAdES) with the node's document certificate (``certificates``), which anyone can check with a
  PDF signature validator; ``verify`` is the node's own check, with the directory as its trust.

Generating a document is audited (who, which request, which languages, the file's SHA-256): the authority can
always say which signed documents exist.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from babel.dates import format_date, format_datetime
from cryptography import x509
from jinja2 import Environment, PackageLoader, select_autoescape

from hanoinet import __version__
from hanoinet.audit import service as audit
from hanoinet.documents import certificates, pdf
from hanoinet.documents.wording import WORDS
from hanoinet.federation.domain import EnvelopeRejected, KeyStatus, KeyUse, PublicKey
from hanoinet.platform.errors import Issue, ValidationFailed
from hanoinet.platform.events import Actor
from hanoinet.platform.web import LANGUAGES, RTL, state_name_in, translations
from hanoinet.requests import service as requests
from hanoinet.requests.domain import Action, Means
from hanoinet.requests.kept import keep
from hanoinet.rules.texts import translated

if TYPE_CHECKING:
    from hanoinet.app.node import Node

TYP = "hanoinet-request-document+jws"
"""The JWS type of the data a formal document embeds (the request message's body, and the document's own facts)."""


@dataclass(frozen=True, slots=True)
class Document:
    """A produced document: the signed PDF and what it is."""

    pdf: bytes
    request_id: str
    languages: tuple[str, str]
    filename: str

    @property
    def sha256(self) -> str:
        """The file's SHA-256, as the audit log records it."""
        return hashlib.sha256(self.pdf).hexdigest()


def _language(value: str | None, name: str) -> str | None:
    if value is None or not value.strip():
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    if code not in LANGUAGES:
        raise ValidationFailed(
            [Issue(name, f"{value!r} is not a language documents are made in: {', '.join(LANGUAGES)}")]
        )
    return code


def _accepted(tags: Sequence[str]) -> list[str]:
    """The document languages among a State's acceptable language tags (``zh-Hans`` is ``zh``), in its order."""
    return [c for c in dict.fromkeys(t.strip().lower().split("-")[0] for t in tags) if c in LANGUAGES]


def choose_languages(
    own: Sequence[str], theirs: Sequence[str], language: str | None = None, counterpart: str | None = None
) -> tuple[str, str]:
    """The document's two languages: the requesting one (asked for, else this node's first, else English) and the
    requested one (asked for, else the first the requested State accepts, else the same) — Art 40 asks for "a
    language acceptable to the requested State Party"."""
    first = _language(language, "language") or next(iter(_accepted(own)), "en")
    second = _language(counterpart, "counterpart_language") or next(iter(_accepted(theirs)), first)
    return first, second


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("hanoinet.documents", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass
class _Words:
    """The document's words in its languages: ``each`` makes a text in every language, once (a text the catalogue
    leaves in English is not printed twice)."""

    languages: tuple[str, ...]
    _gettext: dict[str, Callable[[str], str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.languages = tuple(dict.fromkeys(self.languages))
        self._gettext = {lang: translations(lang).gettext for lang in self.languages}

    def each(self, make: Callable[[str], str]) -> list[tuple[str, str]]:
        """``make(language)`` for each language, as (language, text) pairs, repeats dropped."""
        pairs: list[tuple[str, str]] = []
        for lang in self.languages:
            text = make(lang)
            if all(text != t for _, t in pairs):
                pairs.append((lang, text))
        return pairs

    def word(self, lang: str, key: str, **values: object) -> str:
        """One fixed text (``WORDS[key]``) in ``lang``, its placeholders filled."""
        text = self._gettext[lang](WORDS[key])
        return text % values if values else text

    def w(self, key: str, **values: object) -> list[tuple[str, str]]:
        """One fixed text in every language (the template's ``bi``)."""
        return self.each(lambda lang: self.word(lang, key, **values))


def _html(node: Node, formal: requests.FormalRequest, languages: tuple[str, str], now: datetime) -> str:
    """The document as HTML: the request, its case and legal basis, each item in the pack's order."""
    r, case, words = formal.request, formal.case, _Words(languages)
    first, second = languages
    packs = {lang: translated(node.pack(r.instrument), lang) for lang in words.languages}
    types = {lang: p.request_type(r.type) or formal.rtype for lang, p in packs.items()}

    def labels(key: str) -> list[tuple[str, str]]:
        def one(lang: str) -> str:
            item = types[lang].item(key)
            return item.label if item else key

        return words.each(one)

    def offence(lang: str) -> str:
        found = packs[lang].offence(case.offence)
        return found.label if found else case.offence.replace("_", " ")

    def state(code: str) -> list[tuple[str, str]]:
        return words.each(lambda lang: state_name_in(node, code, lang))

    items = [
        {
            "label": labels(item.key),
            "citation": str(item.citation),
            "text": r.items.get(item.key, ""),
            "translation": r.translations.get(item.key, "") if second != first else "",
        }
        for item in formal.rtype.required_items
        if item.required or r.items.get(item.key)
    ]
    basis_key = "basis_holds" if formal.basis.holds else "basis_fails"
    context: dict[str, Any] = {
        "w": words.w,
        "dir": lambda lang: "rtl" if lang in RTL else "ltr",
        "first": first,
        "second": second,
        "title": f"{words.word(first, 'title')} — {case.reference}",
        "subject": f"{formal.rtype.label} ({r.instrument}) {r.requesting_state} → {r.requested_state}",
        "version": __version__,
        "generated_at": now.isoformat(),
        "page_word": words.word(first, "page"),
        "authority": node.name,
        "letterhead": node.documents.letterhead,
        "signatory": node.documents.signatory,
        "reference": case.reference,
        "request_id": r.id,
        "emergency": r.emergency,
        "under": words.each(lambda lang: words.word(lang, "under", instrument=packs[lang].title)),
        "dated": words.each(lambda lang: format_date(now.date(), format="long", locale=lang)),
        "requesting_name": state(r.requesting_state),
        "requested_name": state(r.requested_state),
        "type_label": words.each(lambda lang: types[lang].label),
        "type_citation": str(formal.rtype.citation),
        "deadline": (
            words.each(lambda lang: format_datetime(r.deadline, format="long", locale=lang)) if r.deadline else None
        ),
        "follows_up": r.follows_up,
        "offence": words.each(offence),
        "penalty": (
            words.each(lambda lang: words.word(lang, "penalty_years", n=case.max_penalty_years))
            if case.max_penalty_years is not None
            else None
        ),
        "summary": case.summary,
        "qualification": case.legal_qualification,
        "basis": words.each(
            lambda lang: words.word(
                lang,
                basis_key,
                date=format_date(formal.basis.on, format="long", locale=lang),
                instrument=packs[lang].short_title,
                ours=state_name_in(node, r.requesting_state, lang),
                theirs=state_name_in(node, r.requested_state, lang),
            )
        ),
        "contents_intro": words.w("contents_intro"),
        "translation_word": words.w("translation"),
        "items": items,
        "confidential": r.confidential,
    }
    return _environment().get_template("request.html").render(context)


def produce(
    node: Node, request_id: str, actor: Actor, *, language: str | None = None, counterpart: str | None = None
) -> Document:
    """The signed formal document of an outgoing request, in its language and the requested State's.

    Refused (422, each item with its article) while the request's contents are incomplete: a signed document says
    what was asked, so it is made only of a request that could be sent."""
    formal = requests.formal_request(node, request_id, actor=actor.name)
    if formal.issues:
        raise ValidationFailed(list(formal.issues))
    own = node.profile.languages if node.profile else ()
    languages = choose_languages(
        own, formal.counterpart_languages, language or formal.request.language or None, counterpart
    )
    now = node.clock.now()
    identity = node.identity
    if identity is None:
        raise certificates.CertificateMissing("this node has no keys to sign documents with: run 'hanoinet init'")
    signing = credentials(node)
    data = {
        **formal.body,
        "document": {
            "languages": list(languages),
            "issued_at": now.isoformat(),
            "issued_by": identity.node_id,
            "authority": node.name,
            "certificate": certificates.fingerprint(signing.leaf),
        },
    }
    token = identity.sign(data, TYP)
    rendered = pdf.render(
        _html(node, formal, languages, now),
        attachment=token.encode("ascii"),
        description="hanoinet request data: a compact JWS (RFC 7515) signed by node " + identity.node_id,
    )
    signed = pdf.sign(
        rendered,
        signing,
        reason=f"{formal.rtype.label} ({formal.rtype.citation}), {formal.case.reference}",
        location=node.documents.location or state_name_in(node, node.node_state or "", "en"),
        signer_name=node.documents.signatory or node.name,
        tsa_url=node.documents.tsa_url,
    )
    document = Document(
        signed,
        formal.request.id,
        languages,
        f"{formal.case.reference}-{formal.request.id[:8]}-{'-'.join(languages)}.pdf",
    )
    audit.log(
        node,
        actor.event(
            "document.produce",
            "request",
            formal.request.id,
            languages=list(languages),
            sha256=document.sha256,
            certificate=certificates.fingerprint(signing.leaf),
        ),
    )
    return document


# --------------------------------------------------------------------------------------------------------------
# Checking a document that was received (or one's own, sent earlier)


@dataclass(frozen=True, slots=True)
class Verification:
    """What a node can say of a formal document: its signature, who signed it, and the request data it carries.

    ``ok`` only when everything holds: the signature is intact and covers the whole file, its chain leads to a node
    this node knows (or its own), and the embedded data is signed by that same node and names the same
    certificate. Anything less is reported, never rounded up to "verified"."""

    signature: pdf.SignatureCheck
    signer_node: str | None
    """The node whose key issued the signer's certificate, if this node knows it (or is it)."""
    signer_state: str | None
    data: dict[str, Any] | None
    """The embedded request data, verified; None if missing or not verified."""
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True if signature, signer and data all check."""
        return not self.problems

    @property
    def fingerprint(self) -> str | None:
        """The signer certificate's SHA-256."""
        return certificates.fingerprint(self.signature.signer) if self.signature.signer else None


@dataclass(frozen=True, slots=True)
class _Signer:
    node_id: str
    state: str | None
    key: PublicKey
    root: x509.Certificate


def _kid_of_raw(raw: bytes) -> str:
    from joserfc.jwk import OKPKey  # noqa: PLC0415 - only to name a key the way the directory does

    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return str(OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": x}).thumbprint())


def _known_signer(node: Node, chain: Sequence[x509.Certificate]) -> _Signer | str:
    """The node whose key issued this chain's root (its own, or a known peer's, not revoked), or why none is."""
    root = chain[-1] if len(chain) > 1 else None
    raw = certificates.root_public_raw(root) if root is not None else None
    if root is None or raw is None:
        return "the signer's certificate is not issued by a hanoinet node key (the authority's own PKI?)"
    kid = _kid_of_raw(raw)
    identity = node.identity
    if identity is not None and kid in {
        identity.signing_key.kid,
        *(k.kid for k in getattr(identity, "retired_signing", ())),
    }:
        return _Signer(identity.node_id, node.node_state, identity.signing_key, root)
    with node.uow() as uow:
        key = uow.peer_keys.get(kid)
        peer = uow.peers.get(key.node_id) if key is not None else None
    if key is None or key.use is not KeyUse.SIGNING:
        return f"the document was signed under key {kid}, which no node in this node's directory has published"
    if key.status is KeyStatus.REVOKED:
        return f"the document was signed under key {kid} of node {key.node_id}, which that node has revoked"
    return _Signer(key.node_id, peer.entry.state if peer else None, key.key, root)


def verify(node: Node, data: bytes) -> Verification:
    """Check a formal document: signature (pyHanko), signer (a node of this directory, by the key that issued its
    certificate), embedded request data (the JWS, by that same node's key, naming that certificate)."""
    found: list[_Signer | str] = []

    def trust(chain: tuple[x509.Certificate, ...]) -> list[x509.Certificate]:
        signer = _known_signer(node, chain)
        found.append(signer)
        return [signer.root] if isinstance(signer, _Signer) else []

    check = pdf.check(data, trust)
    problems: list[str] = []
    if not check.present:
        return Verification(check, None, None, None, (check.detail,))
    signer = found[0] if found else "no certificate"
    if not check.intact:
        problems.append(f"the signature does not verify: the file was changed after signing ({check.detail})")
    if not check.whole_file:
        problems.append("the signature does not cover the whole file: something was added after signing")
    if isinstance(signer, str):
        problems.append(signer)
    elif check.intact and not check.trusted:
        problems.append(f"the signer's certificate does not chain to node {signer.node_id}'s key ({check.detail})")
    payload = _embedded(data, signer, check, problems)
    return Verification(
        check,
        signer.node_id if isinstance(signer, _Signer) else None,
        signer.state if isinstance(signer, _Signer) else None,
        payload,
        tuple(problems),
    )


def _embedded(
    data: bytes, signer: _Signer | str, check: pdf.SignatureCheck, problems: list[str]
) -> dict[str, Any] | None:
    """The embedded request data, verified by the signer's key and bound to the signature's certificate."""
    token = pdf.attachment(data)
    if token is None:
        problems.append(f"the document carries no {pdf.ATTACHMENT}: it was not made by a hanoinet node")
        return None
    if isinstance(signer, str):
        return None
    from hanoinet.federation.jose import verify as verify_jws  # noqa: PLC0415 - the one JWS check of the node

    try:
        payload = verify_jws(token.decode("ascii", errors="replace"), signer.key, TYP)
    except EnvelopeRejected as exc:
        problems.append(f"the embedded request data does not verify with node {signer.node_id}'s key: {exc}")
        return None
    facts: dict[str, Any] = payload["document"] if isinstance(payload.get("document"), dict) else {}
    if check.signer is not None and facts.get("certificate") != certificates.fingerprint(check.signer):
        problems.append("the embedded request data names another certificate than the one that signed the PDF")
    if facts.get("issued_by") != signer.node_id:
        problems.append(f"the embedded request data says it was issued by {facts.get('issued_by')!r}")
    return payload


def credentials(node: Node) -> certificates.SigningCredentials:
    """The credentials documents are signed with now (self-issued on first use)."""
    if node.documents.key_dir is None:
        raise certificates.CertificateMissing("this node has no key directory to sign documents with")
    # Real time, not the node's legal clock (a training exercise runs it fast; tests fix it): the certificate is
    # checked by outside validators against their own clocks, as the signing time pyHanko writes is.
    return certificates.current(
        node.documents.key_dir, node.identity, authority=node.name, state=node.node_state, now=datetime.now(UTC)
    )


# --------------------------------------------------------------------------------------------------------------
# Requests handled off the network: the sent document and the documents received kept in the vault


def send(
    node: Node,
    request_id: str,
    means: Means,
    recipient: str,
    actor: Actor,
    *,
    language: str | None = None,
    counterpart: str | None = None,
) -> tuple[Document | None, requests.RequestView]:
    """Send an outgoing draft off the network: make its signed document (not for a telephone call, whose written
    confirmation follows), keep the file sent in the vault with its custody, and record the request as sent by
    ``means`` to ``recipient`` — whose clocks then run as for a request sent over the network."""
    requests.check_off_network(node, request_id, means, recipient)  # nothing is made or kept for a send refused
    document = None
    record: dict[str, str] = {}
    if means is not Means.TELEPHONE:
        document = produce(node, request_id, actor, language=language, counterpart=counterpart)
        item = keep(
            node,
            request_id,
            document.pdf,
            actor=actor,
            what="sent",
            source=f"{node.name}: formal request document, sent by {means.value} to {recipient}",
            method="generated and signed by the node",
            file_name=document.filename,
        )
        record = {"document": item.id, "sha256": item.sha256, "file_name": document.filename}
    view = requests.send_off_network(node, request_id, means, recipient, actor=actor.name, document=record)
    return document, view


def record_received(
    node: Node,
    request_id: str,
    action: Action,
    data: bytes,
    *,
    means: Means,
    sender: str,
    actor: Actor,
    file_name: str = "",
    grounds: tuple[str, ...] = (),
    note: str = "",
) -> requests.RequestView:
    """Record the other State's answer received off the network (an acknowledgement, a request for more
    information, a refusal with its grounds, the execution...), with the document received kept in the vault;
    the same state machine decides whether it may be recorded now."""
    if means is Means.NETWORK:
        raise ValidationFailed([Issue("means", "answers over the network arrive from the other node by themselves")])
    if not data:
        raise ValidationFailed([Issue("document", "the document received is empty")])
    probe = {"means": means.value, "from": sender, "file_name": file_name}
    requests.check_action(node, request_id, action, grounds=grounds, note=note, record=probe)  # before keeping
    item = keep(
        node,
        request_id,
        data,
        actor=actor,
        what="received",
        source=f"received by {means.value} from {sender or 'the other State'}",
        method=f"received by {means.value}",
        file_name=file_name or "received",
    )
    record = {"means": means.value, "from": sender, "document": item.id, "sha256": item.sha256, "file_name": file_name}
    return requests.act_on_request(
        node, request_id, action, actor=actor.name, grounds=grounds, note=note, record=record
    )


def register(
    node: Node, data: bytes, *, means: Means, sender: str, actor: Actor, file_name: str = ""
) -> requests.RequestView:
    """Register a request received off the network as a hanoinet document: only when it verifies (signature,
    signer known to this directory, embedded data by the same node), so every item is the requesting State's
    exactly; the document is kept in the vault with its custody. Anything less is refused with the reasons, and
    the request is entered by hand instead (``request new --incoming``, the web intake)."""
    if means is Means.NETWORK:
        raise ValidationFailed([Issue("means", "requests over the network arrive from the other node by themselves")])
    found = verify(node, data)
    if not found.ok or found.data is None or found.signer_node is None or found.signer_state is None:
        reasons = "; ".join(found.problems) or "its request data cannot be read"
        raise ValidationFailed(
            [Issue("document", f"not registered, the document does not verify: {reasons}. Enter the request by hand")]
        )
    digest = hashlib.sha256(data).hexdigest()
    view = requests.register_document(
        node,
        found.data,
        signer_node=found.signer_node,
        signer_state=found.signer_state,
        means=means,
        sender=sender,
        record={"sha256": digest, "file_name": file_name},
        actor=actor.name,
    )
    keep(
        node,
        view.request.id,
        data,
        actor=actor,
        what="received",
        source=f"received by {means.value} from {sender or found.signer_state}, signed by node {found.signer_node}",
        method=f"received by {means.value}",
        file_name=file_name or "request.pdf",
    )
    return view
