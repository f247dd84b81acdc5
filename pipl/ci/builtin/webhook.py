"""``webhook``: POST each event as JSON to the URLs of ``[ci.webhook] urls``.

The body is signed with HMAC-SHA256 under the project's webhook secret (a 0600 file in
``.pipl/secrets``): header ``X-Pipl-Signature-256: sha256=HEX``. ``X-Pipl-Delivery`` names
the event, the same on every retry, so a receiver can drop a repeat. Server errors and
timeouts are retried with backoff; a 4xx answer fails the job at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx

from pipl.ci.config import load_ci_config, webhook_secret_file
from pipl.ci.handlers import BaseHandler, HandlerFailed, JobContext

ATTEMPTS = 4


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookHandler(BaseHandler):
    rank = 0
    per_file = True
    timeout = 120.0

    def run(self, ctx: JobContext) -> str:
        urls = load_ci_config(ctx.project).webhook_urls
        if not urls:
            return "no [ci.webhook] urls in pipl.toml: nothing sent"
        try:
            secret = webhook_secret_file(ctx.project).read_text().strip().encode()
        except OSError as exc:
            raise HandlerFailed(f"cannot read the webhook secret: {exc.strerror}") from None
        delivery = f"{ctx.index}/{ctx.filename}/{ctx.sha256[:16]}"
        body = json.dumps(
            {
                "event": "upload",
                "delivery": delivery,
                "project": ctx.project.name,
                "index": ctx.index,
                "name": ctx.name,
                "version": ctx.version,
                "filename": ctx.filename,
                "sha256": ctx.sha256,
                "url": f"{ctx.project.url}/{ctx.index}/+simple/{ctx.name}/",
            },
            sort_keys=True,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Pipl-Event": "upload",
            "X-Pipl-Delivery": delivery,
            "X-Pipl-Signature-256": sign(secret, body),
        }
        with httpx.Client(timeout=10.0) as http:
            for url in urls:
                _deliver(ctx, http, url, body, headers)
        return f"delivered {delivery} to {len(urls)} URL(s)"


def _deliver(
    ctx: JobContext, http: httpx.Client, url: str, body: bytes, headers: dict[str, str]
) -> None:
    last = ""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            response = http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if 200 <= response.status_code < 300:
                ctx.log(f"POST {url}: HTTP {response.status_code}")
                return
            last = f"HTTP {response.status_code}"
            if 400 <= response.status_code < 500 and response.status_code != 429:
                raise HandlerFailed(f"webhook {url} refused the event: {last}")
        ctx.log(f"POST {url}: {last} (attempt {attempt} of {ATTEMPTS})")
        if attempt < ATTEMPTS:
            time.sleep(0.5 * 2 ** (attempt - 1))
    raise HandlerFailed(f"webhook {url} failed {ATTEMPTS} times: {last}")
