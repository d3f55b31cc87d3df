"""The Cloudflare v4 API for zones, their SSL setting, DNS records and the published IP ranges,
on 127.0.0.1 (aiohttp).

Every reply has Cloudflare's envelope, `{"success", "errors", "messages", "result"}` plus
`result_info` on lists, and the error codes and messages the real API sends (as seen in public
bug reports; where Cloudflare has no documented code, the nearest real one is used):

- auth: missing header 9106 (1001 on /user/tokens/verify), malformed header 6003/6111,
  wrong token 9109 "Invalid access token" (401 1000 "Invalid API Token" on verify); `GET /ips`
  needs no token, as on the real API;
- routes: bad identifier 7003 + 7000, unknown path 7000, wrong method 7001;
- zone setting `ssl`: GET and PATCH `{"value": "off|flexible|full|strict"}`, 1007 for another value;
- records: 81044 not found; 81053 a CNAME where an A, AAAA or CNAME of that name exists, 81054
  an A or AAAA (or other type) where a CNAME exists (the conflicts Cloudflare's "records with the
  same name" page documents; a CNAME beside a TXT is let through, as that page does not list it);
  81057 an identical record created again, 81058 a record updated into a copy of another;
  9005/9006/9007 bad content, 9021 bad TTL, 9004 type not proxiable, 6007 malformed JSON.
  A proxied record's TTL is always 1 (Auto), whatever was sent.
- list filters: `name`, `type`, `content`, `proxied`, `comment` and `comment.exact|startswith|
  endswith|contains|present|absent` (comment filters case-insensitive), `tag` and
  `tag.exact|present|absent`, all of them ANDed; another `comment.`/`tag.` predicate is refused
  (400, code 1004: our choice, so that a typo never lists every record).

The lab reads and seeds state with plain methods: `add_zone`, `zone_id`, `records`,
`seed_record`, `delete_record_by_id`, `ssl_mode`/`set_ssl_mode`, and `public_records`: what a
public resolver gets for the zone's names (proxied names answer with Cloudflare's edge).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

API_PREFIX = "/client/v4"
RECORD_TYPES = ("A", "AAAA", "CNAME", "TXT")
PROXIABLE_TYPES = ("A", "AAAA", "CNAME")
EDITABLE_FIELDS = ("type", "name", "content", "proxied", "ttl", "comment", "tags")
SSL_MODES = ("off", "flexible", "full", "strict")
# https://api.cloudflare.com/client/v4/ips as Cloudflare publishes it (the same list as
# www.cloudflare.com/ips-v4 and ips-v6; MISP warninglists "cloudflare", version 20241104).
IPV4_CIDRS = (
    "173.245.48.0/20", "103.21.244.0/22", "103.22.200.0/22", "103.31.4.0/22", "141.101.64.0/18",
    "108.162.192.0/18", "190.93.240.0/20", "188.114.96.0/20", "197.234.240.0/22",
    "198.41.128.0/17", "162.158.0.0/15", "104.16.0.0/13", "104.24.0.0/14", "172.64.0.0/13",
    "131.0.72.0/22",
)  # fmt: skip
IPV6_CIDRS = (
    "2400:cb00::/32", "2606:4700::/32", "2803:f800::/32", "2405:b500::/32", "2405:8100::/32",
    "2a06:98c0::/29", "2c0f:f248::/32",
)  # fmt: skip
SAME_NAME_HELP = (
    "For more details, refer to "
    "<https://developers.cloudflare.com/dns/manage-dns-records/troubleshooting/records-with-same-name/>."
)
ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
HOSTNAME_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
DEFAULT_PER_PAGE = {"zones": 20, "dns_records": 100}
MAX_PER_PAGE = {"zones": 50, "dns_records": 5000}

ErrorList = list[tuple[int, str]]


class CloudflareApiError(Exception):
    """Raised inside the sim to send a Cloudflare-shaped error reply (and by `seed_record`)."""

    def __init__(self, status: int, errors: ErrorList) -> None:
        super().__init__("; ".join(f"{code}: {message}" for code, message in errors))
        self.status = status
        self.errors = errors


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hex_id(*parts: str) -> str:
    """A stable 32-hex identifier, the shape Cloudflare uses for zones, records and tokens."""
    return hashlib.md5(":".join(parts).encode()).hexdigest()


def envelope(result: Any = None, errors: Sequence[tuple[int, str]] = (), **extra: Any) -> dict:
    """Cloudflare's reply envelope; `extra` adds e.g. `result_info`."""
    body = {
        "success": not errors,
        "errors": [{"code": code, "message": message} for code, message in errors],
        "messages": [],
        "result": result,
    }
    body.update(extra)
    return body


