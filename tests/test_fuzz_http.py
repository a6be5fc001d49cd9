"""Hypothesis against a live server with what a schema-driven fuzzer does not send: values
beyond float range, NaN and Infinity literals, lone surrogates, deep nesting, unknown fields,
bodies that are not JSON or lie about their Content-Encoding, client and unknown keys. No
answer is a 5xx, every error is JSON ``{statusCode, message}``, and a refused request leaves
the serving replica as it was."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from live_server import LiveServer

REGION = "UK South"
KEYS = [
    "dvc_server_acme_shop_1",
    "dvc_client_acme_shop_1",
    "dvc_server_acme_labs_1",
    "dvc_server_unknown",
    "Bearer dvc_server_acme_shop_1",
    None,
]
ENDPOINTS = [
    ("PATCH", "/v1/edgedb/{user}"),
    ("POST", "/v1/variables"),
    ("POST", "/v1/variables?enableEdgeDB=true"),
    ("POST", "/v1/variables/platinum-status-feature?enableEdgeDB=true"),
    ("POST", "/v1/features?enableEdgeDB=true"),
    ("POST", "/v1/track"),
]
FIELDS = ["user_id", "email", "country", "appVersion", "appBuild", "platform", "customData"]
FIELDS += ["privateCustomData", "createdDate", "sdkType", "junk", "__proto__"]

# JSON texts a Python json.dumps would never write
LITERALS = ["1" + "0" * 400, "-1" + "0" * 400, "1e999", "-1e999", "NaN", "Infinity", "1e300"]
LITERALS += ['"\\ud800"', '"\\udfff x"', '"a\\u0000b"', "[" * 200 + "]" * 200, '"' + "9" * 70 + '"']
LITERALS += ['"1' + "0" * 400 + '"', '"4.' + "9" * 400 + '.1"']
# fields a literal is spliced into (a repeated key: the spliced value is the one kept)
SPLICED = ["user_id", "user_id", "appVersion", "appBuild", "customData", "email", "junk"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["4.2.0", "1." + "0" * 20, "9" * 17, "", "iOS"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def bodies(draw: st.DrawFn, user: str, track: bool) -> bytes:
    """A user-like JSON object (inside ``{"user", "events"}`` for ``track``), mostly with
    literal JSON text spliced in, or raw garbage."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    doc: dict[str, Any] = {"user_id": user} if draw(st.booleans()) else {}
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        doc[name] = draw(values)
    if draw(st.booleans()):
        doc["customData"] = draw(st.dictionaries(st.text(max_size=5), scalars, max_size=4))
    text = json.dumps(doc)
    if draw(st.integers(0, 3)):
        name = draw(st.sampled_from(SPLICED))
        literal = draw(st.sampled_from(LITERALS))
        value = '{"stars": ' + literal + "}" if name == "customData" else literal
        text = text[:-1] + (", " if len(text) > 2 else "") + f'"{name}": {value}' + "}"
    if track:
        text = json.dumps(
            {
                "user": json.loads(text, parse_constant=str) if _is_json(text) else {},
                "events": draw(st.lists(values, max_size=2)),
            }
        )
    return text.encode()


def _is_json(text: str) -> bool:
    try:
        json.loads(text, parse_constant=str)
    except (ValueError, RecursionError):
        return False
    return True


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    server = LiveServer()
    server.start()
    yield server
    server.stop()


@settings(max_examples=600)
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    key=st.sampled_from(KEYS),
    user=st.sampled_from(["ana", "bo", "\u00e9l\u00e8ve"]),
    data=st.data(),
    encoding=st.sampled_from([None, None, None, "gzip", "deflate", "br", "identity"]),
)
def test_no_5xx_and_no_change_by_a_refused_request(
    live: LiveServer,
    endpoint: tuple[str, str],
    key: str | None,
    user: str,
    data: st.DataObject,
    encoding: str | None,
) -> None:
    method, path = endpoint
    body = data.draw(bodies(user, path == "/v1/track"))
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = key
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    before = live.snapshot(REGION)
    host, port = live.urls[REGION].removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    try:
        conn.request(method, path.format(user="ana"), body=body, headers=headers)
        resp = conn.getresponse()
        status, text = resp.status, resp.read()
    finally:
        conn.close()
    assert status < 500, (status, text)
    if status >= 400:
        assert text.startswith(b"{"), (status, text, body, headers)
        reply = json.loads(text)
        assert reply["statusCode"] == status and isinstance(reply["message"], str)
        assert live.snapshot(REGION) == before
