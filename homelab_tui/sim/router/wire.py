"""The RouterOS API wire format (RouterOS API manual): a sentence is a list of words ended by an
empty word; each word is a length prefix of 1-5 bytes followed by the bytes. The sim keeps words
as str, decoded so that any byte round-trips."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

# Words are bytes on the wire; the sim keeps them as str, decoded so any byte round-trips.
WIRE_ENCODING = "utf-8"
WIRE_ERRORS = "surrogateescape"
MAX_WORD_LENGTH = 0xFFFFFFFF


class WireError(Exception):
    """The peer sent bytes that are not a valid API word."""


def encode_length(length: int) -> bytes:
    """The 1-5 byte length prefix of a word of `length` bytes."""
    if length < 0:
        raise ValueError(f"negative word length {length}")
    if length < 0x80:
        return length.to_bytes(1, "big")
    if length < 0x4000:
        return (length | 0x8000).to_bytes(2, "big")
    if length < 0x200000:
        return (length | 0xC00000).to_bytes(3, "big")
    if length < 0x10000000:
        return (length | 0xE0000000).to_bytes(4, "big")
    if length <= MAX_WORD_LENGTH:
        return b"\xf0" + length.to_bytes(4, "big")
    raise ValueError(f"word length {length} does not fit the API encoding")


def prefix_size(first_byte: int) -> int:
    """How many bytes the length prefix starting with `first_byte` has in total."""
    for size, limit in ((1, 0x80), (2, 0xC0), (3, 0xE0), (4, 0xF0), (5, 0xF8)):
        if first_byte < limit:
            return size
    raise WireError(f"reserved control byte 0x{first_byte:02x}")


def decode_length(prefix: bytes) -> int:
    """Inverse of `encode_length`; `prefix` must be exactly the prefix bytes."""
    size = prefix_size(prefix[0])
    if len(prefix) != size:
        raise WireError(f"length prefix needs {size} bytes, got {len(prefix)}")
    if size == 5:
        return int.from_bytes(prefix[1:], "big")
    value_bits = {1: 0x7F, 2: 0x3FFF, 3: 0x1FFFFF, 4: 0xFFFFFFF}[size]
    return int.from_bytes(prefix, "big") & value_bits


def encode_word(word: str) -> bytes:
    data = word.encode(WIRE_ENCODING, WIRE_ERRORS)
    return encode_length(len(data)) + data


def encode_sentence(words: Sequence[str]) -> bytes:
    return b"".join(encode_word(word) for word in words) + b"\x00"


async def read_word(reader: asyncio.StreamReader) -> str:
    prefix = await reader.readexactly(1)
    size = prefix_size(prefix[0])
    if size > 1:
        prefix += await reader.readexactly(size - 1)
    length = decode_length(prefix)
    data = await reader.readexactly(length) if length else b""
    return data.decode(WIRE_ENCODING, WIRE_ERRORS)


async def read_sentence(reader: asyncio.StreamReader) -> list[str]:
    words: list[str] = []
    while word := await read_word(reader):
        words.append(word)
    return words
