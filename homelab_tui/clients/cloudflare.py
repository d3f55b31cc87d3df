"""Async client for Cloudflare's v4 API: token check, zones, their SSL mode, DNS records, and
Cloudflare's published IP ranges (plus the snapshot of them bundled as package data).

Use it as an async context manager; it owns one aiohttp session:

    async with CloudflareClient(token) as cf:
        zone = await cf.zone_by_name("example.org")
        records = await cf.list_records(zone["id"], name="example.org")

Failures are typed: `CloudflareError` when the API answered with `success: false` (or a non-2xx
status), carrying the HTTP status and Cloudflare's (code, message) pairs; `CloudflareUnreachable`
when no usable answer came back. The token goes only into the Authorization header: never into
reprs, log lines or exception messages.

Record ownership lives in the record's `comment` (our marker) or `tags`; `list_records` filters on
them server-side (`comment.exact`, `comment.startswith`; Cloudflare compares comments
case-insensitively).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from importlib.resources import files
from typing import Any

import aiohttp

from homelab_tui.models import CloudflareIpRanges, CloudflareRecord

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"

# Codes worth naming for callers (from the API's replies).
CODE_RECORD_NOT_FOUND = 81044
CODE_HOST_TAKEN = 81053  # a CNAME where an A/AAAA/CNAME already exists
CODE_CNAME_TAKEN = 81054  # an A/AAAA/... where a CNAME already exists
CODE_RECORD_EXISTS = 81057  # a record created again, identical to one there
CODE_IDENTICAL_RECORD = 81058  # a record updated into a copy of another one
SSL_MODES = ("off", "flexible", "full", "strict")
IPS_SNAPSHOT = "data/cloudflare-ips.json"  # package data beside this package
AUTH_ERROR_CODES = frozenset({1000, 1001, 6003, 6111, 9103, 9106, 9109, 10000})


class CloudflareUnreachable(Exception):
    """The API could not be reached or answered with something that is not its JSON."""


class CloudflareError(Exception):
    """The API answered with an error: HTTP status plus Cloudflare's (code, message) list."""

    def __init__(self, status: int, errors: list[tuple[int, str]]) -> None:
        self.status = status
        self.errors = errors
        text = "; ".join(f"{message} ({code})" for code, message in errors) or "no error detail"
        super().__init__(f"Cloudflare API error {status}: {text}")

    @property
    def codes(self) -> set[int]:
        return {code for code, _ in self.errors}

    @property
    def is_auth_error(self) -> bool:
        return self.status in (401, 403) or bool(self.codes & AUTH_ERROR_CODES)


def record_from_api(data: dict[str, Any]) -> CloudflareRecord:
    return CloudflareRecord(
        id=data["id"],
        zone_id=data.get("zone_id", ""),
        type=data["type"],
        name=data["name"],
        content=data["content"],
        proxied=bool(data.get("proxied", False)),
        ttl=int(data.get("ttl", 1)),
        comment=data.get("comment") or "",
        tags=tuple(data.get("tags") or ()),
    )


def bundled_ip_ranges() -> CloudflareIpRanges:
    """The snapshot of Cloudflare's ranges shipped with homelab-tui, with its date: for a plan
    made without a token (the live list is `CloudflareClient.ips()`)."""
    data = json.loads(files("homelab_tui").joinpath(IPS_SNAPSHOT).read_text(encoding="utf-8"))
    return CloudflareIpRanges(
        ipv4_cidrs=tuple(data["ipv4_cidrs"]),
        ipv6_cidrs=tuple(data.get("ipv6_cidrs", ())),
        date=data["date"],
        source=f"bundled snapshot of {data['date']}",
    )


