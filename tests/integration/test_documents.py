"""Formal request documents on real nodes (real keys, SQLite): the signed bilingual PDF is accepted by outside
validators (poppler's pdfsig, pyHanko's own CLI), its text is what pdftotext reads, and a counterpart node that knows
the sender recovers every item exactly — while a changed file, an unknown signer or an incomplete request is never
reported as verified."""

from __future__ import annotations

import hashlib
import html
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from PIL import Image
from sqlalchemy import Engine

from hanoinet.app.node import Node
from hanoinet.audit import service as audit
from hanoinet.audit.ports import AuditQuery
from hanoinet.cases import service as cases
from hanoinet.documents import certificates, pdf
from hanoinet.documents import service as documents
from hanoinet.documents.wording import WORDS
from hanoinet.evidence import service as evidence
from hanoinet.evidence.domain import CustodyAction
from hanoinet.platform.errors import Conflict, IllegalTransition, NoLegalBasis, ValidationFailed
from hanoinet.platform.events import Actor, Channel
from hanoinet.platform.web import translations
from hanoinet.requests import present as requests_present
from hanoinet.requests import service as requests
from hanoinet.requests.clocks import ClockStatus
from hanoinet.requests.domain import Action, Direction, EventKind, Means, RequestState
from hanoinet.requests.ports import InboxQuery
from hanoinet.rules.loader import load_builtin_packs
from hanoinet.rules.texts import translated
from hanoinet.statistics import service as statistics
from tests.factories import complete_items
from tests.fakes import FixedClock
from tests.federation_support import connect, make_node

UN = "uncc-2024"
OFFICER = Actor("officer.nguyen", frozenset(), Channel.CLI, "local")
PYHANKO = Path(sys.executable).parent / "pyhanko"


@dataclass
class Net:
    vnm: Node
    chl: Node
    egy: Node
    stranger: Node
    mla: str
    """An MLA request of Viet Nam to Chile, written in English, with a Spanish translation of two items."""
    preservation: str
    """A preservation request of Viet Nam to Egypt, written in French."""
    incomplete: str


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    base = tmp_path_factory.mktemp("documents")
    clock = FixedClock(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    engines: list[Engine] = []
    vnm = make_node(base, "VNM", "vnm-ca", clock=clock, engines=engines, languages="vi,en")
    chl = make_node(base, "CHL", "chl-ca", clock=clock, engines=engines, languages="es")
    egy = make_node(base, "EGY", "egy-ca", clock=clock, engines=engines, languages="ar,fr")
    stranger = make_node(base, "SGP", "sgp-247", clock=clock, engines=engines)
    connect(vnm, chl, egy)
    case = cases.open_case(
        vnm,
        reference="HN-2027-014",
        offence="illegal_access",
        max_penalty_years=7,
        summary="Intrusion into the systems of Bạch Mai hospital; a ransom was demanded in bitcoin.",
    )
    items = complete_items(UN, "mla")
    mla = requests.create_request(
        vnm,
        requests.RequestDraft(
            case=case.id,
            instrument=UN,
            type="mla",
            requested_state="CHL",
            items=items,
            language="en",
            translations={
                "purpose": "Obtener los registros del servidor 203.0.113.7 (1-15 de noviembre de 2026).",
                "assistance_sought": "Registros de acceso y datos del abonado.",
            },
            confidential=True,
        ),
        actor=OFFICER.name,
    ).request.id
    preservation = requests.create_request(
        vnm,
        requests.RequestDraft(
            case=case.id,
            instrument=UN,
            type="preservation",
            requested_state="EGY",
            items=complete_items(UN, "preservation"),
            language="fr",
        ),
        actor=OFFICER.name,
    ).request.id
    incomplete = requests.create_request(
        vnm,
        requests.RequestDraft(case=case.id, instrument=UN, type="preservation", requested_state="CHL"),
        actor=OFFICER.name,
    ).request.id
    yield Net(vnm, chl, egy, stranger, mla, preservation, incomplete)
    for engine in engines:
        engine.dispose()


@pytest.fixture(scope="module")
def mla_pdf(net: Net, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Viet Nam's MLA request to Chile as a document: English and Spanish (Chile's directory entry)."""
    document = documents.produce(net.vnm, net.mla, OFFICER)
    assert document.languages == ("en", "es")
    path = tmp_path_factory.mktemp("pdf") / document.filename
    path.write_bytes(document.pdf)
    return path


@pytest.fixture(scope="module")
def arabic_pdf(net: Net, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Viet Nam's preservation request to Egypt: French and Arabic (the first language Egypt accepts)."""
    document = documents.produce(net.vnm, net.preservation, OFFICER)
    assert document.languages == ("fr", "ar")
    path = tmp_path_factory.mktemp("pdf") / document.filename
    path.write_bytes(document.pdf)
    return path


def text_of(path: Path) -> str:
    """What poppler's pdftotext reads from the file (an outside reader of the text layer), without white space:
    lines wrap where the layout broke them, not always at a space."""
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    return flat(done.stdout.decode("utf-8"))


def flat(text: str) -> str:
    """Without white space, nor the bidi marks pdftotext puts around each right-to-left run of a line (a label
    wrapped over two lines is two runs), nor Arabic's short-vowel marks, which pdftotext writes before their letter
    instead of after it (``ُتلتمس`` for ``تُلتمس``): the letters are compared, in their order."""
    return re.sub(r"[\s\u200e\u200f\u202a-\u202e\u2066-\u2069\u064b-\u065f\u0670]+", "", text)


def pdfsig(path: Path) -> str:
    done = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False)
    return done.stdout + done.stderr


