"""DNS steps, against the configured Cloudflare zone: our record found by its name and marker
comment, created or updated; a record of another owner deleted only when the plan says the user
agreed, and made again if the apply fails. One client per apply, opened at the first step."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from ..clients.cloudflare import CloudflareClient, CloudflareError, CloudflareUnreachable
from ..config import Config
from ..connect import cloudflare_client
from ..plans import Step
from ..plans.actions import Action, DnsDelete, DnsPut, DnsRestore
from .common import StepError


class DnsExecutor:
    def __init__(self, config: Config, ddns_name: Callable[[], Awaitable[str]]) -> None:
        self.config = config
        self._ddns_name = ddns_name  # the router's DDNS name, for a CNAME planned before DDNS had one
        self._client: CloudflareClient | None = None
        self._zones: dict[str, str] = {}
        self._opening = asyncio.Lock()

    async def client(self) -> CloudflareClient:
        async with self._opening:
            if self._client is None:
                client = await cloudflare_client(self.config)
                self._client = await client.__aenter__()  # closed by close()
            return self._client

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    async def _zone(self, client: CloudflareClient, name: str) -> str:
        if name not in self._zones:
            zone = await client.zone_by_name(name)
            if zone is None:
                raise StepError(f"Cloudflare has no zone {name} for this token")
            self._zones[name] = zone["id"]
        return self._zones[name]

    async def execute(self, step: Step, action: Action, context, output: Callable[[str], None]) -> None:
        do = {DnsPut: self._put, DnsDelete: self._delete, DnsRestore: self._restore}.get(type(action))
        if do is None:
            raise StepError(f"a DNS step cannot {type(action).__name__}")
        try:
            client = await self.client()
            await do(client, await self._zone(client, action.zone), action, output)
        except (CloudflareError, CloudflareUnreachable) as error:
            raise StepError(str(error)) from None

    async def _put(self, client: CloudflareClient, zone: str, action: DnsPut, output: Callable[[str], None]) -> None:
        content = action.content or await self._ddns_name()
        ours = await client.list_records(zone, action.name, comment=action.comment)
        if len(ours) > 1:
            raise StepError(f"{len(ours)} records {action.name} carry {action.comment}; remove the copies by hand")
        if ours:
            await client.update_record(zone, ours[0].id, type=action.type, content=content, proxied=action.proxied,
                                       ttl=action.ttl)
            output(f"updated {action.type} {action.name} → {content}")
        else:
            await client.create_record(zone, action.type, action.name, content, proxied=action.proxied,
                                       ttl=action.ttl, comment=action.comment)
            output(f"created {action.type} {action.name} → {content}")

    async def _delete(self, client: CloudflareClient, zone: str, action: DnsDelete,
                      output: Callable[[str], None]) -> None:
        if action.record:
            record = json.loads(action.record)
            ids = [record["id"]] if record.get("id") else []
        else:
            ids = [r.id for r in await client.list_records(zone, action.name, comment=action.comment)]
        for record_id in ids:
            try:
                await client.delete_record(zone, record_id)
            except CloudflareError as error:
                if error.status != 404:
                    raise
        output(f"deleted {action.name}" if ids else f"{action.name} was already gone")

    async def _restore(self, client: CloudflareClient, zone: str, action: DnsRestore,
                       output: Callable[[str], None]) -> None:
        record = json.loads(action.record)
        await client.create_record(zone, record["type"], record["name"], record["content"],
                                   proxied=str(record.get("proxied")).lower() == "true",
                                   ttl=int(record.get("ttl") or 1), comment=record.get("comment", ""))
        output(f"made {record['type']} {record['name']} → {record['content']} again")
