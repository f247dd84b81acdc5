"""The runner's web server under hostile traffic: many connections at once, bodies too
large or sent by a caller who may not send them, and malformed input."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
import pytest

HUGE = 200 * 1000 * 1000  # the announced body: 200 MB
MiB = 1 << 20
T = TypeVar("T")


def rss() -> int:
    """This process's resident memory in bytes (the web server runs in it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def peak_growth(action: Callable[[], T]) -> tuple[T, int]:
    """``action``'s result, and how much more memory than at its start this process held
    at most while it ran (sampled every 5 ms)."""
    before = rss()
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.005):
            peak = max(peak, rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = action()
    finally:
        done.set()
        sampler.join()
    return result, max(peak, rss()) - before


def post_huge(web: str, path: str, headers: str = "") -> tuple[int, int]:
    """POST to ``path`` announcing a 200 MB body and send it while the server reads it.
    Returns the answer's HTTP status and how many body bytes were sent before the server
    answered or closed the connection."""
    url = urlsplit(web)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {HUGE}\r\n{headers}\r\n"
    )
    sock.sendall(head.encode())
    chunk = b" " * (64 * 1024)
    sent = 0
    deadline = time.monotonic() + 30
    with sock:
        while sent < HUGE and time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 1)
            if readable:
                break  # the server answers (or closes)
            if writable:
                try:
                    sent += sock.send(chunk[: HUGE - sent])
                except OSError:
                    break
        sock.settimeout(max(1.0, deadline - time.monotonic()))
        answer = b""
        try:
            while b"\r\n" not in answer and (data := sock.recv(4096)):
                answer += data
        except OSError:
            pass
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, sent


def test_200_concurrent_requests_are_all_answered(web: str) -> None:
    # 200 connections opened at the same instant, one per thread, as many browsers or
    # scripts would; a listen backlog too short drops some, answered seconds later or never
    together = threading.Barrier(200)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)

    def get(client: httpx.Client) -> int | str:
        together.wait()
        try:
            return client.get(f"{web}/api/v1/whoami").status_code
        except httpx.HTTPError as exc:
            return type(exc).__name__

    with (
        httpx.Client(limits=limits, timeout=httpx.Timeout(5, pool=30)) as client,
        ThreadPoolExecutor(max_workers=200) as pool,
    ):
        answers = list(pool.map(get, [client] * 200))
    assert answers == [200] * 200


@pytest.mark.parametrize(
    ("path", "refused_with"),
    [
        ("/api/v1/jobs/1/retry", (413,)),  # a JSON call's body is at most 1 MiB
        ("/api/v1/upload", (401,)),  # larger bodies only with credentials
        ("/login", (413,)),  # a dashboard form
    ],
)
def test_an_anonymous_huge_body_is_refused_before_it_is_read(
    web: str, path: str, refused_with: tuple[int, ...]
) -> None:
    httpx.post(f"{web}{path}", content=b"{}")  # warm up: threads and buffers exist
    started = time.monotonic()
    (status, sent), growth = peak_growth(lambda: post_huge(web, path))
    assert status in refused_with
    assert time.monotonic() - started < 10
    assert sent < 32 * MiB  # what the kernels' socket buffers take, not the body
    assert growth < 20 * MiB


def test_a_forged_token_does_not_lift_the_json_bound(web: str) -> None:
    status, sent = post_huge(web, "/api/v1/users", "X-Devpi-Auth: cm9vdDptYWRlLXVw\r\n")
    assert status == 413 and sent < 32 * MiB


def test_a_chunked_body_is_bounded_too(web: str) -> None:
    def chunks():
        for _ in range(64):  # 4 MiB, without a Content-Length
            yield b" " * (64 * 1024)

    answer = httpx.post(
        f"{web}/api/v1/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["kind"] == "BodyTooLarge"


def test_deeply_nested_json_is_a_bad_request(web: str) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    answer = httpx.post(
        f"{web}/api/v1/login", content=nested, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["kind"] == "UsageError"


def test_invalid_json_and_wrong_types_are_bad_requests(web: str) -> None:
    json_type = {"Content-Type": "application/json"}
    bodies = (
        b"{not json",
        b"\xff\xfe{}",
        b"[1, 2]",
        b'{"user": 1, "password": []}',
        b'{"user": "someone", "password": null}',  # checked here, not sent on to devpi
    )
    for body in bodies:
        answer = httpx.post(f"{web}/api/v1/login", content=body, headers=json_type)
        assert answer.status_code == 400, body
        assert answer.json()["error"]["kind"] == "UsageError"


def test_a_job_id_out_of_range_is_not_a_server_failure(web: str) -> None:
    big = "99999999999999999999999"
    answer = httpx.get(f"{web}/api/v1/jobs/{big}")
    assert answer.status_code in (400, 404)
    assert answer.json()["error"]["kind"] in ("UsageError", "NotFound")
    assert httpx.get(f"{web}/api/v1/jobs/{big}/log").status_code in (400, 404)
    for query in (f"jobs?before={big}", f"products?offset={big}", f"jobs/-{big}"):
        answer = httpx.get(f"{web}/api/v1/{query}")
        assert answer.status_code == 400, query
    assert httpx.get(f"{web}/jobs/{big}").status_code in (400, 404)  # the dashboard's page


def test_text_that_is_not_utf8_is_a_bad_request(web: str) -> None:
    for url in ("/api/v1/jobs/%FF", "/%FF", "/api/v1/jobs?state=%FF", "/jobs?state=%FF"):
        assert httpx.get(f"{web}{url}").status_code == 400, url
