"""Async client for the MikroTik RouterOS API, on `librouteros.async_connect`.

One `RouterClient` holds one API connection and runs one command at a time on it (an
asyncio.Lock): the RouterOS API answers sentences in order, so two coroutines reading the same
stream would steal each other's replies.

Errors come out typed: `RouterTrap` (the router refused a command), `RouterAuthError` (login
refused), `RouterUnreachable` (refused, closed, timed out, TLS failure). Messages never carry
the password. After a broken connection the next call connects again; reads are retried once
on a fresh connection, writes are not (the router may already have applied them).

Console lines (plan previews, .rsc export) are the plans' business: plans/routeros.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import librouteros
from librouteros.api import AsyncApi
from librouteros.exceptions import ConnectionClosed, FatalError, MultiTrapError, ProtocolError, TrapError
from librouteros.login import encode_password
from librouteros.types import ReplyDict

from homelab_tui.models import (
    AddressListEntry,
    CloudStatus,
    DhcpLease,
    DhcpNetwork,
    FirewallConnection,
    InterfaceList,
    InterfaceListMember,
    IpAddress,
    IpPool,
    MangleRule,
    NatRule,
    RouterIdentity,
    RouterInterface,
)

NAT_MENU = "/ip/firewall/nat"
MANGLE_MENU = "/ip/firewall/mangle"
FILTER_MENU = "/ip/firewall/filter"
ADDRESS_LIST_MENU = "/ip/firewall/address-list"
CONNECTION_MENU = "/ip/firewall/connection"
INTERFACE_LIST_MENU = "/interface/list"
INTERFACE_LIST_MEMBER_MENU = "/interface/list/member"
CLOUD_MENU = "/ip/cloud"
IDENTITY_MENU = "/system/identity"
RESOURCE_MENU = "/system/resource"

DEFAULT_PORT = 8728
DEFAULT_TLS_PORT = 8729

FieldValue = str | int | bool


class _DropLoginWords(logging.Filter):
    """librouteros logs every word it sends at DEBUG, the login's `=password=` included."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "=password=" not in record.getMessage()


logging.getLogger("librouteros").addFilter(_DropLoginWords())
Fields = Mapping[str, FieldValue]


class RouterError(Exception):
    """Base of every error this client raises."""


class RouterTrap(RouterError):
    """The router answered `!trap`: it refused the command (bad value, no such item ...)."""

    def __init__(self, message: str, category: int | None = None, command: str = "") -> None:
        super().__init__(f"{command}: {message}" if command else message)
        self.message = message
        self.category = category
        self.command = command


class RouterAuthError(RouterError):
    """The router refused the user name or password."""


class RouterUnreachable(RouterError):
    """No working connection: refused, closed, timed out, or the TLS handshake failed."""


# Errors that mean the connection is gone or out of step; it is then thrown away.
_CONNECTION_ERRORS = (OSError, asyncio.TimeoutError, ConnectionClosed, FatalError, EOFError)


class _StringApi(AsyncApi):
    """librouteros turns "80" into 80 and a comment "yes" into True; keep every value a string."""

    async def readSentence(self) -> tuple[str, ReplyDict]:  # noqa: N802 (librouteros name)
        reply_word, words = await self.protocol.readSentence()
        return reply_word, dict(word[1:].split("=", 1) for word in words if word.startswith("="))


async def _login(api: AsyncApi, username: str, password: str) -> None:
    """The RouterOS >= 6.43 plain login, with the words passed as typed (no casting). A router older
    than 6.43 ignores the password and answers a challenge (`=ret=`) instead: then the MD5 challenge
    response that librouteros computes for its `token` login."""
    replies = [reply async for reply in api.rawCmd("/login", f"=name={username}", f"=password={password}")]
    challenge = next((reply["ret"] for reply in replies if "ret" in reply), None)
    if challenge is not None:
        response = encode_password(str(challenge), password)
        [_ async for _ in api.rawCmd("/login", f"=name={username}", f"=response={response}")]


def api_path(menu: str) -> str:
    """`/ip firewall nat`, `ip/firewall/nat` or `/ip/firewall/nat/` -> `/ip/firewall/nat`."""
    return "/" + "/".join(part for part in menu.replace(" ", "/").split("/") if part)