class CloudflareClient:
    """Cloudflare v4 client with bearer-token auth; see the module docstring."""

    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 15.0,
        per_page: int = 100,
    ) -> None:
        self._token = token
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.per_page = per_page
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"CloudflareClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> CloudflareClient:
        self._session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self._token}"} if self._token else None,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- API ------------------------------------------------------------------------------

    async def verify_token(self) -> dict[str, Any]:
        """The token's {id, status}; raises CloudflareError when the token is not valid."""
        body = await self._request("GET", "/user/tokens/verify")
        return body["result"]

    async def zone_by_name(self, name: str) -> dict[str, Any] | None:
        body = await self._request("GET", "/zones", params={"name": name.rstrip(".").lower()})
        zones = body["result"] or []
        return zones[0] if zones else None

    async def ssl_mode(self, zone_id: str) -> str:
        """The zone's SSL/TLS encryption mode: "off", "flexible", "full" or "strict"."""
        body = await self._request("GET", f"/zones/{zone_id}/settings/ssl")
        return body["result"]["value"]

    async def ips(self) -> CloudflareIpRanges:
        """Cloudflare's source ranges as published now (`GET /ips`; needs no token)."""
        result = (await self._request("GET", "/ips"))["result"]
        return CloudflareIpRanges(
            ipv4_cidrs=tuple(result.get("ipv4_cidrs") or ()),
            ipv6_cidrs=tuple(result.get("ipv6_cidrs") or ()),
            etag=result.get("etag") or "",
            source=f"{self.base_url}/ips",
        )

    async def list_records(
        self,
        zone_id: str,
        name: str | None = None,
        type: str | None = None,
        *,
        comment: str | None = None,
        comment_prefix: str | None = None,
        tag: str | None = None,
    ) -> list[CloudflareRecord]:
        """All records of the zone matching every filter given, across every page: `comment` is
        the whole comment, `comment_prefix` its start (both case-insensitive, as the API
        compares), `tag` a tag name or `name:value`."""
        params: dict[str, Any] = {"per_page": self.per_page}
        if name is not None:
            params["name"] = name.rstrip(".").lower()
        if type is not None:
            params["type"] = type.upper()
        if comment is not None:
            params["comment.exact"] = comment
        if comment_prefix is not None:
            params["comment.startswith"] = comment_prefix
        if tag is not None:
            params["tag"] = tag
        records: list[CloudflareRecord] = []
        page = 1
        while True:
            body = await self._request(
                "GET", f"/zones/{zone_id}/dns_records", params={**params, "page": page}
            )
            records.extend(record_from_api(item) for item in body["result"])
            total_pages = int((body.get("result_info") or {}).get("total_pages", 1))
            if page >= total_pages or not body["result"]:
                return records
            page += 1

    async def create_record(
        self,
        zone_id: str,
        type: str,
        name: str,
        content: str,
        *,
        proxied: bool = False,
        ttl: int = 1,
        comment: str = "",
        tags: tuple[str, ...] = (),
    ) -> CloudflareRecord:
        """Create a record (a proxied one always gets TTL 1, Auto). Raises CloudflareError with
        81053/81054 when the name is taken by a record it cannot share it with, and 81057 when an
        identical record exists."""
        payload = {"type": type.upper(), "name": name, "content": content, "proxied": proxied}
        payload.update(ttl=ttl, comment=comment, tags=list(tags))
        body = await self._request("POST", f"/zones/{zone_id}/dns_records", json=payload)
        return record_from_api(body["result"])

    async def update_record(
        self,
        zone_id: str,
        record_id: str,
        *,
        type: str | None = None,
        name: str | None = None,
        content: str | None = None,
        proxied: bool | None = None,
        ttl: int | None = None,
        comment: str | None = None,
        tags: tuple[str, ...] | None = None,
    ) -> CloudflareRecord:
        """Change only the given fields (PATCH); the rest, comment and tags included, stay."""
        changes = {"type": type, "name": name, "content": content, "proxied": proxied}
        changes.update(ttl=ttl, comment=comment, tags=list(tags) if tags is not None else None)
        payload = {key: value for key, value in changes.items() if value is not None}
        body = await self._request(
            "PATCH", f"/zones/{zone_id}/dns_records/{record_id}", json=payload
        )
        return record_from_api(body["result"])

    async def delete_record(self, zone_id: str, record_id: str) -> str:
        """Delete a record; returns its id."""
        body = await self._request("DELETE", f"/zones/{zone_id}/dns_records/{record_id}")
        return body["result"]["id"]

    # --- plumbing -------------------------------------------------------------------------

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if self._session is None:
            raise RuntimeError("use CloudflareClient as 'async with CloudflareClient(...)'")
        url = self.base_url + path
        log.debug("Cloudflare %s %s", method, path)
        try:
            async with self._session.request(method, url, **kwargs) as response:
                status = response.status
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise CloudflareUnreachable(f"cannot reach {self.base_url}: {_reason(exc)}") from None
        if not isinstance(body, dict) or "success" not in body:
            raise CloudflareUnreachable(
                f"{method} {path}: HTTP {status} without a Cloudflare API reply"
            )
        if not body["success"] or status >= 400:
            errors = body.get("errors") or []
            pairs = [(int(e.get("code", 0)), str(e.get("message", ""))) for e in errors]
            raise CloudflareError(status, pairs)
        return body


def _reason(exc: BaseException) -> str:
    """Why a request got no answer, in words: refused, timed out, no route, a name that does not
    resolve (aiohttp says `Connect call failed` for most of them)."""
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"cannot resolve {exc.host} ({exc.os_error.strerror or exc.os_error})"
    if isinstance(exc, aiohttp.ClientConnectorError):
        error = exc.os_error
        reason = os.strerror(error.errno).lower() if error.errno else (error.strerror or str(error))
        return f"{exc.host}:{exc.port}: {reason}"
    return f"{type(exc).__name__}: {exc}"
