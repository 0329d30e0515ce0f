"""The evidence vault: encrypted content-addressed storage, chain of custody, exports for courts."""
