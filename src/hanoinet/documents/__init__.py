"""Formal request documents: a signed, bilingual, archival PDF of a request, for counterparts off the network."""
