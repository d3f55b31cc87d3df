"""`--accept-new-host-keys`, for `check` and the wizards' twins alike: a host key seen for the first
time is trusted after its fingerprint is printed (like OpenSSH's accept-new); without the flag it
is refused, and a changed key always is."""

from __future__ import annotations

from typing import TextIO

from ..clients.ssh import HostKeyUnknown, TrustHook


def new_host_keys(accept: bool, out: TextIO, what: str = "") -> TrustHook:
    """The hook; `what` goes before the host's name in what it prints ("node ")."""

    async def trust(unknown: HostKeyUnknown) -> bool:
        if accept:
            print(f"{what}{unknown.host}: trusting new host key {unknown.fingerprint} (--accept-new-host-keys)",
                  file=out, flush=True)
        return accept

    return trust
