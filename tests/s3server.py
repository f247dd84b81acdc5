"""A real S3 API for tests and benchmarks: moto's server, a separate process on loopback.

The store under test reaches it the way it reaches AWS: through botocore's environment
(``AWS_ENDPOINT_URL_S3``, ``AWS_ACCESS_KEY_ID``...), with nothing S3-specific passed in code.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
# what moto accepts (any key pair); test values, never a real account's
TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def s3_environment(endpoint: str, home: Path) -> dict[str, str]:
    """The variables that point botocore at ``endpoint`` and nowhere else: no ``~/.aws``
    of this machine, no instance-metadata look-up."""
    return {
        **TEST_CREDENTIALS,
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
    }


@contextlib.contextmanager
def moto_server(log: Path) -> Iterator[str]:
    """Start ``moto_server`` on a free loopback port; yield its URL; stop it after."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):  # noqa: S310 - loopback
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"moto_server did not start: {log.read_text()[-2000:]}"
                        ) from None
                    time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def make_bucket(name: str) -> None:
    """Create a bucket (with the environment's endpoint and credentials)."""
    import botocore.session

    client = botocore.session.get_session().create_client("s3")
    client.create_bucket(Bucket=name)
