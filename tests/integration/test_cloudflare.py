"""Cloudflare: our client against the v4 API sim over HTTP, plus raw checks of the reply shapes."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from homelab_tui.clients.cloudflare import (
    CODE_CNAME_TAKEN,
    CODE_HOST_TAKEN,
    CODE_RECORD_EXISTS,
    CODE_RECORD_NOT_FOUND,
    CloudflareClient,
    CloudflareError,
    CloudflareUnreachable,
)
from homelab_tui.models import CloudflareRecord
from homelab_tui.sim.cloudflare import CloudflareSim

TOKEN = "s3cr3t-token-Zq7Xw9Vb2Lm4Np6Rt8"
DOMAIN = "example.org"
DDNS_NAME = "529c0491d41c.sn.mynetname.net"
ENVELOPE_KEYS = {"success", "errors", "messages", "result"}


@pytest.fixture
async def sim():
    async with CloudflareSim(TOKEN, zones=[DOMAIN, "other.test"]) as server:
        yield server


@pytest.fixture
async def client(sim: CloudflareSim):
    async with CloudflareClient(TOKEN, base_url=sim.url) as cf:
        yield cf


@pytest.fixture
async def zone_id(sim: CloudflareSim) -> str:
    zone_id = sim.zone_id(DOMAIN)
    assert zone_id is not None
    return zone_id


async def test_verify_token_good_and_bad(sim: CloudflareSim, client: CloudflareClient) -> None:
    result = await client.verify_token()
    assert result["status"] == "active" and len(result["id"]) == 32
    async with CloudflareClient("wrong-token", base_url=sim.url) as bad:
        with pytest.raises(CloudflareError) as caught:
            await bad.verify_token()
        assert caught.value.status == 401 and caught.value.codes == {1000}
        assert caught.value.is_auth_error
        with pytest.raises(CloudflareError) as caught:
            await bad.zone_by_name(DOMAIN)
        assert (caught.value.status, caught.value.errors) == (403, [(9109, "Invalid access token")])


async def test_zone_by_name(client: CloudflareClient, zone_id: str) -> None:
    zone = await client.zone_by_name(DOMAIN)
    assert zone is not None
    assert (zone["id"], zone["name"], zone["status"]) == (zone_id, DOMAIN, "active")
    assert await client.zone_by_name("not-mine.example") is None


async def test_record_crud(sim: CloudflareSim, client: CloudflareClient, zone_id: str) -> None:
    comment = "homelab-tui [domain example.org]"
    created = await client.create_record(
        zone_id, "CNAME", DOMAIN, DDNS_NAME, proxied=True, comment=comment
    )
    assert created == CloudflareRecord(
        id=created.id, zone_id=zone_id, type="CNAME", name=DOMAIN, content=DDNS_NAME,
        proxied=True, ttl=1, comment=comment,
    )  # fmt: skip
    assert await client.list_records(zone_id, name=DOMAIN, type="CNAME") == [created]
    assert [r["id"] for r in sim.records(DOMAIN)] == [created.id]  # the lab sees it too

    updated = await client.update_record(zone_id, created.id, content="new.sn.mynetname.net")
    assert (updated.content, updated.proxied) == ("new.sn.mynetname.net", True)
    assert updated.comment == comment  # PATCH keeps what it was not given
    assert await client.list_records(zone_id, name=DOMAIN) == [updated]

    assert await client.delete_record(zone_id, created.id) == created.id
    assert await client.list_records(zone_id) == []
    with pytest.raises(CloudflareError) as caught:
        await client.delete_record(zone_id, created.id)
    assert (caught.value.status, caught.value.codes) == (404, {CODE_RECORD_NOT_FOUND})


async def test_relative_names_expand_and_filters_apply(
    client: CloudflareClient, zone_id: str
) -> None:
    www = await client.create_record(zone_id, "A", "www", "198.51.100.19", ttl=300)
    apex = await client.create_record(zone_id, "TXT", "@", "v=spf1 -all")
    assert (www.name, www.ttl, apex.name) == (f"www.{DOMAIN}", 300, DOMAIN)
    assert await client.list_records(zone_id, type="TXT") == [apex]
    assert await client.list_records(zone_id, name=f"www.{DOMAIN}") == [www]


async def test_conflicting_records_surface_cloudflare_codes(
    client: CloudflareClient, zone_id: str
) -> None:
    await client.create_record(zone_id, "CNAME", DOMAIN, DDNS_NAME, proxied=True)
    with pytest.raises(CloudflareError) as caught:
        await client.create_record(zone_id, "CNAME", DOMAIN, "elsewhere.example.net")
    assert caught.value.status == 400
    assert caught.value.errors == [
        (CODE_HOST_TAKEN, "An A, AAAA, or CNAME record with that host already exists.")
    ]
    with pytest.raises(CloudflareError) as caught:
        await client.create_record(zone_id, "A", DOMAIN, "198.51.100.19")
    assert caught.value.codes == {CODE_CNAME_TAKEN}

    await client.create_record(zone_id, "A", "node", "192.168.40.103")
    with pytest.raises(CloudflareError) as caught:
        await client.create_record(zone_id, "A", "node", "192.168.40.103")
    assert caught.value.codes == {CODE_RECORD_EXISTS}


async def test_validation_errors(client: CloudflareClient, zone_id: str) -> None:
    cases = [
        (("A", "bad", "not-an-ip"), {}, 9005),
        (("AAAA", "bad", "192.168.40.1"), {}, 9006),
        (("CNAME", "bad", "not a host"), {}, 9007),
        (("A", "bad", "192.168.40.1"), {"ttl": 30}, 9021),
        (("TXT", "bad", "hello"), {"proxied": True}, 9004),
    ]
    for args, options, code in cases:
        with pytest.raises(CloudflareError) as caught:
            await client.create_record(zone_id, *args, **options)
        assert (caught.value.status, caught.value.codes) == (400, {code}), args
    assert await client.list_records(zone_id) == []


async def test_pagination_reads_every_page(sim: CloudflareSim, zone_id: str) -> None:
    for i in range(12):
        sim.seed_record(DOMAIN, "A", f"host{i}", f"192.168.40.{10 + i}")
    sim.seed_record("other.test", "A", "host0", "10.0.0.1")  # another zone: not listed
    async with CloudflareClient(TOKEN, base_url=sim.url, per_page=5) as cf:
        served_before = sim.requests_served
        records = await cf.list_records(zone_id)
        assert sim.requests_served - served_before == 3  # pages of 5, 5 and 2
    assert [r.name for r in records] == [f"host{i}.{DOMAIN}" for i in range(12)]
    assert {r.zone_id for r in records} == {zone_id}


async def test_unknown_zone_id_is_an_error(client: CloudflareClient) -> None:
    with pytest.raises(CloudflareError) as caught:
        await client.list_records("0" * 32)
    assert caught.value.status == 400 and caught.value.codes == {7003, 7000}


async def test_unreachable_api(sim: CloudflareSim) -> None:
    url = sim.url
    await sim.stop()
    async with CloudflareClient(TOKEN, base_url=url, timeout=2) as cf:
        with pytest.raises(CloudflareUnreachable) as caught:
            await cf.verify_token()
    assert TOKEN not in str(caught.value)


async def test_token_never_leaks(
    sim: CloudflareSim, client: CloudflareClient, zone_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await client.create_record(zone_id, "CNAME", DOMAIN, DDNS_NAME)
    with pytest.raises(CloudflareError) as duplicate:
        await client.create_record(zone_id, "CNAME", DOMAIN, DDNS_NAME)
    async with CloudflareClient(TOKEN + "x", base_url=sim.url) as wrong:
        with pytest.raises(CloudflareError) as denied:
            await wrong.verify_token()
        assert TOKEN not in repr(wrong)
    for text in (str(duplicate.value), repr(duplicate.value), str(denied.value), repr(client),
                 repr(sim), caplog.text):  # fmt: skip
        assert TOKEN not in text
    assert "Cloudflare POST" in caplog.text  # the log did capture the requests


# --- raw HTTP: the reply shapes themselves ------------------------------------------------------


async def raw(method: str, url: str, headers: dict[str, str] | None = None, **kwargs):
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, headers=headers or {}, **kwargs) as response:
            return response.status, await response.json()


BEARER = {"Authorization": f"Bearer {TOKEN}"}


async def test_raw_success_envelopes(sim: CloudflareSim, zone_id: str) -> None:
    status, body = await raw("GET", f"{sim.url}/user/tokens/verify", BEARER)
    assert status == 200 and set(body) == ENVELOPE_KEYS and body["success"] is True
    assert body["messages"][0]["message"] == "This API Token is valid and active"

    status, body = await raw("GET", f"{sim.url}/zones?name={DOMAIN}", BEARER)
    assert status == 200 and set(body) == ENVELOPE_KEYS | {"result_info"}
    assert body["result_info"] == {
        "page": 1, "per_page": 20, "count": 1, "total_count": 1, "total_pages": 1,
    }  # fmt: skip

    payload = {"type": "CNAME", "name": "@", "content": DDNS_NAME, "proxied": True, "ttl": 1}
    status, body = await raw("POST", f"{sim.url}/zones/{zone_id}/dns_records", BEARER, json=payload)
    record = body["result"]
    assert status == 200 and body["errors"] == []
    expected_keys = {"id", "zone_id", "zone_name", "name", "type", "content", "proxied",
                     "proxiable", "ttl", "comment", "created_on", "modified_on"}  # fmt: skip
    assert expected_keys <= set(record)
    assert (record["zone_name"], record["proxiable"], record["comment"]) == (DOMAIN, True, None)
    assert record["created_on"].endswith("Z")

    status, body = await raw(
        "PUT", f"{sim.url}/zones/{zone_id}/dns_records/{record['id']}", BEARER,
        json={"type": "A", "name": DOMAIN, "content": "198.51.100.19"},
    )  # fmt: skip
    assert status == 200
    assert (body["result"]["type"], body["result"]["proxied"]) == ("A", False)  # PUT replaces


async def test_raw_auth_error_shapes(sim: CloudflareSim) -> None:
    zones = f"{sim.url}/zones"
    status, body = await raw("GET", zones)
    assert (status, body["success"], body["result"]) == (400, False, None)
    assert body["errors"][0]["code"] == 9106
    status, body = await raw("GET", zones, {"Authorization": "Token abc"})
    assert status == 400
    assert body["errors"] == [
        {
            "code": 6003,
            "message": "Invalid request headers",
            "error_chain": [{"code": 6111, "message": "Invalid format for Authorization header"}],
        }
    ]
    status, body = await raw("GET", zones, {"Authorization": "Bearer nope"})
    assert (status, body["errors"]) == (403, [{"code": 9109, "message": "Invalid access token"}])
    assert body["messages"] == []


async def test_raw_route_and_body_errors(sim: CloudflareSim, zone_id: str) -> None:
    status, body = await raw("GET", f"{sim.url}/nowhere", BEARER)
    assert (status, body["errors"]) == (404, [{"code": 7000, "message": "No route for that URI"}])
    status, body = await raw("GET", f"{sim.url}/zones/{DOMAIN}", BEARER)
    assert status == 400 and [e["code"] for e in body["errors"]] == [7003, 7000]
    assert f"/client/v4/zones/{DOMAIN}" in body["errors"][0]["message"]
    status, body = await raw("DELETE", f"{sim.url}/zones", BEARER)
    assert status == 405 and body["errors"][0]["code"] == 7001
    status, body = await raw(
        "POST", f"{sim.url}/zones/{zone_id}/dns_records", BEARER, data=b"{not json"
    )
    assert (status, body["errors"][0]["code"]) == (400, 6007)
    status, body = await raw("GET", f"{sim.url}/zones/{zone_id}/dns_records/{'f' * 32}", BEARER)
    assert (status, body["errors"]) == (404, [{"code": 81044, "message": "Record does not exist."}])
