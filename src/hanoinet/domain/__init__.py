"""The domain: pure Python rules of the Convention, requests, clocks and treaty status. No I/O imports here."""
