"""Channel secrets kept in Prefect Secret blocks, loaded just before delivery.

A channel may name a block instead of holding a secret (``webhook_url_secret_block =
"slack-webhook"``, ``password_secret_block``, ``url_secret_block``,
``secret_headers_secret_block``, ``token_secret_block``). Only flows/ imports Prefect, so the
block is read here and the channel handed to alerts/ is a copy with the value filled in (as a
``SecretStr``, masked in every repr) and the block reference cleared. A block that cannot be
read leaves the channel as it was: its deliveries fail as retryable and are tried again on a
later run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from prefect.blocks.system import Secret
from pydantic import SecretStr

from alerts.channels import ChannelConfig, describe

# (field naming the block, field the value goes to)
BLOCK_FIELDS = (
    ("webhook_url_secret_block", "webhook_url"),
    ("password_secret_block", "password"),
    ("url_secret_block", "url"),
    ("secret_headers_secret_block", "secret_headers"),
    ("token_secret_block", "token"),
)


def load_secret(block_name: str) -> str:
    """The value of a Prefect Secret block, as text (a JSON value is serialised)."""
    # _sync: a sync load even when called from a thread of an async flow.
    block: Secret[Any] = Secret.load(block_name, _sync=True)  # type: ignore[call-arg,assignment]
    value = block.get()
    return value if isinstance(value, str) else json.dumps(value)


def resolve_channel_secrets(
    channels: Mapping[str, ChannelConfig],
    *,
    warn: Callable[[str], None] = lambda _: None,
    loader: Callable[[str], str] = load_secret,
) -> dict[str, ChannelConfig]:
    """Channels with every Secret block reference replaced by the block's value."""
    resolved: dict[str, ChannelConfig] = {}
    for name, channel in channels.items():
        updates: dict[str, object] = {}
        for block_field, target in BLOCK_FIELDS:
            block = getattr(channel, block_field, None)
            if not block:
                continue
            try:
                value = loader(block)
            except Exception as exc:  # missing block, API down: deliveries retry later
                # The block's *name* is config, not a secret; the error text may say why.
                reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                warn(f"{describe(channel)}: cannot load Secret block {block!r}: {reason}")
                updates = {}
                break
            updates[target] = SecretStr(value)
            updates[block_field] = None
        resolved[name] = channel.model_copy(update=updates) if updates else channel
    return resolved
