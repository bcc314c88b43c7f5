"""A design in a link: its JSON, compressed and base64url-encoded, for a URL that opens the page
with the design filled in (as TensorFlow Playground's links do). Reading a token back never
inflates more than a design may be long (no zip bomb) and checks it as any design text."""

from __future__ import annotations

import base64
import binascii
import json
import zlib

from ..errors import ConfigError
from .design import MAX_JSON_CHARS, load_layers

MAX_TOKEN_CHARS = 20_000  # a URL of a few tens of kB still opens in every browser


def design_to_token(layers: list) -> str:
    text = json.dumps(layers, separators=(",", ":"), ensure_ascii=False)
    packed = zlib.compress(text.encode("utf-8"), 9)
    return base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def design_from_token(token: str) -> list:
    """The layer list a token holds; a ConfigError for anything that is not one."""
    bad = ConfigError("The link's design is damaged (cut short or changed); open the design again from its page.")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise bad
    try:
        packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        inflate = zlib.decompressobj()
        raw = inflate.decompress(packed, MAX_JSON_CHARS * 4 + 1)  # UTF-8: up to 4 bytes a character
        if len(raw) > MAX_JSON_CHARS * 4 or inflate.unconsumed_tail or not inflate.eof:
            raise bad
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError, zlib.error, UnicodeDecodeError):
        raise bad from None
    return load_layers(text)
