"""The TAF6 request wire form: what an EMP hands a gateway, read without trusting it; the signed request id."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smgwd.wan.cms_errors import MalformedError
from smgwd.wan.message_identity import MessageIdentity
from smgwd.wan.taf6_requests import (MAX_REQUESTS, OnDemandRequest, decline_path, parse_decline, parse_requests,
                                     requests_path)

ASKED = "2026-12-08T09:15:00+00:00"


def body(*entries: object) -> bytes:
    return json.dumps({"requests": list(entries)}).encode()


def test_valid_requests_are_read_in_id_order_with_their_meters_and_time() -> None:
    found, problems = parse_requests(body({"id": 9, "meters": [], "asked": ASKED},
                                          {"id": 4, "meters": ["m1", "m2", "m1"], "asked": "2026-12-08T10:15:00+01:00"}))
    assert problems == []
    assert found == [OnDemandRequest(4, ("m1", "m2"), datetime(2026, 12, 8, 9, 15, tzinfo=timezone.utc)),
                     OnDemandRequest(9, (), datetime(2026, 12, 8, 9, 15, tzinfo=timezone.utc))]
    assert [OnDemandRequest(r["id"], tuple(r["meters"]), datetime.fromisoformat(r["asked"]))
            for r in (request.record() for request in found)] == found


@pytest.mark.parametrize("entry, problem", [
    ({"id": 0, "meters": [], "asked": ASKED}, "id must be an integer"),
    ({"id": 2**63, "meters": [], "asked": ASKED}, "id must be an integer"),
    ({"id": True, "meters": [], "asked": ASKED}, "id must be an integer"),
    ({"id": 1.0, "meters": [], "asked": ASKED}, "id must be an integer"),
    ({"id": 1, "meters": "m1", "asked": ASKED}, "meters must be a list"),
    ({"id": 1, "meters": ["m" * 65], "asked": ASKED}, "is not a meter id"),
    ({"id": 1, "meters": ["../etc"], "asked": ASKED}, "is not a meter id"),
    ({"id": 1, "meters": [7], "asked": ASKED}, "is not a meter id"),
    ({"id": 1, "meters": ["m"] * 257, "asked": ASKED}, "at most 256"),
    ({"id": 1, "meters": [], "asked": "2026-12-08T09:15:00"}, "UTC offset"),
    ({"id": 1, "meters": [], "asked": "yesterday"}, "UTC offset"),
    ({"id": 1, "meters": [], "asked": 1733650000}, "UTC offset"),
    ({"id": 1, "meters": []}, "exactly id, meters and asked"),
    ({"id": 1, "meters": [], "asked": ASKED, "sql": "drop"}, "exactly id, meters and asked"),
    ([1, [], ASKED], "exactly id, meters and asked"),
])
def test_a_bad_entry_is_named_and_the_good_ones_around_it_stay(entry: object, problem: str) -> None:
    found, problems = parse_requests(body({"id": 3, "meters": ["m1"], "asked": ASKED}, entry,
                                          {"id": 5, "meters": [], "asked": ASKED}))
    assert [request.id for request in found] == [3, 5]
    assert len(problems) == 1 and str(problems[0]).startswith("requests[1]: ") and problem in problems[0].reason, problems


@pytest.mark.parametrize("answer", [b"", b"\xff\xfe", b"[]", b'{"requests": {}}', b"null", b"[" * 100_000,
                                    b'{"request": []}'])
def test_an_answer_that_is_not_a_list_of_requests_is_one_problem(answer: bytes) -> None:
    found, problems = parse_requests(answer)
    assert found == [] and len(problems) == 1


def test_a_long_answer_gives_the_lowest_ids_first_whatever_its_order() -> None:
    entries = [{"id": n, "meters": [], "asked": ASKED} for n in range(100, 0, -1)]
    found, problems = parse_requests(body(*entries))
    assert [request.id for request in found] == list(range(1, MAX_REQUESTS + 1))
    assert [str(p) for p in problems] == [f"100 requests, more than {MAX_REQUESTS}: the later ones are taken next time"]


def test_a_request_id_twice_is_taken_once() -> None:
    found, _ = parse_requests(body({"id": 2, "meters": ["a"], "asked": ASKED}, {"id": 2, "meters": ["b"], "asked": ASKED}))
    assert [(r.id, r.meters) for r in found] == [(2, ("a",))]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(answer: bytes) -> None:
    found, problems = parse_requests(answer)
    assert all(isinstance(r, OnDemandRequest) for r in found) and all(isinstance(str(p), str) for p in problems)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                     max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.lists(_JSON | st.fixed_dictionaries({"id": _JSON, "meters": _JSON, "asked": _JSON}), max_size=6))
def test_arbitrary_json_entries_never_raise_and_only_valid_ones_pass(entries: list[object]) -> None:
    found, problems = parse_requests(json.dumps({"requests": entries}).encode())
    assert len(found) + len(problems) >= min(1, len(entries))
    for request in found:
        assert 1 <= request.id < 2**63 and request.asked.tzinfo is not None


def test_paths_sit_beside_the_meterdata_path() -> None:
    assert requests_path("/v1/meterdata") == "/v1/requests"
    assert requests_path("/emp/v1/meterdata?x=1") == "/emp/v1/requests"
    assert requests_path("/") == "/requests"
    assert decline_path("/v1/meterdata", 42) == "/v1/requests/42/decline"


def test_a_decline_body_is_one_bounded_reason() -> None:
    assert parse_decline(b'{"reason": " not given meter m3 "}') == "not given meter m3"
    for bad in (b"", b"[]", b'{"reason": ""}', b'{"reason": 5}', b'{"reason": "x", "more": 1}',
                json.dumps({"reason": "x" * 501}).encode()):
        with pytest.raises(ValueError):
            parse_decline(bad)


NOW = datetime(2026, 12, 8, 9, 0, tzinfo=timezone.utc)


def test_the_signed_identity_carries_the_request_it_answers() -> None:
    identity = MessageIdentity("gw", "emp", "gw-emp-1", 7, NOW, "taf6", 42)
    assert b'"request":42' in identity.to_der()
    assert MessageIdentity.from_der(identity.to_der()) == identity
    assert MessageIdentity.from_der(MessageIdentity("gw", "emp", "m", 1, NOW, "taf6").to_der()).request is None


@pytest.mark.parametrize("replace, replacement", [
    (b'"request":42', b'"request":0'), (b'"request":42', b'"request":true'), (b'"request":42', b'"request":"42"'),
    (b'"taf":"taf6"', b'"taf":"taf7"'), (b'"request":42', b'"request":9223372036854775808'),
])
def test_a_request_out_of_range_or_outside_taf6_is_malformed(replace: bytes, replacement: bytes) -> None:
    from asn1crypto import core  # type: ignore[import-untyped, unused-ignore]

    text = core.UTF8String.load(MessageIdentity("gw", "emp", "m", 1, NOW, "taf6", 42).to_der()).native.encode()
    assert replace in text
    with pytest.raises(MalformedError, match="request must be"):
        MessageIdentity.from_der(core.UTF8String(text.replace(replace, replacement).decode()).dump())
