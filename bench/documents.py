#!/usr/bin/env python3
"""Formal documents and pages in every language: how long a signed bilingual PDF and a localised page take.

What is measured, on a real ``hanoinet serve`` process (HTTP on loopback, one call at a time, like one operator):

- the signed PDF of an MLA request (``GET /api/v1/requests/{id}/document``) in four language pairs — English alone
  (the baseline), English and French, English and Arabic (right to left), Vietnamese and Chinese (CJK fonts) —
  p50/p95 and the ratio of each pair's p50 to the English-only document's, measured in the same run;
- checking a received document (``POST /api/v1/documents/verify``: signature, signer, embedded data);
- the request's page in each of the seven languages, p50/p95 and the ratio to the English page's p50 — what a
  translated catalogue and pack cost a page — beside the JSON API call that reads the same request.

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
from common import complete_items, environment, percentiles, reproduce, serving, sign_in, temporary_directory, timed

from hanoinet.rules.loader import load_builtin_packs

PASSWORD = "a long passphrase for the bench desk"  # noqa: S105 - a throwaway account on a throwaway node
HANOINET = str(Path(sys.executable).parent / "hanoinet")
PAIRS = (("en", "en"), ("en", "fr"), ("en", "ar"), ("vi", "zh"))
LANGUAGES = ("en", "fr", "es", "ru", "zh", "ar", "vi")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--documents", type=int, default=10, help="timed documents per language pair (default 10)")
    parser.add_argument("--pages", type=int, default=100, help="timed pages per language (default 100)")
    args = parser.parse_args()
    print(reproduce("documents.py", ["--documents", str(args.documents), "--pages", str(args.pages)]))
    print(environment())
    with temporary_directory("hanoinet-bench-documents-") as tmp:
        data_dir = tmp / "node"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HANOINET_")}
        env.update(HANOINET_DATA_DIR=str(data_dir), HANOINET_NODE_STATE="VNM", NO_COLOR="1")
        env.update(HANOINET_NODE_NAME="Ministry of Public Security of Viet Nam (benchmark)")

        def hanoinet(*command: str, stdin: str | None = None) -> str:
            done = subprocess.run(
                [HANOINET, *command], env=env, input=stdin, capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                raise SystemExit(f"hanoinet {' '.join(command)}: {done.stderr}")
            return done.stdout.strip()

        hanoinet("init")
        roles = ["--role", "central_authority"]
        hanoinet("user", "add", "operator", *roles, "--password-stdin", stdin=PASSWORD + "\n")
        token = hanoinet("token", "add", "bench", *roles)
        with serving(env, tmp / "serve.log") as base:
            run(base, token, args.documents, args.pages)


def run(base: str, token: str, documents: int, pages: int) -> None:
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120)
    case = api.post(
        "/api/v1/cases",
        json={"reference": "BENCH-1", "offence": "illegal_access", "max_penalty_years": 7, "summary": "x" * 400},
    ).json()
    items = complete_items(load_builtin_packs(), "uncc-2024", "mla")
    request = api.post(
        "/api/v1/requests",
        json={"case": case["id"], "type": "mla", "requested_state": "FRA", "items": items, "language": "en"},
    ).json()
    path = f"/api/v1/requests/{request['id']}/document"
    print(f"{'document (signed PDF/A-3)':30} {'p50 ms':>8} {'p95 ms':>8} {'KiB':>6}   {'p50 / English alone':>20}")
    baseline = 0.0
    pdf = b""

    def document_in(first: str, second: str) -> Callable[[], httpx.Response]:
        return lambda: api.get(path, params={"language": first, "to_language": second})

    for first, second in PAIRS:
        samples = timed(document_in(first, second), documents, warm=1)
        p50, p95, _ = percentiles(samples)
        pdf = api.get(path, params={"language": first, "to_language": second}).content
        baseline = baseline or p50
        label = first if first == second else f"{first} + {second}"
        print(f"{label:30} {p50:8.0f} {p95:8.0f} {len(pdf) / 1024:6.0f}   {p50 / baseline:19.2f}x")
    checked = timed(
        lambda: api.post("/api/v1/documents/verify", content=pdf, headers={"content-type": "application/octet-stream"}),
        documents,
    )
    p50, p95, _ = percentiles(checked)
    print(f"{'verify (the last document)':30} {p50:8.0f} {p95:8.0f}")

    web = httpx.Client(base_url=base, timeout=30)
    sign_in(web, "operator", PASSWORD)
    json_ms = timed(lambda: api.get(f"/api/v1/requests/{request['id']}"), pages)
    j50, j95, _ = percentiles(json_ms)
    print(f"\n{'request page, language':30} {'p50 ms':>8} {'p95 ms':>8}   {'p50 / English page':>20}")
    english = 0.0
    page_path = f"/requests/{request['id']}"

    def page_in(language: str) -> Callable[[], httpx.Response]:
        return lambda: web.get(page_path, headers={"Accept-Language": language})

    for language in LANGUAGES:
        samples = timed(page_in(language), pages)
        p50, p95, _ = percentiles(samples)
        english = english or p50
        print(f"{language:30} {p50:8.1f} {p95:8.1f}   {p50 / english:19.2f}x")
    print(f"{'(the JSON API, same request)':30} {j50:8.1f} {j95:8.1f}")


if __name__ == "__main__":
    main()
