"""Rule packs: the instruments (Hanoi Convention, Budapest Convention) as data, and their loader."""