def api_value(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def api_fields(fields: Fields | None, keywords: Fields) -> dict[str, str]:
    """Merge a dict of RouterOS names (`dst-port`) with keyword arguments (`dst_port`)."""
    merged = dict(fields or {})
    merged.update({name.replace("_", "-"): value for name, value in keywords.items()})
    return {name: api_value(value) for name, value in merged.items()}


def _attribute_words(fields: Fields | None, keywords: Fields) -> list[str]:
    return [f"={name}={value}" for name, value in api_fields(fields, keywords).items()]


@dataclass(frozen=True)
class FetchResult:
    """What `/tool/fetch` said: ok with its last status (`finished`), or the router's failure
    message (`failure: connection refused`)."""
    ok: bool
    status: str = ""
    message: str = ""


class RouterClient:
    """A connection to one router. Use `await RouterClient.connect(...)` or `async with`."""

    def __init__(
        self,
        host: str,
        port: int | None = None,
        user: str = "admin",
        password: str = "",
        *,
        tls: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port if port is not None else (DEFAULT_TLS_PORT if tls else DEFAULT_PORT)
        self.user = user
        self._password = password
        self.tls = tls or ssl_context is not None
        self._ssl_context = ssl_context
        self.timeout = timeout
        self._api: AsyncApi | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        scheme = "api-ssl" if self.tls else "api"
        return f"RouterClient({scheme}://{self.user}@{self.host}:{self.port})"

    @classmethod
    async def connect(cls, *args: Any, **kwargs: Any) -> RouterClient:
        """`RouterClient(...)`, connected and logged in now, so a wrong password or a dead router
        shows up here."""
        client = cls(*args, **kwargs)
        await client.open()
        return client

    async def open(self) -> None:
        async with self._lock:
            await self._connected()

    async def close(self) -> None:
        async with self._lock:
            await self._discard()

    async def __aenter__(self) -> RouterClient:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self._api is not None

    # -- connection -------------------------------------------------------------------------

    def _where(self) -> str:
        return f"router {self.host}:{self.port}"

    async def _connected(self) -> AsyncApi:
        """The live connection, opened (and logged in) first if there is none or it was closed."""
        if self._api is not None and self._api.protocol.transport.reader.at_eof():
            await self._discard()  # the router closed it while we were idle
        if self._api is None:
            context = self._ssl_context
            if self.tls and context is None:
                context = ssl.create_default_context()
            try:
                self._api = await librouteros.async_connect(
                    self.host, self.user, self._password, port=self.port, timeout=self.timeout,
                    encoding="utf-8", ssl_wrapper=context, subclass=_StringApi, login_method=_login,
                )
            except (TrapError, MultiTrapError) as exc:
                raise RouterAuthError(f"{self._where()} refused the login of {self.user!r}: {exc}") from None
            except (*_CONNECTION_ERRORS, ProtocolError) as exc:
                hint = ""
                # Connected, then dropped, reset or silent: a plain API port answering a TLS hello.
                if self.tls and not isinstance(exc, (ConnectionRefusedError, socket.gaierror)):
                    hint = (f" during the TLS handshake: is {self.port} the api-ssl port "
                            f"(TLS is on; the plain API is {DEFAULT_PORT}, api-ssl {DEFAULT_TLS_PORT})?")
                raise RouterUnreachable(f"cannot connect to {self._where()}: {_describe(exc)}{hint}") from None
        return self._api

    def _abandon(self) -> None:
        api, self._api = self._api, None
        if api is not None:
            api.protocol.transport.writer.transport.abort()

    async def _discard(self) -> None:
        api, self._api = self._api, None
        if api is not None:
            try:
                await api.close()
            except (*_CONNECTION_ERRORS, RuntimeError):
                pass

    async def run(self, command: str, *words: str, retry: bool = False) -> list[dict[str, str]]:
        """Send one command with raw API words; return the `!re` (and `!done =ret=`) rows.

        With `retry`, a command that failed because the connection broke is sent once more on
        a new connection. Use it for reads only.
        """
        async with self._lock:
            attempts = 2 if retry else 1
            for attempt in range(1, attempts + 1):
                api = await self._connected()
                try:
                    return [row async for row in api.rawCmd(command, *words)]
                except TrapError as exc:
                    raise RouterTrap(exc.message, _category(exc), command) from None
                except MultiTrapError as exc:
                    raise RouterTrap(str(exc), _category(exc.traps[0]), command) from None
                except asyncio.CancelledError:
                    self._abandon()  # the reply may still arrive: this stream is out of step
                    raise
                except _CONNECTION_ERRORS as exc:
                    await self._discard()
                    if attempt == attempts:
                        raise RouterUnreachable(f"{self._where()} during {command}: {_describe(exc)}") from None
        raise AssertionError("unreachable")

    # -- generic commands -------------------------------------------------------------------

    async def print(
        self, menu: str, *, proplist: Iterable[str] | None = None, queries: Iterable[str] = ()
    ) -> list[dict[str, str]]:
        """`print` a menu. `queries` are raw API query words, e.g. `?chain=dstnat`."""
        words = [f"=.proplist={','.join(proplist)}"] if proplist is not None else []
        return await self.run(f"{api_path(menu)}/print", *words, *queries, retry=True)

    async def add(
        self, menu: str, fields: Fields | None = None, *, place_before: str | None = None, **keywords: FieldValue
    ) -> str:
        """Add an item; returns its .id (e.g. `*A`), from `!done =ret=`. With `place_before` (an
        .id) the new item goes before that one in an ordered menu such as the firewall's."""
        words = _attribute_words(fields, keywords)
        if place_before is not None:
            words.append(f"=place-before={place_before}")
        rows = await self.run(f"{api_path(menu)}/add", *words)
        item_id = next((row["ret"] for row in rows if "ret" in row), "")
        if not item_id:
            raise RouterError(f"{self._where()} added to {api_path(menu)} but did not say the new .id")
        return item_id

    async def move(self, menu: str, item_ids: Iterable[str], destination: str | None = None) -> None:
        """`move`: the items go, in the order given, before `destination`; without it, to the end."""
        words = [f"=numbers={','.join(item_ids)}"]
        if destination is not None:
            words.append(f"=destination={destination}")
        await self.run(f"{api_path(menu)}/move", *words)

    async def find_by_comment(self, menu: str, comment: str) -> list[str]:
        """The .ids of the items whose comment is exactly `comment`, in print order (the API
        query `?comment=`; there is no substring match). Zero, one, or more: the caller decides."""
        rows = await self.print(menu, proplist=(".id",), queries=(f"?comment={comment}",))
        return [row[".id"] for row in rows]

    async def reset_counters(self, menu: str, *item_ids: str) -> None:
        """Zero `bytes` and `packets` of these rules (all of the menu's when none are given)."""
        if item_ids:
            await self.run(f"{api_path(menu)}/reset-counters", f"=numbers={','.join(item_ids)}")
        else:
            await self.run(f"{api_path(menu)}/reset-counters-all")

    async def set(self, menu: str, item_id: str, fields: Fields | None = None, **keywords: FieldValue) -> None:
        await self.run(f"{api_path(menu)}/set", f"=.id={item_id}", *_attribute_words(fields, keywords))

    async def set_single(self, menu: str, fields: Fields | None = None, **keywords: FieldValue) -> None:
        """`set` on a menu without items, such as /ip/cloud or /system/identity."""
        await self.run(f"{api_path(menu)}/set", *_attribute_words(fields, keywords))

    async def remove(self, menu: str, *item_ids: str) -> None:
        await self.run(f"{api_path(menu)}/remove", f"=.id={','.join(item_ids)}")

    async def enable(self, menu: str, *item_ids: str) -> None:
        await self.run(f"{api_path(menu)}/enable", f"=.id={','.join(item_ids)}")

    async def disable(self, menu: str, *item_ids: str) -> None:
        await self.run(f"{api_path(menu)}/disable", f"=.id={','.join(item_ids)}")

    # -- typed reads ------------------------------------------------------------------------

    async def nat_rules(self) -> list[NatRule]:
        return [
            NatRule(
                id=row[".id"], chain=row.get("chain", ""), action=row.get("action", ""),
                protocol=row.get("protocol", ""), dst_port=row.get("dst-port", ""),
                in_interface=row.get("in-interface", ""), in_interface_list=row.get("in-interface-list", ""),
                to_addresses=row.get("to-addresses", ""),
                to_ports=row.get("to-ports", ""), connection_mark=row.get("connection-mark", ""),
                packets=_int(row.get("packets")), bytes=_int(row.get("bytes")),
                comment=row.get("comment", ""), disabled=_bool(row.get("disabled")),
                src_address_list=row.get("src-address-list", ""), src_address=row.get("src-address", ""),
                dst_address=row.get("dst-address", ""), invalid=_bool(row.get("invalid")),
                dynamic=_bool(row.get("dynamic")), raw=row,
            )
            for row in await self.print(NAT_MENU)
        ]

    async def mangle_rules(self) -> list[MangleRule]:
        return [
            MangleRule(
                id=row[".id"], chain=row.get("chain", ""), action=row.get("action", ""),
                protocol=row.get("protocol", ""), dst_port=row.get("dst-port", ""),
                in_interface=row.get("in-interface", ""), in_interface_list=row.get("in-interface-list", ""),
                new_connection_mark=row.get("new-connection-mark", ""),
                per_connection_classifier=row.get("per-connection-classifier", ""),
                passthrough=_bool(row.get("passthrough", "true")),
                packets=_int(row.get("packets")), bytes=_int(row.get("bytes")),
                comment=row.get("comment", ""), disabled=_bool(row.get("disabled")),
                connection_state=row.get("connection-state", ""), connection_mark=row.get("connection-mark", ""),
                src_address_list=row.get("src-address-list", ""), invalid=_bool(row.get("invalid")),
                dynamic=_bool(row.get("dynamic")), raw=row,
            )
            for row in await self.print(MANGLE_MENU)
        ]

    async def cloud(self) -> CloudStatus:
        row = await self._single(CLOUD_MENU)
        return CloudStatus(
            ddns_enabled=_bool(row.get("ddns-enabled")), dns_name=row.get("dns-name", ""),
            public_address=row.get("public-address", ""), status=row.get("status", ""),
            warning=row.get("warning", ""),
        )

    async def set_ddns(self, enabled: bool) -> None:
        """`/ip cloud set ddns-enabled=yes|no`. The name and address come later: poll `cloud()`."""
        await self.set_single(CLOUD_MENU, ddns_enabled=enabled)

    async def address_list(self, list_name: str | None = None) -> list[AddressListEntry]:
        """The address list entries, of one list or of all."""
        queries = (f"?list={list_name}",) if list_name is not None else ()
        return [
            AddressListEntry(
                id=row[".id"], list=row.get("list", ""), address=row.get("address", ""),
                comment=row.get("comment", ""), timeout=row.get("timeout", ""), dynamic=_bool(row.get("dynamic")),
                disabled=_bool(row.get("disabled")),
            )
            for row in await self.print(ADDRESS_LIST_MENU, queries=queries)
        ]

    async def interface_lists(self) -> list[InterfaceList]:
        return [
            InterfaceList(
                id=row[".id"], name=row.get("name", ""), builtin=_bool(row.get("builtin")),
                comment=row.get("comment", ""),
            )
            for row in await self.print(INTERFACE_LIST_MENU)
        ]

    async def interface_list_members(self, list_name: str | None = None) -> list[InterfaceListMember]:
        queries = (f"?list={list_name}",) if list_name is not None else ()
        return [
            InterfaceListMember(
                id=row[".id"], list=row.get("list", ""), interface=row.get("interface", ""),
                disabled=_bool(row.get("disabled")), dynamic=_bool(row.get("dynamic")),
            )
            for row in await self.print(INTERFACE_LIST_MEMBER_MENU, queries=queries)
        ]

    async def connections(self, queries: Iterable[str] = ()) -> list[FirewallConnection]:
        """Connection tracking entries; `queries` as for `print`, e.g. `?protocol=tcp`."""
        return [
            FirewallConnection(
                id=row[".id"], protocol=row.get("protocol", ""), src_address=row.get("src-address", ""),
                dst_address=row.get("dst-address", ""), reply_src_address=row.get("reply-src-address", ""),
                reply_dst_address=row.get("reply-dst-address", ""), connection_mark=row.get("connection-mark", ""),
                tcp_state=row.get("tcp-state", ""), dstnat=_bool(row.get("dstnat")),
            )
            for row in await self.print(CONNECTION_MENU, queries=queries)
        ]

    async def remove_connections(self, *item_ids: str) -> None:
        """Forget connection tracking entries, so NAT decides their next packets afresh."""
        if item_ids:
            await self.remove(CONNECTION_MENU, *item_ids)

    async def identity(self) -> RouterIdentity:
        resource = await self._single(RESOURCE_MENU)
        identity = await self._single(IDENTITY_MENU)
        return RouterIdentity(
            identity=identity.get("name", ""), version=resource.get("version", ""),
            board=resource.get("board-name", ""), architecture=resource.get("architecture-name", ""),
            uptime=resource.get("uptime", ""), cpu_load=_int(resource.get("cpu-load")),
            free_memory=_int(resource.get("free-memory")), total_memory=_int(resource.get("total-memory")),
        )

    async def interfaces(self) -> list[RouterInterface]:
        return [
            RouterInterface(
                name=row.get("name", ""), type=row.get("type", ""), running=_bool(row.get("running")),
                disabled=_bool(row.get("disabled")), mac_address=row.get("mac-address", ""),
            )
            for row in await self.print("/interface")
        ]

    async def addresses(self) -> list[IpAddress]:
        return [
            IpAddress(
                address=row.get("address", ""), network=row.get("network", ""),
                interface=row.get("interface", ""), disabled=_bool(row.get("disabled")),
            )
            for row in await self.print("/ip/address")
        ]

    async def pools(self) -> list[IpPool]:
        return [IpPool(name=row.get("name", ""), ranges=row.get("ranges", "")) for row in await self.print("/ip/pool")]

    async def dhcp_networks(self) -> list[DhcpNetwork]:
        return [
            DhcpNetwork(
                address=row.get("address", ""), gateway=row.get("gateway", ""), dns_server=row.get("dns-server", ""),
            )
            for row in await self.print("/ip/dhcp-server/network")
        ]

    async def dhcp_leases(self) -> list[DhcpLease]:
        return [
            DhcpLease(
                address=row.get("address", ""), mac_address=row.get("mac-address", ""),
                host_name=row.get("host-name", ""), status=row.get("status", ""),
                dynamic=_bool(row.get("dynamic")),
            )
            for row in await self.print("/ip/dhcp-server/lease")
        ]

    async def fetch(self, url: str, timeout: float = 10.0) -> FetchResult:
        """`/tool/fetch url=<url> output=none` from the router (RouterOS 7; the user's group needs the
        `test` policy). A `failure: ...` trap, or no end within `timeout` seconds, is a FetchResult
        that is not ok; any other trap (not enough permissions, no such command) raises RouterTrap."""
        try:
            rows = await asyncio.wait_for(self.run("/tool/fetch", f"=url={url}", "=output=none"), timeout)
        except asyncio.TimeoutError:
            return FetchResult(False, message=f"no answer within {timeout:g} s")
        except RouterTrap as trap:
            if trap.message.startswith("failure:"):
                return FetchResult(False, message=trap.message)
            raise
        status = next((row["status"] for row in reversed(rows) if "status" in row), "")
        return FetchResult(status == "finished", status, "" if status == "finished" else f"status: {status or 'none'}")

    async def _single(self, menu: str) -> dict[str, str]:
        rows = await self.print(menu)
        return rows[0] if rows else {}


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("true", "yes")


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _category(trap: TrapError) -> int | None:
    """The trap category as a number (our reader leaves every value a string)."""
    category = trap.category
    return int(category) if isinstance(category, str) and category.isdigit() else category


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc})"
    if isinstance(exc, OSError) and exc.errno:  # "[Errno 111] Connect call failed (...)": say why
        return os.strerror(exc.errno).lower()
    return str(exc) or type(exc).__name__