def _error_response(status: int, errors: ErrorList) -> web.Response:
    return web.json_response(envelope(None, errors), status=status)


class CloudflareSim:
    """Cloudflare's v4 zones and dns_records API, with bearer-token auth, on loopback."""

    def __init__(
        self,
        token: str,
        zones: Iterable[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._token = token
        self.token_id = _hex_id("token")
        self.host = host
        self.port = port
        self.clock = clock
        self.requests_served = 0
        self._zones: dict[str, dict[str, Any]] = {}  # zone id -> zone object
        self._records: dict[str, dict[str, Any]] = {}  # record id -> record object
        self._ssl: dict[str, dict[str, Any]] = {}  # zone id -> its `ssl` setting object
        self._record_counter = 0
        self._runner: web.AppRunner | None = None
        for name in zones:
            self.add_zone(name)

    def __repr__(self) -> str:
        return f"CloudflareSim(url={self.url!r}, zones={[z['name'] for z in self._zones.values()]})"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        zone = f"{API_PREFIX}/zones/{{zone_id}}"
        record = f"{zone}/dns_records/{{record_id}}"
        app.add_routes(
            [
                web.get(f"{API_PREFIX}/user/tokens/verify", self._verify_token),
                web.get(f"{API_PREFIX}/ips", self._ips),
                web.get(f"{API_PREFIX}/zones", self._list_zones),
                web.get(zone, self._get_zone),
                web.get(f"{zone}/settings/ssl", self._get_ssl),
                web.patch(f"{zone}/settings/ssl", self._patch_ssl),
                web.get(f"{zone}/dns_records", self._list_records),
                web.post(f"{zone}/dns_records", self._create_record),
                web.get(record, self._get_record),
                web.put(record, self._put_record),
                web.patch(record, self._patch_record),
                web.delete(record, self._delete_record),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.debug("Cloudflare sim listening on %s", self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> CloudflareSim:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- state, for the lab ---------------------------------------------------------------

    def add_zone(self, name: str, ssl: str = "full") -> str:
        """Add a zone (idempotent) with its SSL mode (Full, the default of new zones); returns
        its id."""
        name = name.rstrip(".").lower()
        zone_id = _hex_id("zone", name)
        if zone_id not in self._zones:
            now = _iso(self.clock())
            self._ssl[zone_id] = {"id": "ssl", "value": ssl, "editable": True, "modified_on": now}
            self._zones[zone_id] = {
                "id": zone_id,
                "name": name,
                "status": "active",
                "paused": False,
                "type": "full",
                "development_mode": 0,
                "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
                "original_name_servers": [],
                "account": {"id": _hex_id("account"), "name": "Homelab"},
                "permissions": ["#dns_records:edit", "#dns_records:read", "#zone:read"],
                "plan": {"id": _hex_id("plan", "free"), "name": "Free Website", "price": 0},
                "created_on": now,
                "modified_on": now,
                "activated_on": now,
            }
        return zone_id

    def zone_id(self, name: str) -> str | None:
        name = name.rstrip(".").lower()
        return next((z["id"] for z in self._zones.values() if z["name"] == name), None)

    def ssl_mode(self, zone: str) -> str:
        """The zone's (name or id) SSL mode: off, flexible, full or strict."""
        return self._ssl[self.zone_id(zone) or zone]["value"]

    def set_ssl_mode(self, zone: str, value: str) -> None:
        """Set the zone's SSL mode, as the dashboard would; raises CloudflareApiError (1007)
        for a value the API refuses."""
        self._set_ssl(self._ssl[self.zone_id(zone) or zone], value)

    def public_records(self, zone: str) -> list[tuple[str, str, str]]:
        """What a public resolver gets for the zone's (name or id) records, as (name, type,
        value): a DNS-only record as it is; a proxied one as the A and AAAA addresses of
        Cloudflare's edge that the zone's proxied names share (inside the published ranges), so
        its origin (a CNAME's target or an A's content) is not visible, as on the real service."""
        answers: list[tuple[str, str, str]] = []
        for record in self.records(zone):
            if record["proxied"]:
                ipv4, ipv6 = edge_addresses(record["zone_name"])
                answers += [(record["name"], "A", address) for address in ipv4]
                answers += [(record["name"], "AAAA", address) for address in ipv6]
            else:
                answers.append((record["name"], record["type"], record["content"]))
        return list(dict.fromkeys(answers))  # two proxied records of one name: one answer

    def records(self, zone: str | None = None) -> list[dict[str, Any]]:
        """Copies of the records, of one zone (by name or id) or of all zones."""
        zone_id = (self.zone_id(zone) or zone) if zone else None
        return [
            dict(r) for r in self._records.values() if zone_id is None or r["zone_id"] == zone_id
        ]

    def seed_record(
        self,
        zone: str,
        type: str,
        name: str,
        content: str,
        proxied: bool = False,
        ttl: int = 1,
        comment: str | None = None,
        tags: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Create a record with the API's validation; raises CloudflareApiError on conflict."""
        zone_id = self.zone_id(zone) or self.add_zone(zone)
        fields = {"type": type, "name": name, "content": content, "proxied": proxied, "ttl": ttl}
        fields.update(comment=comment, tags=list(tags))
        return dict(self._store_record(self._zones[zone_id], fields, existing=None))

    def delete_record_by_id(self, record_id: str) -> bool:
        return self._records.pop(record_id, None) is not None

    # --- HTTP plumbing -----------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests_served += 1
        match_error = request.match_info.http_exception
        if isinstance(match_error, web.HTTPMethodNotAllowed):
            return _error_response(405, [(7001, "Method not allowed for api")])
        if match_error is not None:
            return _error_response(404, [(7000, "No route for that URI")])
        auth_error = self._check_auth(request)
        if auth_error is not None:
            return auth_error
        try:
            return await handler(request)
        except CloudflareApiError as exc:
            return _error_response(exc.status, exc.errors)

    def _check_auth(self, request: web.Request) -> web.Response | None:
        """None when the bearer token is right; otherwise the reply Cloudflare would send."""
        if request.path == API_PREFIX + "/ips":
            return None  # public: Cloudflare serves its ranges to anyone
        verifying = request.path == API_PREFIX + "/user/tokens/verify"
        header = request.headers.get("Authorization")
        if header is None:
            if verifying:
                return _error_response(400, [(1001, 'Missing "Authorization" header')])
            return _error_response(
                400, [(9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")]
            )
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token or " " in token:
            body = envelope(None, [(6003, "Invalid request headers")])
            body["errors"][0]["error_chain"] = [
                {"code": 6111, "message": "Invalid format for Authorization header"}
            ]
            return web.json_response(body, status=400)
        if token != self._token:
            if verifying:
                return _error_response(401, [(1000, "Invalid API Token")])
            return _error_response(403, [(9109, "Invalid access token")])
        return None

    def _zone_or_error(self, request: web.Request) -> dict[str, Any]:
        zone = self._zones.get(request.match_info["zone_id"])
        if zone is None:
            raise _bad_identifier(request.path)
        return zone

    def _record_or_error(self, request: web.Request) -> dict[str, Any]:
        zone = self._zone_or_error(request)
        record_id = request.match_info["record_id"]
        if not ID_PATTERN.match(record_id):
            raise _bad_identifier(request.path)
        record = self._records.get(record_id)
        if record is None or record["zone_id"] != zone["id"]:
            raise CloudflareApiError(404, [(81044, "Record does not exist.")])
        return record

    @staticmethod
    async def _json_body(request: web.Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.text() or "null")
        except json.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise _invalid(6007, "Malformed JSON in request body")
        return body

    @staticmethod
    def _page(request: web.Request, items: list[Any], kind: str) -> web.Response:
        try:
            page = max(1, int(request.query.get("page", 1)))
            per_page = int(request.query.get("per_page", DEFAULT_PER_PAGE[kind]))
        except ValueError:
            raise _invalid(1001, "Invalid pagination parameters") from None
        per_page = min(max(per_page, 5), MAX_PER_PAGE[kind])
        chunk = items[(page - 1) * per_page : page * per_page]
        info = {
            "page": page,
            "per_page": per_page,
            "count": len(chunk),
            "total_count": len(items),
            "total_pages": max(1, -(-len(items) // per_page)),
        }
        return web.json_response(envelope(chunk, result_info=info))

    # --- handlers -------------------------------------------------------------------------

    async def _verify_token(self, request: web.Request) -> web.Response:
        body = envelope({"id": self.token_id, "status": "active"})
        valid = {"code": 10000, "message": "This API Token is valid and active", "type": None}
        body["messages"] = [valid]
        return web.json_response(body)

    async def _ips(self, request: web.Request) -> web.Response:
        ranges = {"ipv4_cidrs": list(IPV4_CIDRS), "ipv6_cidrs": list(IPV6_CIDRS)}
        etag = hashlib.md5(json.dumps(ranges, sort_keys=True).encode()).hexdigest()
        return web.json_response(envelope({**ranges, "etag": etag}))

    async def _get_ssl(self, request: web.Request) -> web.Response:
        return web.json_response(envelope(self._ssl[self._zone_or_error(request)["id"]]))

    async def _patch_ssl(self, request: web.Request) -> web.Response:
        setting = self._ssl[self._zone_or_error(request)["id"]]
        self._set_ssl(setting, (await self._json_body(request)).get("value"))
        return web.json_response(envelope(setting))

    def _set_ssl(self, setting: dict[str, Any], value: Any) -> None:
        if value not in SSL_MODES:
            raise _invalid(1007, "Invalid value for zone setting ssl")
        setting.update(value=value, modified_on=_iso(self.clock()))

    async def _list_zones(self, request: web.Request) -> web.Response:
        name = request.query.get("name")
        zones = [z for z in self._zones.values() if name is None or z["name"] == name.lower()]
        return self._page(request, zones, "zones")

    async def _get_zone(self, request: web.Request) -> web.Response:
        return web.json_response(envelope(self._zone_or_error(request)))

    async def _list_records(self, request: web.Request) -> web.Response:
        zone = self._zone_or_error(request)
        tests = _record_filters(request.query, zone["name"])
        records = [
            r
            for r in self._records.values()
            if r["zone_id"] == zone["id"] and all(test(r) for test in tests)
        ]
        return self._page(request, records, "dns_records")

    async def _create_record(self, request: web.Request) -> web.Response:
        zone = self._zone_or_error(request)
        record = self._store_record(zone, await self._json_body(request), existing=None)
        return web.json_response(envelope(record))

    async def _get_record(self, request: web.Request) -> web.Response:
        return web.json_response(envelope(self._record_or_error(request)))

    async def _put_record(self, request: web.Request) -> web.Response:
        record = self._record_or_error(request)
        fields = await self._json_body(request)
        updated = self._store_record(self._zones[record["zone_id"]], fields, existing=record)
        return web.json_response(envelope(updated))

    async def _patch_record(self, request: web.Request) -> web.Response:
        record = self._record_or_error(request)
        fields = {key: record[key] for key in EDITABLE_FIELDS}
        fields.update(await self._json_body(request))
        updated = self._store_record(self._zones[record["zone_id"]], fields, existing=record)
        return web.json_response(envelope(updated))

    async def _delete_record(self, request: web.Request) -> web.Response:
        record = self._record_or_error(request)
        del self._records[record["id"]]
        return web.json_response(envelope({"id": record["id"]}))

    # --- validation and storage -------------------------------------------------------------

    def _store_record(
        self, zone: dict[str, Any], fields: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Validate `fields` like Cloudflare does, then create (or replace `existing`)."""
        rtype = str(fields.get("type") or "").upper()
        if rtype not in RECORD_TYPES:
            raise _invalid(9000, f'DNS record type "{rtype}" is invalid.')
        if not fields.get("name"):
            raise _invalid(9000, "DNS name is invalid.")
        name = _full_name(str(fields["name"]), zone["name"])
        content = str(fields.get("content") or "")
        proxied = bool(fields.get("proxied", False))
        ttl = fields.get("ttl", 1)
        _check_content(rtype, content)
        if not isinstance(ttl, int) or not (ttl == 1 or 60 <= ttl <= 86400):
            message = "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic."
            raise _invalid(9021, message)
        if proxied and rtype not in PROXIABLE_TYPES:
            raise _invalid(9004, "This record type cannot be proxied.")
        if proxied:
            ttl = 1  # a proxied record's TTL is Auto, whatever was asked
        tags = fields.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(tag, str) and tag for tag in tags):
            raise _invalid(9000, "DNS record tags are invalid.")
        if rtype == "CNAME":
            content = content.rstrip(".").lower()
        self._check_conflicts(zone["id"], rtype, name, content, existing)

        now = _iso(self.clock())
        if existing is None:
            self._record_counter += 1
            record_id = _hex_id("record", zone["id"], str(self._record_counter))
            record: dict[str, Any] = {"id": record_id, "created_on": now}
        else:
            record = existing
        record.update(
            zone_id=zone["id"],
            zone_name=zone["name"],
            name=name,
            type=rtype,
            content=content,
            proxiable=rtype in PROXIABLE_TYPES,
            proxied=proxied,
            ttl=ttl,
            locked=False,
            comment=fields.get("comment") or None,
            tags=list(dict.fromkeys(tags)),
            meta={"auto_added": False, "managed_by_apps": False, "managed_by_argo_tunnel": False},
            modified_on=now,
        )
        self._records[record["id"]] = record
        return record

    def _check_conflicts(
        self, zone_id: str, rtype: str, name: str, content: str, existing: dict[str, Any] | None
    ) -> None:
        others = [
            r
            for r in self._records.values()
            if r["zone_id"] == zone_id and r["name"] == name and r is not existing
        ]
        if rtype == "CNAME" and any(r["type"] in PROXIABLE_TYPES for r in others):
            message = "An A, AAAA, or CNAME record with that host already exists."
            raise _invalid(81053, f"{message} {SAME_NAME_HELP}")
        if any(r["type"] == "CNAME" for r in others):
            raise _invalid(81054, f"A CNAME record with that host already exists. {SAME_NAME_HELP}")
        if any(r["type"] == rtype and r["content"] == content for r in others):
            if existing is None:
                raise _invalid(81057, "Record already exists.")
            raise _invalid(81058, "An identical record already exists.")


def edge_addresses(zone_name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The IPv4 and IPv6 addresses the zone's proxied names answer with, the shape Cloudflare
    hands a free zone: one in 104.21.0.0/16 (inside 104.16.0.0/13), one in 172.67.0.0/16 (inside
    172.64.0.0/13), and their 2606:4700:3030::6815:xxxx / ::ac43:xxxx twins (2606:4700::/32).
    Derived from the zone's name, so they stay put from run to run."""
    digest = hashlib.md5(zone_name.encode()).digest()
    low = [(digest[i], digest[i + 1] % 254 + 1) for i in (0, 2)]
    ipv4 = (f"104.21.{low[0][0]}.{low[0][1]}", f"172.67.{low[1][0]}.{low[1][1]}")
    ipv6 = tuple(
        f"2606:4700:3030::{prefix}:{third * 256 + fourth:x}"
        for prefix, (third, fourth) in zip(("6815", "ac43"), low, strict=True)
    )
    return ipv4, ipv6


RecordTest = Callable[[dict[str, Any]], bool]


def _record_filters(query: Any, zone_name: str) -> list[RecordTest]:
    """The tests a record must pass for the list's query parameters (Cloudflare's `match=all`)."""
    tests: list[RecordTest] = []

    def equal(key: str, value: str) -> None:
        tests.append(lambda r: r[key] == value)

    for key, value in query.items():
        if key in ("name", "name.exact"):
            equal("name", _full_name(value, zone_name))
        elif key == "type":
            equal("type", value.upper())
        elif key in ("content", "content.exact"):
            equal("content", value)
        elif key == "proxied":
            equal("proxied", value.lower() == "true")
        elif key == "comment" or key.startswith("comment."):
            tests.append(_comment_test(key.partition(".")[2] or "exact", value.lower()))
        elif key == "tag" or key.startswith("tag."):
            tests.append(_tag_test(key.partition(".")[2], value.lower()))
    return tests


def _comment_test(how: str, wanted: str) -> RecordTest:
    """One `comment.<how>` filter; comment filters are case-insensitive (API reference)."""
    def text(record: dict[str, Any]) -> str:
        return (record["comment"] or "").lower()

    matches: dict[str, RecordTest] = {
        "exact": lambda r: text(r) == wanted,
        "startswith": lambda r: text(r).startswith(wanted),
        "endswith": lambda r: text(r).endswith(wanted),
        "contains": lambda r: wanted in text(r),
        "present": lambda r: bool(r["comment"]),
        "absent": lambda r: not r["comment"],
    }
    if how not in matches:
        raise _invalid(1004, f"Invalid filter comment.{how}")
    return matches[how]


def _tag_test(how: str, wanted: str) -> RecordTest:
    """One `tag[.<how>]` filter: `tag=name` is `tag.present=name`, `tag=name:value` is
    `tag.exact=name:value` (API reference); tag names and values compare case-insensitively."""
    how = how or ("exact" if ":" in wanted else "present")

    def names(record: dict[str, Any]) -> set[str]:
        return {tag.lower().partition(":")[0] for tag in record["tags"]}

    matches: dict[str, RecordTest] = {
        "exact": lambda r: wanted in {tag.lower() for tag in r["tags"]},
        "present": lambda r: wanted in names(r),
        "absent": lambda r: wanted not in names(r),
    }
    if how not in matches:
        raise _invalid(1004, f"Invalid filter tag.{how}")
    return matches[how]


def _invalid(code: int, message: str) -> CloudflareApiError:
    """A 400 reply with one error, the shape of Cloudflare's validation failures."""
    return CloudflareApiError(400, [(code, message)])


def _bad_identifier(path: str) -> CloudflareApiError:
    message = f"Could not route to {path}, perhaps your object identifier is invalid?"
    return CloudflareApiError(400, [(7003, message), (7000, "No route for that URI")])


def _full_name(name: str, zone_name: str) -> str:
    """Cloudflare's expansion: "@" is the apex, a name outside the zone gets the zone appended."""
    name = name.strip().rstrip(".").lower()
    if name in ("@", "", zone_name):
        return zone_name
    if name.endswith("." + zone_name):
        return name
    return f"{name}.{zone_name}"


def _check_content(rtype: str, content: str) -> None:
    def valid_ip(version: int) -> bool:
        try:
            return ipaddress.ip_address(content).version == version
        except ValueError:
            return False

    if rtype == "A" and not valid_ip(4):
        raise _invalid(9005, "Content for A record must be a valid IPv4 address.")
    if rtype == "AAAA" and not valid_ip(6):
        raise _invalid(9006, "Content for AAAA record must be a valid IPv6 address.")
    if rtype == "CNAME" and not _is_hostname(content):
        raise _invalid(9007, "Content for CNAME record is invalid.")
    if rtype == "TXT" and not content:
        raise _invalid(9009, "Content for TXT record is invalid.")


def _is_hostname(text: str) -> bool:
    labels = text.rstrip(".").lower().split(".")
    return len(labels) > 1 and all(HOSTNAME_LABEL.match(label) for label in labels)
