"""The published OpenAPI contract (docs/openapi.yaml) is what the code serves.

After an intended API change, regenerate it with `make schema` and review the diff.
"""

from pathlib import Path

import pytest
from django.core.management import call_command

CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "openapi.yaml"


@pytest.mark.django_db
def test_served_schema_matches_the_published_contract(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(out))
    assert out.read_text() == CONTRACT.read_text(), "API changed: run `make schema` and review docs/openapi.yaml"


def test_schema_and_docs_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    page = client.get("/api/docs/")
    assert page.status_code == 200 and b"swagger" in page.content.lower()
