"""Art 57 statistics for the Conference of the States Parties."""
