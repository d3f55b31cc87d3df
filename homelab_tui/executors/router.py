"""RouterOS steps, against the configured router's API: items found by their marker comment
(never by a cached .id), added before the rule they must precede, their order repaired, and the
router's DDNS turned on and waited for. One connection per apply, opened at the first step."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ..clients.router import RouterClient, RouterError, RouterUnreachable
from ..config import Config
from ..connect import router_client
from ..plans import Step
from ..plans.actions import Action, CloudDdns, RouterAdd, RouterOrder, RouterRemove, RouterSet
from .common import StepError

DDNS_POLL = 0.5  # seconds between reads of /ip/cloud while DDNS comes up


class RouterExecutor:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._client: RouterClient | None = None
        self._opening = asyncio.Lock()

    async def client(self) -> RouterClient:
        async with self._opening:
            if self._client is None:
                self._client = await router_client(self.config)
            return self._client

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    async def execute(self, step: Step, action: Action, context, output: Callable[[str], None]) -> None:
        do = {RouterAdd: self._add, RouterSet: self._set, RouterRemove: self._remove, RouterOrder: self._order,
              CloudDdns: self._ddns}.get(type(action))
        if do is None:
            raise StepError(f"a router step cannot {type(action).__name__}")
        try:
            await do(await self.client(), action, output)
        except RouterError as error:
            raise StepError(str(error)) from None

    @staticmethod
    async def _one(router: RouterClient, menu: str, comment: str) -> str | None:
        """The .id of the one item with this comment; None when there is none; a conflict when more."""
        ids = await router.find_by_comment(menu, comment)
        if len(ids) > 1:
            raise StepError(f"{len(ids)} items of {menu} carry {comment} ({', '.join(ids)}); homelab-tui never "
                            "picks one: remove the copies by hand")
        return ids[0] if ids else None

    async def _where(self, router: RouterClient, menu: str, before: str) -> str | None:
        """The .id `before` names: a `*ID` as it is (if it still exists), else the item with that comment."""
        if not before:
            return None
        if before.startswith("*"):
            ids = {row[".id"] for row in await router.print(menu, proplist=(".id",))}
            return before if before in ids else None
        return await self._one(router, menu, before)

    async def _add(self, router: RouterClient, action: RouterAdd, output: Callable[[str], None]) -> None:
        if await self._one(router, action.menu, action.comment):
            raise StepError(f"{action.comment} is already on the router (added meanwhile?); plan again")
        before = await self._where(router, action.menu, action.before)
        try:
            item_id = await router.add(action.menu, dict(action.fields), place_before=before)
        except RouterUnreachable as lost:
            # The router may have made the rule before the connection went: with no answer, the
            # step failed, and a rule it made would outlive the rollback. Look, on a new connection.
            try:
                made = await router.find_by_comment(action.menu, action.comment)
                if made:
                    await router.remove(action.menu, *made)
            except RouterError:
                raise StepError(f"{lost}; {action.comment} may be on the router: check it by hand") from None
            raise StepError(f"{lost}" + (f"; the rule it had made ({', '.join(made)}) was removed" if made else
                                         "; the rule was not made")) from None
        output(f"{action.menu}: added {item_id} {action.comment}" + (f" before {before}" if before else ""))

    async def _set(self, router: RouterClient, action: RouterSet, output: Callable[[str], None]) -> None:
        item_id = await self._one(router, action.menu, action.comment)
        if item_id is None:
            raise StepError(f"{action.comment} is gone from {action.menu} (removed by hand?); plan again")
        if action.fields:
            await router.set(action.menu, item_id, dict(action.fields))
            output(f"{action.menu}: set {item_id} " + " ".join(f"{k}={v}" for k, v in action.fields))

    async def _remove(self, router: RouterClient, action: RouterRemove, output: Callable[[str], None]) -> None:
        item_id = await self._one(router, action.menu, action.comment)
        if item_id is None:
            output(f"{action.menu}: {action.comment} was already gone")
            return
        await router.remove(action.menu, item_id)
        output(f"{action.menu}: removed {item_id} {action.comment}")

    async def _order(self, router: RouterClient, action: RouterOrder, output: Callable[[str], None]) -> None:
        """Read the order back; when ours are not together, in order, before `before`, move them."""
        rows = await router.print(action.menu, proplist=(".id", "comment"))
        position = {row.get("comment", ""): index for index, row in enumerate(rows)}
        ids = {row.get("comment", ""): row[".id"] for row in rows}
        missing = [comment for comment in action.comments if comment not in ids]
        if missing:
            raise StepError(f"{', '.join(missing)} missing from {action.menu} after the adds")
        before = await self._where(router, action.menu, action.before)
        places = [position[comment] for comment in action.comments]
        limit = next((i for i, row in enumerate(rows) if row[".id"] == before), len(rows)) if before else len(rows)
        if places == sorted(places) and places[-1] < limit:
            output(f"{action.menu}: ours stand in order" + (f" before {before}" if before else ""))
            return
        await router.move(action.menu, [ids[comment] for comment in action.comments], before)
        output(f"{action.menu}: moved {', '.join(ids[c] for c in action.comments)}" + (f" before {before}" if before
                                                                                          else ""))

    async def _ddns(self, router: RouterClient, action: CloudDdns, output: Callable[[str], None]) -> None:
        await router.set_ddns(action.enabled)
        if not action.enabled:
            output("DDNS turned off")
            return
        give_up = time.monotonic() + action.timeout
        while True:
            cloud = await router.cloud()
            if cloud.dns_name and cloud.public_address and cloud.status.lower().startswith("updated"):
                output(f"DDNS: {cloud.dns_name} → {cloud.public_address}")
                return
            if cloud.warning:
                raise StepError(f"/ip cloud warns: {cloud.warning}")
            if time.monotonic() > give_up:
                raise StepError(f"DDNS did not report a name within {action.timeout:g} s (status: "
                                f"{cloud.status or 'none'})")
            await asyncio.sleep(DDNS_POLL)
