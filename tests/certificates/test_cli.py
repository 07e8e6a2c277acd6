"""``yiwang cert verify``: offline, with only the published keys from a file or a URL; non-zero when
the payload is forged, altered, from an unknown key or malformed."""

from __future__ import annotations

import http.server
import json
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from yiwang.certificates.payload import b64url, unb64url
from yiwang.seals import signing

pytestmark = pytest.mark.django_db


@pytest.fixture
def jwks_file(certificate, tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(signing.jwks()), encoding="utf-8")
    return str(path)


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("cert", "verify", *args, stdout=out)
    return out.getvalue()


def test_a_genuine_payload_verifies_with_a_jwks_file(certificate, jwks_file, django_assert_num_queries):
    with django_assert_num_queries(0):
        out = run(certificate.qr_payload, "--jwks", jwks_file)
    assert "valid" in out and certificate.identifier in out and "李**" in out and "二级" in out


def test_json_output(certificate, jwks_file):
    out = json.loads(run(certificate.qr_payload, "--jwks", jwks_file, "--json"))
    assert out["result"] == "valid" and out["claims"]["i"] == certificate.identifier


def test_an_altered_payload_exits_non_zero(certificate, jwks_file):
    prefix, body, sig = certificate.qr_payload.split(".")
    claims = json.loads(unb64url(body))
    claims["f"]["grade"] = "四级"
    altered = f"{prefix}.{b64url(json.dumps(claims, ensure_ascii=False).encode())}.{sig}"
    with pytest.raises(CommandError, match="forged") as exc:
        run(altered, "--jwks", jwks_file)
    assert exc.value.returncode == 1


def test_a_key_missing_from_the_published_set_is_unknown(certificate, tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text('{"keys": []}')
    with pytest.raises(CommandError, match="unknown_key"):
        run(certificate.qr_payload, "--jwks", str(empty))


def test_malformed_input_exits_non_zero(jwks_file):
    with pytest.raises(CommandError, match="malformed"):
        run("not-a-payload", "--jwks", jwks_file)


def test_an_unreadable_key_set_exits_with_2(certificate, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(SystemExit) as exc:
        run(certificate.qr_payload, "--jwks", str(bad))
    assert exc.value.code == 2


def test_the_keys_can_come_from_a_url(certificate):
    body = json.dumps(signing.jwks()).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = run(certificate.qr_payload, "--jwks", f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json")
    finally:
        server.shutdown()
    assert "valid" in out
