"""Fixtures for data exchange: the case city of tests/cases, a local HTTP receiver, department clients."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

# The case fixtures of tests/cases, reused here.
from tests.cases.conftest import applicant, centre, item, people  # noqa: F401


@pytest.fixture(autouse=True)
def _loopback_http_allowed(settings):
    settings.YIWANG_WEBHOOKS_ALLOW_HTTP_LOOPBACK = True


class Receiver:
    """A real HTTP server on 127.0.0.1 that records what it gets and answers the scripted codes."""

    def __init__(self, codes=(200,), location: str = ""):
        self.codes = list(codes)
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                code = receiver.codes.pop(0) if len(receiver.codes) > 1 else receiver.codes[0]
                self.send_response(code)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/yiwang"

    def events(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(codes=(200,), location: str = "") -> Receiver:
        made.append(Receiver(codes, location))
        return made[-1]

    yield make
    for r in made:
        r.close()


def subscribe(user, organization, url: str, events=("accepted",)):
    from yiwang.exchange import services

    return services.create_subscription(user, organization=organization, target_url=url, event_types=list(events))


def department_client(platform_admin, organization, name: str, scopes=("cases:read", "cases:write")):
    from yiwang.exchange import services

    return services.register_department_client(platform_admin, organization=organization, name=name,
                                               scopes=list(scopes))


def token_for(client, secret: str, scope: str = "cases:read cases:write") -> dict:
    """The client-credentials grant at the token endpoint, as a department system calls it."""
    basic = base64.b64encode(f"{client.application.client_id}:{secret}".encode()).decode()
    answer = Client().post("/o/token/", {"grant_type": "client_credentials", "scope": scope},
                           HTTP_AUTHORIZATION=f"Basic {basic}")
    assert answer.status_code == 200, answer.content
    return answer.json()