@pytest.mark.parametrize("which", ["mla_pdf", "arabic_pdf"])
def test_poppler_accepts_the_signature_over_the_whole_file(which: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(which)
    report = pdfsig(path)
    assert "Signature Validation: Signature is Valid." in report
    assert "Total document signed" in report
    assert "Signature Type: ETSI.CAdES.detached" in report  # PAdES baseline
    assert "Signing Hash Algorithm: SHA-256" in report


def test_pyhankos_validator_trusts_the_chain_to_the_node_root(net: Net, mla_pdf: Path, tmp_path: Path) -> None:
    """pyHanko's own CLI, given the node root (which anyone can rebuild from the node's signed directory entry)
    as the only trust anchor, judges the signature intact and trusted."""
    root = documents.credentials(net.vnm).chain[-1]
    anchor = tmp_path / "node-root.pem"
    anchor.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    assert PYHANKO.exists(), "pyhanko-cli is a dev dependency"
    done = subprocess.run(
        [str(PYHANKO), "sign", "validate", "--trust", str(anchor), "--trust-replace", str(mla_pdf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "INTACT:TRUSTED" in done.stdout


def test_pyhanko_refuses_another_anchor(net: Net, mla_pdf: Path, tmp_path: Path) -> None:
    other = documents.credentials(net.chl).chain[-1]
    anchor = tmp_path / "other-root.pem"
    anchor.write_bytes(other.public_bytes(serialization.Encoding.PEM))
    done = subprocess.run(
        [str(PYHANKO), "sign", "validate", "--trust", str(anchor), "--trust-replace", str(mla_pdf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "INTACT:TRUSTED" not in done.stdout


def test_the_text_is_in_both_languages_with_every_item(net: Net, mla_pdf: Path) -> None:
    text = text_of(mla_pdf)
    view = requests.get_request(net.vnm, net.mla)
    for key, value in view.request.items.items():
        assert flat(value) in text, key
    for value in view.request.translations.values():
        assert flat(value) in text
    spanish = translations("es").gettext
    for key in ("legal_basis", "contents", "handling", "confidential"):
        assert spanish(WORDS[key]) != WORDS[key], f"{key} has no Spanish translation"
        assert flat(spanish(WORDS[key])) in text
        assert flat(WORDS[key]) in text
    pack_es = translated(net.vnm.pack(UN), "es")
    rtype_es = pack_es.request_type("mla")
    assert rtype_es is not None
    assert flat(rtype_es.label) in text
    assert flat(view.rtype.label) in text
    for item in rtype_es.required_items:  # each item under its Spanish label too, with its article
        assert flat(item.label) in text
        assert flat(str(item.citation)) in text
    assert "HN-2027-014" in text
    assert net.mla in text
    assert "Chile" in text
    assert "VietNam" in text


def test_an_arabic_document_has_arabic_text_laid_out_right_to_left(net: Net, arabic_pdf: Path) -> None:
    text = text_of(arabic_pdf)
    arabic = translations("ar").gettext(WORDS["legal_basis"])
    assert re.search("[\u0600-\u06ff]", arabic), "the Arabic catalogue translates the document's words"
    assert flat(arabic) in text
    assert flat(translations("fr").gettext(WORDS["legal_basis"])) in text
    assert "مصر" in text  # Egypt, in Arabic (ISO 3166 names as translated)
    html = documents._html(  # the layout: the Arabic parts are marked right to left
        net.vnm, requests.formal_request(net.vnm, net.preservation, actor="t"), ("fr", "ar"), net.vnm.clock.now()
    )
    assert 'lang="ar" dir="rtl"' in html


def test_the_file_is_pdf_a_3_with_the_request_data_attached(mla_pdf: Path) -> None:
    data = mla_pdf.read_bytes()
    metadata = bytes(pdf._reader(data).root["/Metadata"].get_object().data)  # the XMP packet PDF/A requires
    assert re.search(rb"pdfaid:part(>\s*|=\")3", metadata), metadata[:400]
    assert re.search(rb"pdfaid:conformance(>\s*|=\")B", metadata)
    attached = pdf.attachment(data)
    assert attached is not None
    assert attached.count(b".") == 2
    done = subprocess.run(["pdfdetach", "-list", str(mla_pdf)], capture_output=True, text=True, check=True)
    assert pdf.ATTACHMENT in done.stdout  # an outside reader sees the attachment too


def test_the_counterpart_node_recovers_every_item_exactly(net: Net, mla_pdf: Path) -> None:
    found = documents.verify(net.chl, mla_pdf.read_bytes())
    assert found.ok, found.problems
    assert found.signer_node == "vnm-ca"
    assert found.signer_state == "VNM"
    assert found.signature.intact
    assert found.signature.whole_file
    assert found.signature.trusted
    original = requests.get_request(net.vnm, net.mla).request
    assert found.data is not None
    carried = found.data["request"]
    assert carried["items"] == original.items
    assert carried["translations"] == original.translations
    assert carried["confidential"] is True
    assert carried["language"] == "en"
    assert carried["id"] == original.id
    assert carried["type"] == "mla"
    assert found.data["case"]["reference"] == "HN-2027-014"
    assert found.data["document"]["languages"] == ["en", "es"]


def test_the_sender_verifies_its_own_document(net: Net, mla_pdf: Path) -> None:
    assert documents.verify(net.vnm, mla_pdf.read_bytes()).ok


def test_a_node_that_does_not_know_the_signer_does_not_call_it_verified(net: Net, mla_pdf: Path) -> None:
    found = documents.verify(net.stranger, mla_pdf.read_bytes())
    assert not found.ok
    assert found.signature.intact  # the bytes are intact, but nothing says whose key this is
    assert not found.signature.trusted
    assert any("no node in this node's directory" in p for p in found.problems)
    assert found.data is None


def test_a_changed_byte_breaks_the_signature(net: Net, mla_pdf: Path) -> None:
    data = bytearray(mla_pdf.read_bytes())
    at = data.index(b"stream\n") + 20  # inside the first stream, well within the signed range
    data[at] ^= 0x01
    found = documents.verify(net.chl, bytes(data))
    assert not found.ok
    assert not found.signature.intact
    assert any("changed after signing" in p for p in found.problems)


def test_something_added_after_signing_is_reported(net: Net, mla_pdf: Path) -> None:
    found = documents.verify(net.chl, mla_pdf.read_bytes() + b"\n1 0 obj\n(added later)\nendobj\n")
    assert not found.ok
    assert any("does not cover the whole file" in p for p in found.problems)


def test_a_file_that_is_not_a_pdf_is_refused_with_its_reason(net: Net) -> None:
    with pytest.raises(pdf.NotADocument, match="not a PDF"):
        documents.verify(net.chl, b"GIF89a not a pdf")
    with pytest.raises(pdf.NotADocument, match="cannot be read"):
        documents.verify(net.chl, b"%PDF-1.7\n garbage \x00\xff")


def test_an_incomplete_request_gets_no_document(net: Net) -> None:
    with pytest.raises(ValidationFailed) as raised:
        documents.produce(net.vnm, net.incomplete, OFFICER)
    assert any(i.citation and i.citation.startswith("Art 42") for i in raised.value.issues)


def test_a_received_request_is_not_the_receivers_to_issue(net: Net) -> None:
    case = cases.open_case(net.chl, reference="CL-1", offence="illegal_access", max_penalty_years=5, summary="x")
    incoming = requests.create_request(
        net.chl,
        requests.RequestDraft(
            case=case.id,
            instrument=UN,
            type="preservation",
            requested_state="CHL",
            requesting_state="VNM",
            direction=Direction.INCOMING,
            items=complete_items(UN, "preservation"),
        ),
        actor="x",
    )
    with pytest.raises(Conflict, match="requesting State's"):
        documents.produce(net.chl, incoming.request.id, OFFICER)


def test_a_language_documents_are_not_made_in_is_refused_naming_the_field(net: Net) -> None:
    with pytest.raises(ValidationFailed) as raised:
        documents.produce(net.vnm, net.mla, OFFICER, counterpart="de")
    assert raised.value.issues[0].field == "counterpart_language"


def test_producing_a_document_is_audited_with_its_hash(net: Net) -> None:
    document = documents.produce(net.vnm, net.mla, OFFICER, language="vi", counterpart="es")
    entries = audit.entries(net.vnm, AuditQuery(action="document.produce", limit=50))
    assert any(e.details.get("sha256") == document.sha256 and e.object_id == net.mla for e in entries)


def test_the_self_issued_certificate_is_bound_to_the_node_key_and_follows_a_rotation(net: Net) -> None:
    first = documents.credentials(net.stranger)
    assert first.self_issued
    identity = net.stranger.identity
    assert identity is not None
    assert first.chain[-1].public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    ) == certificates._raw_ed25519(identity.signing_key.jwk)
    assert documents.credentials(net.stranger).leaf == first.leaf  # kept while the key is the same
    key_dir = net.stranger.documents.key_dir
    assert key_dir is not None
    assert (key_dir / certificates.KEY_FILE).stat().st_mode & 0o077 == 0


def test_pdftotext_and_pdfsig_are_installed() -> None:
    """The outside validators these tests rely on are really there (``.ci/run`` installs poppler-utils)."""
    assert shutil.which("pdfsig")
    assert shutil.which("pdftotext")


# --- requests handled off the network -------------------------------------------------------------------------


def new_request(net: Net, requested: str, type_: str = "mla") -> str:
    case = cases.list_cases(net.vnm, limit=1)[0]
    draft = requests.RequestDraft(
        case=case.id, instrument=UN, type=type_, requested_state=requested, items=complete_items(UN, type_)
    )
    return requests.create_request(net.vnm, draft, actor=OFFICER.name).request.id


def test_a_request_sent_by_e_mail_runs_the_clocks_of_a_network_request_and_is_never_delivered(net: Net) -> None:
    by_mail = new_request(net, "JPN")  # Japan runs no node: e-mail is the way
    by_network = new_request(net, "CHL")
    document, view = documents.send(net.vnm, by_mail, Means.EMAIL, "mla@moj.go.jp", OFFICER, counterpart="en")
    sent = requests.act_on_request(net.vnm, by_network, Action.SEND, actor=OFFICER.name)
    assert document is not None
    assert view.request.state is RequestState.SENT
    assert view.request.means is Means.EMAIL
    assert view.request.peer is None
    assert sent.request.means is Means.NETWORK
    assert [(c.name, c.due_at - c.started_at if c.due_at else None) for c in view.clocks] == [
        (c.name, c.due_at - c.started_at if c.due_at else None) for c in sent.clocks
    ]
    event = view.request.last_event(EventKind.SENT)
    assert event is not None
    assert event.data["means"] == "email"
    assert event.data["to"] == "mla@moj.go.jp"
    assert event.data["sha256"] == document.sha256
    item, custody = evidence.get_item(net.vnm, event.data["document"])  # the file sent, kept with its custody
    assert item.sha256 == document.sha256
    assert custody[0].action is CustodyAction.ACQUIRE
    shown = requests.get_request(net.vnm, by_mail)
    assert shown.messages == ()  # nothing went over the network, so nothing can say it was delivered
    assert requests_present.request_view(shown, net.vnm.clock.now())["means"] == "email"
    inbox = requests.inbox(
        net.vnm, InboxQuery(now=net.vnm.clock.now(), state=RequestState.SENT, counterpart_state="JPN")
    )
    assert by_mail in {r.id for r in inbox}


def test_the_other_states_answer_received_by_post_is_recorded_with_its_document(net: Net) -> None:
    request_id = new_request(net, "JPN")
    documents.send(net.vnm, request_id, Means.DIPLOMATIC, "Embassy of Japan, Hanoi", OFFICER, counterpart="en")
    letter = b"%PDF-1.4 scanned letter of the Ministry of Justice of Japan acknowledging receipt"
    view = documents.record_received(
        net.vnm,
        request_id,
        Action.ACKNOWLEDGE,
        letter,
        means=Means.COURIER,
        sender="Ministry of Justice of Japan",
        actor=OFFICER,
        file_name="acknowledgement.pdf",
    )
    assert view.request.state is RequestState.ACKNOWLEDGED
    event = view.request.last_event(EventKind.ACKNOWLEDGED)
    assert event is not None
    assert event.data["from"] == "Ministry of Justice of Japan"
    assert event.data["means"] == "courier"
    item, _ = evidence.get_item(net.vnm, event.data["document"])
    assert item.sha256 == hashlib.sha256(letter).hexdigest()
    refused = documents.record_received(
        net.vnm,
        request_id,
        Action.REFUSE,
        b"refusal letter",
        means=Means.EMAIL,
        sender="MOJ",
        actor=OFFICER,
        grounds=("essential_interests",),
    )
    assert refused.request.state is RequestState.REFUSED


def test_an_answer_cannot_be_typed_in_for_a_request_exchanged_with_a_node(net: Net) -> None:
    request_id = new_request(net, "CHL")
    requests.act_on_request(net.vnm, request_id, Action.SEND, actor=OFFICER.name)
    with pytest.raises(IllegalTransition, match="arrives from node"):
        documents.record_received(
            net.vnm, request_id, Action.ACKNOWLEDGE, b"x", means=Means.EMAIL, sender="x", actor=OFFICER
        )


def test_an_oral_request_must_be_confirmed_in_writing(net: Net) -> None:
    request_id = new_request(net, "JPN", "emergency")
    document, view = documents.send(net.vnm, request_id, Means.TELEPHONE, "JNPA duty officer, +81 3 0000", OFFICER)
    assert document is None  # a call: the written confirmation follows
    clock = next(c for c in view.clocks if c.name == "written_confirmation")
    assert clock.status is ClockStatus.RUNNING
    assert clock.due_at is not None
    assert clock.due_at - clock.started_at == timedelta(hours=72)
    assert Action.CONFIRM_IN_WRITING in view.allowed_actions
    confirmed = requests.act_on_request(
        net.vnm, request_id, Action.CONFIRM_IN_WRITING, actor=OFFICER.name, record={"means": "email", "to": "jnpa"}
    )
    assert next(c for c in confirmed.clocks if c.name == "written_confirmation").status is ClockStatus.MET
    other = new_request(net, "JPN")
    _, mailed = documents.send(net.vnm, other, Means.EMAIL, "x@example.org", OFFICER, counterpart="en")
    assert Action.CONFIRM_IN_WRITING not in mailed.allowed_actions
    assert all(c.name != "written_confirmation" for c in mailed.clocks)


def test_sending_off_the_network_needs_a_recipient_and_a_complete_request(net: Net) -> None:
    with pytest.raises(ValidationFailed) as raised:
        documents.send(net.vnm, new_request(net, "JPN"), Means.EMAIL, "  ", OFFICER, counterpart="en")
    assert raised.value.issues[0].field == "to"
    with pytest.raises(ValidationFailed):
        documents.send(net.vnm, net.incomplete, Means.EMAIL, "someone", OFFICER)
    assert requests.get_request(net.vnm, net.incomplete).request.state is RequestState.DRAFT


def test_a_counterpart_registers_the_pdf_and_gets_every_item_exactly(net: Net, mla_pdf: Path) -> None:
    view = documents.register(net.chl, mla_pdf.read_bytes(), means=Means.EMAIL, sender="vnm mail", actor=OFFICER)
    original = requests.get_request(net.vnm, net.mla).request
    got = view.request
    assert got.id == original.id
    assert got.direction is Direction.INCOMING
    assert got.state is RequestState.RECEIVED
    assert got.items == original.items
    assert got.translations == original.translations
    assert got.requesting_state == "VNM"
    assert got.means is Means.EMAIL
    assert got.peer is None  # answered off the network: no node to reply to
    assert [c.name for c in view.clocks]  # its clocks run from now, as for a request received from a node
    received = got.last_event(EventKind.RECEIVED)
    assert received is not None
    assert received.data["sha256"] == hashlib.sha256(mla_pdf.read_bytes()).hexdigest()
    assert received.data["signed_by_node"] == "vnm-ca"
    with pytest.raises(ValidationFailed, match="already exists"):
        documents.register(net.chl, mla_pdf.read_bytes(), means=Means.EMAIL, sender="again", actor=OFFICER)


def test_a_document_that_does_not_verify_is_not_registered(net: Net, mla_pdf: Path) -> None:
    with pytest.raises(ValidationFailed, match="does not verify"):
        documents.register(net.stranger, mla_pdf.read_bytes(), means=Means.EMAIL, sender="x", actor=OFFICER)
    data = bytearray(mla_pdf.read_bytes())
    data[data.index(b"stream\n") + 20] ^= 0x01
    with pytest.raises(ValidationFailed, match="does not verify"):
        documents.register(net.egy, bytes(data), means=Means.EMAIL, sender="x", actor=OFFICER)


def _types(instrument: str) -> list[str]:
    return [t.key for t in load_builtin_packs()[instrument].request_types]


@pytest.mark.parametrize(
    ("instrument", "type_"),
    [*((UN, t) for t in _types(UN)), *(("budapest-ets185", t) for t in _types("budapest-ets185")[:3])],
)
def test_every_type_of_request_has_its_document_in_two_language_pairs(
    net: Net, instrument: str, type_: str, tmp_path: Path
) -> None:
    """Each type's document in English and French, and in Vietnamese and Arabic: every item under its label and
    article in both languages of the pair, as written, as poppler's pdftotext reads it; the signature accepted by
    poppler's pdfsig."""
    case = cases.list_cases(net.vnm, limit=1)[0]
    draft = requests.RequestDraft(
        case=case.id, instrument=instrument, type=type_, requested_state="JPN", items=complete_items(instrument, type_)
    )
    request = requests.create_request(net.vnm, draft, actor=OFFICER.name).request
    for ours, theirs in (("en", "fr"), ("vi", "ar")):
        document = documents.produce(net.vnm, request.id, OFFICER, language=ours, counterpart=theirs)
        assert document.languages == (ours, theirs)
        path = tmp_path / f"{ours}-{theirs}.pdf"
        path.write_bytes(document.pdf)
        text = flat(pdf_text(document.pdf))
        for language in (ours, theirs):
            rtype = translated(net.vnm.pack(instrument), language).request_type(type_)
            assert rtype is not None
            assert shown(rtype.label, text, language), language
            for item in rtype.required_items:
                assert shown(item.label, text, language), (language, item.key)
        for item_key, value in request.items.items():
            assert flat(value) in text, item_key
        if theirs == "ar":
            assert re.search("[\u0600-\u06ff]", text), "Arabic script in the text layer"
            layout = documents._html(
                net.vnm, requests.formal_request(net.vnm, request.id, actor="t"), (ours, theirs), net.vnm.clock.now()
            )
            arabic = translated(net.vnm.pack(instrument), "ar").request_type(type_)
            assert arabic is not None
            for item in arabic.required_items:  # every label whole, right to left, in what the PDF is made of
                assert html.escape(item.label, quote=False) in layout, item.key
            assert 'lang="ar" dir="rtl"' in layout
        assert "Signature Validation: Signature is Valid." in pdfsig(path), (ours, theirs)


LAM_ALEF = re.compile("\u0644[\u0622\u0623\u0625\u0627]")
"""Lam followed by alef: one ligature glyph, which pdftotext splits and may write in visual order."""


def shown(label: str, text: str, language: str) -> bool:
    """Whether ``label`` is in the text layer as poppler's pdftotext reads it: whole, or word by word where the side
    by side columns interleave (pdftotext may read a wrapped label's lines in either order, the other column's
    heading between them). Arabic words holding a lam-alef ligature are left to the layout's own check: pdftotext
    splits the ligature and may write its two letters in visual order."""
    if flat(label) in text:
        return True
    words = [w for w in label.split() if language != "ar" or not LAM_ALEF.search(w)]
    if language == "ar":  # a neutral mark (a colon, a bracket) may be placed at either end of its run
        words = [w.strip(":;.,()،؛") for w in words]
    return all(flat(word) in text for word in words if word)


def pdf_text(data: bytes) -> str:
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True)
    return done.stdout.decode("utf-8")


def test_requests_sent_by_e_mail_count_in_the_statistics_as_network_ones_do(net: Net) -> None:
    before = statistics.statistics(net.vnm, direction=Direction.OUTGOING)
    documents.send(net.vnm, new_request(net, "JPN"), Means.EMAIL, "mla@moj.go.jp", OFFICER, counterpart="en")
    requests.act_on_request(net.vnm, new_request(net, "CHL"), Action.SEND, actor=OFFICER.name)
    after = statistics.statistics(net.vnm, direction=Direction.OUTGOING)
    counts = {f.key: f.count for f in after.by_state}
    earlier = {f.key: f.count for f in before.by_state}
    assert counts.get("JPN", 0) == earlier.get("JPN", 0) + 1
    assert counts.get("CHL", 0) == earlier.get("CHL", 0) + 1
    assert after.total == before.total + 2


@pytest.mark.parametrize(
    "authority",
    [
        "Viet Nam — central authority and 24/7 point of contact (exercise), Ministry of Public Security",
        "وزارة العدل في جمهورية مصر العربية — السلطة المركزية للمساعدة القانونية المتبادلة",
        "中华人民共和国司法部国际合作局中央机关司法协助联络处办公室",
    ],
)
def test_a_long_authority_name_in_any_script_fits_the_certificate(net: Net, authority: str) -> None:
    fitted = certificates.fit(authority)
    assert len(fitted.encode()) <= certificates.X509_NAME_BYTES
    assert authority.startswith(fitted)
    identity = net.stranger.identity
    assert identity is not None
    issued = certificates.issue(identity, authority=authority, state="EGY", now=datetime.now(UTC))
    organization = issued.leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert organization == fitted


def _vault_items(net: Net) -> int:
    case = cases.list_cases(net.vnm, limit=1)[0]
    return len(evidence.list_items(net.vnm, case_id=case.id, limit=1000))


def test_an_answer_that_cannot_be_recorded_now_keeps_nothing(net: Net) -> None:
    request_id = new_request(net, "JPN")
    documents.send(net.vnm, request_id, Means.EMAIL, "mla@moj.go.jp", OFFICER, counterpart="en")
    before = _vault_items(net)
    with pytest.raises(IllegalTransition, match="cannot execute"):  # not acknowledged yet
        documents.record_received(
            net.vnm, request_id, Action.EXECUTE, b"the evidence", means=Means.EMAIL, sender="MOJ", actor=OFFICER
        )
    with pytest.raises(ValidationFailed, match="grounds"):  # a refusal states its grounds
        documents.record_received(
            net.vnm, request_id, Action.REFUSE, b"a refusal", means=Means.EMAIL, sender="MOJ", actor=OFFICER
        )
    assert _vault_items(net) == before
    assert requests.get_request(net.vnm, request_id).request.state is RequestState.SENT


def test_a_send_off_the_network_that_is_refused_makes_and_keeps_nothing(net: Net) -> None:
    request_id = new_request(net, "FRA")  # France is not a Party in these deposits: no legal basis
    before = _vault_items(net)
    with pytest.raises(NoLegalBasis):
        documents.send(net.vnm, request_id, Means.EMAIL, "entraide@justice.gouv.fr", OFFICER, counterpart="fr")
    assert _vault_items(net) == before
    assert requests.get_request(net.vnm, request_id).request.state is RequestState.DRAFT


def test_the_layout_fetches_no_resource(tmp_path: Path) -> None:
    """Whatever reached the layout, the node reads no file and calls no URL while making a document (SSRF): an
    image on the disk that WeasyPrint's own fetcher would embed is not read."""
    image = tmp_path / "on-disk.png"
    Image.new("RGB", (4, 4), (200, 0, 0)).save(image)
    html = f'<html><body><p>x</p><img src="file://{image}"><img src="http://127.0.0.1:9/x.png"></body></html>'
    data = pdf.render(html, attachment=b"a.b.c", description="test")
    assert data.startswith(b"%PDF-")
    assert b"/Image" not in data
