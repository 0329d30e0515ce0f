"""The operator web UI in a real headless browser (Debian's Chromium, driven by Playwright)."""
