"""Cases: the investigations requests are made for."""
