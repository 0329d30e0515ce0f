"""Treaty status: deposits, who is a Party on which date, entry into force, the legal basis between two States."""
