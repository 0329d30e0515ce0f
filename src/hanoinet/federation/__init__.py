"""Federation: node identity, the directory, signed and encrypted messages, evidence transfers, Art 36 consents."""
