"""The fixed words of a formal request document, marked for the catalogue and shown in two languages.

A formal request goes to an authority that may run no node and may not read the requesting State's language: every
heading and fixed sentence is printed in the requesting language and in the requested one (``WORDS``, translated
through the UI's catalogue, domain ``hanoinet``), while what the officer wrote is printed as written, with its
translation beside it where one was given. ``babel.cfg`` extracts this module, so ``make messages`` keeps the
catalogue in step with it.
"""

from __future__ import annotations

from hanoinet.platform.errors import N_

WORDS: dict[str, str] = {
    "title": N_("Request for international cooperation"),
    "under": N_("under the %(instrument)s"),
    "emergency": N_("EMERGENCY — a significant and imminent risk to the life or safety of a person"),
    "reference": N_("Reference"),
    "date": N_("Date"),
    "from": N_("From (requesting authority)"),
    "to": N_("To (requested State)"),
    "type": N_("Type of request"),
    "case": N_("Case"),
    "offence": N_("Offence"),
    "penalty": N_("Maximum penalty"),
    "penalty_years": N_("%(n)s years of deprivation of liberty"),
    "summary": N_("Summary of the facts"),
    "qualification": N_("Legal qualification"),
    "legal_basis": N_("Legal basis"),
    "basis_holds": N_("On %(date)s, the %(instrument)s binds both %(ours)s and %(theirs)s."),
    "basis_fails": N_("On %(date)s, by this authority's records, the %(instrument)s does not bind both States."),
    "contents": N_("Contents of the request"),
    "contents_intro": N_("In the order the instrument lists them, each with the provision that requires it."),
    "not_given": N_("Not given (asked for only where applicable)."),
    "translation": N_("Translation"),
    "deadline": N_("Time limit requested"),
    "follows_up": N_("Follows up request"),
    "handling": N_("Conditions of use and confidentiality"),
    "handling_text": N_(
        "The information and evidence provided in response to this request may be used only for the purposes "
        "stated in it, unless the requested State consents otherwise; personal data are to be protected as the "
        "instrument provides."
    ),
    "confidential": N_(
        "The requesting authority asks that the fact and substance of this request be kept confidential, except "
        "to the extent necessary to execute it. If this cannot be done, please inform it promptly."
    ),
    "channel": N_("Transmitted by"),
    "signature": N_("Signature"),
    "signed_by": N_("For the requesting authority"),
    "signed_digitally": N_(
        "This document is signed electronically (PAdES). The signature, the signer's certificate and the "
        "request's data embedded in the file (hanoinet-request.jws) can be checked with any PDF signature "
        "validator, and with: hanoinet document verify FILE.pdf"
    ),
    "page": N_("Page"),
}
"""Every fixed text of the document, by its place in the template."""
