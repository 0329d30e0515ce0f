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
from hanoinet.requests import service as request_services

document_app = typer.Typer(
    help="Formal request documents: signed bilingual PDFs for counterparts off the network.", no_args_is_help=True
)


def _actor() -> Actor:
    who = principal()
    return Actor(who.name, who.roles, Channel.CLI, "local")


@document_app.command("pdf")
def document_pdf(
    request_id: Annotated[str, typer.Argument(help="The request's id, or its start as `request list` shows it.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Where to write the PDF.")] = None,
    language: Annotated[
        str | None, typer.Option(help="The requesting language (default: the request's, else the node's first).")
    ] = None,
    to_language: Annotated[
        str | None,
        typer.Option("--to-language", help="The requested State's language (default: the first it accepts)."),
    ] = None,
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
