"""waitress's connection handling, with the checks of ``pipl.web.admission`` made as soon
as a request's headers are in: a refused request is answered at once, and the rest of
its body is not read (the connection closes after the answer). A chunked body, whose
size is not announced, is cut off at its route's bound while it arrives."""

from __future__ import annotations

import json
from http import HTTPStatus

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.utilities import Error

from pipl.api.limits import too_large
from pipl.web.admission import Refusal, admit


class RefusedError(Error):
    """waitress's error answer, as the API's JSON (``{"error": {...}}``) or plain text."""

    def __init__(self, refusal: Refusal, as_json: bool) -> None:
        super().__init__(refusal.message)
        self.code = refusal.status
        self.reason = HTTPStatus(refusal.status).phrase
        self.refusal = refusal
        self.as_json = as_json

    def to_response(self, ident: str | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
        status = f"{self.code} {self.reason}"
        headers = [("Cache-Control", "no-store")]
        if self.as_json:
            error = {"kind": self.refusal.kind, "message": self.refusal.message}
            headers.append(("Content-Type", "application/json"))
            return status, headers, json.dumps({"error": error}).encode()
        headers.append(("Content-Type", "text/plain; charset=utf-8"))
        return status, headers, f"{self.reason}: {self.refusal.message}\n".encode()


class CheckedRequestParser(HTTPRequestParser):
    """waitress's request parser, refusing a request from its headers when they fail
    ``admit`` and a chunked body when it grows past its route's bound."""

    limit: int | None = None  # the route's body bound, once the headers are checked

    def received(self, data: bytes) -> int:
        had_headers = self.headers_finished
        consumed: int = super().received(data)
        if self.error is not None or self.empty or not self.headers_finished:
            return consumed
        if not had_headers:
            admission = admit(self.command, self.path, self.headers)
            if admission.refusal is not None:
                return self._refuse(admission.refusal, len(data))
            self.limit = admission.limit
        if self.chunked and self.limit is not None and self.body_bytes_received > self.limit:
            error = too_large(self.limit)
            return self._refuse(Refusal.of(error), len(data))
        return consumed

    def _refuse(self, refusal: Refusal, received: int) -> int:
        self.error = RefusedError(refusal, as_json=self.path.startswith("/api/"))
        self.completed = True
        self.expect_continue = False  # no "100 Continue": the body is not wanted
        return received  # what else came with these bytes is dropped


class CheckedChannel(HTTPChannel):
    parser_class = CheckedRequestParser
