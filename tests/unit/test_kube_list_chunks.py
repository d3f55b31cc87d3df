"""clients.kube.list_chunks: a List's items a piece at a time, exactly the items a whole parse
gives, whatever the JSON's spacing, order of keys, or look-alike text inside the items."""

from __future__ import annotations

import json

import orjson
import pytest

from homelab_tui.clients.kube import list_chunks


def pieces(body: bytes, **options) -> tuple[list[list[dict]], dict | None]:
    chunks, envelope = [], None
    for items, rest in list_chunks(body, **options):
        chunks.append(items)
        envelope = rest if rest is not None else envelope
    return chunks, envelope


ITEMS = [{"metadata": {"name": f"pod-{i}", "annotations": {"note": '}, {"metadata": ' * (i % 3)}},
          "spec": {"containers": [{"metadata": 1}, {"name": "b"}]}} for i in range(200)]


@pytest.mark.parametrize("separators", [None, (",", ":")], ids=["python", "compact"])
@pytest.mark.parametrize("items_last", [True, False], ids=["items-last", "items-first"])
@pytest.mark.parametrize("chunk_bytes", [1, 500, 1 << 20])
def test_the_items_and_the_list_are_those_of_a_whole_parse(separators, items_last, chunk_bytes):
    envelope = {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "42"}}
    listing = {**envelope, "items": ITEMS} if items_last else {"items": ITEMS, **envelope}
    body = json.dumps(listing, separators=separators).encode()
    chunks, rest = pieces(body, chunk_bytes=chunk_bytes)
    assert [item for chunk in chunks for item in chunk] == ITEMS
    assert rest == envelope
    if chunk_bytes == 500:
        assert len(chunks) > 10  # in pieces, not one whole parse
    assert pieces(bytearray(body), chunk_bytes=chunk_bytes) == (chunks, rest)


@pytest.mark.parametrize("body", [b'{"kind":"PodList","metadata":{"resourceVersion":"1"},"items":[]}',
                                  b'{"kind":"PodList","metadata":{"resourceVersion":"1"},"items":null}',
                                  b'{"kind":"PodList","metadata":{"resourceVersion":"1"}}',
                                  b'{"items":[{"a":1},{"a":2}],"metadata":{"resourceVersion":"1","x":[1]}}'])
def test_odd_lists_fall_back_to_a_whole_parse(body):
    chunks, rest = pieces(body, chunk_bytes=1)
    whole = orjson.loads(body)
    assert [item for chunk in chunks for item in chunk] == (whole.pop("items", None) or [])
    assert rest == whole
