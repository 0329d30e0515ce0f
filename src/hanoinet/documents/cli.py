"""Formal documents at the command line: produce a request's signed PDF, check a received one, manage the
certificate documents are signed with."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from hanoinet.documents import certificates
from hanoinet.documents import present as documents_present
from hanoinet.documents import service as document_services
from hanoinet.platform.cli import JsonOption, emit, errors, fail, node, out, principal
from hanoinet.platform.events import Actor, Channel
from hanoinet.requests import present as requests_present
from hanoinet.requests import service as request_services
from hanoinet.requests.domain import Action, Means

document_app = typer.Typer(
    help="Formal request documents: signed bilingual PDFs for counterparts off the network.", no_args_is_help=True
)


def _actor() -> Actor:
    who = principal()
    return Actor(who.name, who.roles, Channel.CLI, "local")


RequestIdArgument = Annotated[str, typer.Argument(help="The request's id, or its start as `request list` shows it.")]
LanguageOption = Annotated[
    str | None, typer.Option(help="The requesting language (default: the request's, else the node's first).")
]
ToLanguageOption = Annotated[
    str | None, typer.Option("--to-language", help="The requested State's language (default: the first it accepts).")
]


@document_app.command("pdf")
def document_pdf(
    request_id: RequestIdArgument,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Where to write the PDF.")] = None,
    language: LanguageOption = None,
    to_language: ToLanguageOption = None,
) -> None:
    """Produce the signed bilingual PDF of an outgoing request (PDF/A-3, PAdES, its data attached)."""
    n = node()
    with errors():
        request_id = request_services.resolve_request_id(n, request_id)
        document = document_services.produce(n, request_id, _actor(), language=language, counterpart=to_language)
    target = output or Path(document.filename)
    target.write_bytes(document.pdf)
    out.print(
        f"{target}: {len(document.pdf):,} bytes, {' / '.join(document.languages)}, SHA-256 {document.sha256}",
        highlight=False,
    )


@document_app.command("verify")
def document_verify(
    file: Annotated[Path, typer.Argument(help="A formal request document (PDF).", exists=True, dir_okay=False)],
    as_json: JsonOption = False,
) -> None:
    """Check a document's signature, its signer against this node's directory, and the request data it carries.
    Exits 6 if anything does not hold."""
    n = node()
    with errors():
        found = document_services.verify(n, file.read_bytes())
    if as_json:
        emit(documents_present.verification(found), True)
    else:
        for line in documents_present.verification_lines(found):
            out.print(line, highlight=False)
    if not found.ok:
        raise typer.Exit(6)


@document_app.command("certificate")
def certificate_show(as_json: JsonOption = False) -> None:
    """Show the certificate documents are signed with (issued now if the node has none yet)."""
    n = node()
    with errors():
        credentials = document_services.credentials(n)
    data = documents_present.credentials(credentials)
    if as_json:
        emit(data, True)
        return
    for key, value in data.items():
        out.print(f"{key}: {value}", highlight=False)


@document_app.command("certificate-import")
def certificate_import(
    file: Annotated[Path, typer.Argument(help="A PKCS#12 file (.p12, .pfx) with key and certificate.", exists=True)],
    password_env: Annotated[
        str | None,
        typer.Option(help="The environment variable holding the file's password (never on the command line)."),
    ] = None,
) -> None:
    """Sign documents from now on with the authority's own certificate and key (from its PKI)."""
    n = node()
    password = os.environ.get(password_env) if password_env else None
    if password_env and password is None:
        fail(f"--password-env {password_env}: that variable is not set")
    if n.documents.key_dir is None:
        fail("this node has no key directory")
    with errors():
        credentials = certificates.import_pkcs12(n.documents.key_dir, file.read_bytes(), password)
    out.print(
        f"documents are now signed by {credentials.leaf.subject.rfc4514_string()} "
        f"(SHA-256 {certificates.fingerprint(credentials.leaf)})",
        highlight=False,
    )


MeansOption = Annotated[
    Means,
    typer.Option(
        "--by", help="How: email, diplomatic, interpol, courier or telephone (the network is `request send`)."
    ),
]


@document_app.command("send")
def document_send(
    request_id: RequestIdArgument,
    means: MeansOption,
    to: Annotated[str, typer.Option("--to", help="To whom: an address, an embassy, a bureau, a telephone number.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Where to write the PDF to send.")] = None,
    language: LanguageOption = None,
    to_language: ToLanguageOption = None,
) -> None:
    """Send an outgoing draft off the network: its signed document is made (but for a telephone call) and kept
    in the vault, and the request is recorded as sent — its clocks run from now. Nothing will say it arrived."""
    n = node()
    with errors():
        request_id = request_services.resolve_request_id(n, request_id)
        document, view = document_services.send(
            n, request_id, means, to, _actor(), language=language, counterpart=to_language
        )
    if document is not None:
        target = output or Path(document.filename)
        target.write_bytes(document.pdf)
        out.print(f"{target}: the document to send ({document.sha256})", highlight=False)
    out.print(f"request {request_id} recorded as sent by {means.value} to {to} (not delivered: no receipt comes back)")
    for clock in view.clocks:
        out.print(f"  clock {clock.name}: due {clock.due_at.isoformat() if clock.due_at else '-'}", highlight=False)


@document_app.command("answer")
def document_answer(
    request_id: RequestIdArgument,
    action: Annotated[Action, typer.Argument(help="What the other State did: acknowledge, execute, refuse...")],
    file: Annotated[Path, typer.Argument(help="The document received (kept in the vault).", exists=True)],
    means: MeansOption,
    sender: Annotated[str, typer.Option("--from", help="Who sent it.")],
    ground: Annotated[list[str] | None, typer.Option("--ground", help="A ground of refusal; repeatable.")] = None,
    note: Annotated[str, typer.Option(help="What it says, in a sentence (required for some actions).")] = "",
) -> None:
    """Record the other State's answer received off the network, with the document received."""
    n = node()
    with errors():
        request_id = request_services.resolve_request_id(n, request_id)
        view = document_services.record_received(
            n,
            request_id,
            action,
            file.read_bytes(),
            means=means,
            sender=sender,
            actor=_actor(),
            file_name=file.name,
            grounds=tuple(ground or ()),
            note=note,
        )
    out.print(f"request {request_id} is now {view.request.state.value}; {file.name} kept in the vault")


@document_app.command("register")
def document_register(
    file: Annotated[Path, typer.Argument(help="A hanoinet formal request document received (PDF).", exists=True)],
    means: MeansOption,
    sender: Annotated[str, typer.Option("--from", help="Who sent it (an address, an embassy).")] = "",
    as_json: JsonOption = False,
) -> None:
    """Register a request received off the network from its signed PDF: verified, every item read from it."""
    n = node()
    with errors():
        view = document_services.register(
            n, file.read_bytes(), means=means, sender=sender, actor=_actor(), file_name=file.name
        )
    if as_json:
        emit(requests_present.request_view(view, n.clock.now()), True)
        return
    r = view.request
    out.print(f"request {r.id} registered: {r.type} from {r.requesting_state}, {len(r.items)} items, by {means.value}")
    for issue in view.issues:
        out.print(f"  [yellow]missing:[/] {issue}", highlight=False)
