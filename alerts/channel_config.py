"""Channel configuration: pydantic models, a discriminated union on ``type``.

Secrets (a Slack webhook URL or bot token, an SMTP password, an Apprise or webhook URL) are
``SecretStr``, so a repr shows ``**********``; or are named by an environment variable read at
send time (``*_env``); or by a Prefect Secret block (``*_secret_block``), which
``flows/secrets.py`` loads into the channel before delivery (this room does not import Prefect).
Pydantic errors echo their input, so secrets are wrapped in ``SecretStr`` *before* anything can
fail (see ``_wrap_secrets``), and every check runs at field level, where the input it would echo
is not a secret. Only ``error["msg"]`` and ``error["loc"]`` are meant for people.
"""

from __future__ import annotations

import json
import os
import re
from email.headerregistry import Address
from email.policy import default as default_policy
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .errors import DeliveryError

SECRET_KEYS = frozenset({"webhook_url", "password", "url", "token"})

# Names end up in the deliveries table (String(100)) and in logs; keep them plain.
ChannelName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
# Prefect block names: lowercase letters, digits and dashes.
BlockName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")]
# A Slack channel ID (C0123ABCD) or name (#alerts, alerts): not a secret.
SlackChannelRef = Annotated[str, Field(pattern=r"^#?[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")]
# xoxb- (bot) or xoxp- (user) and the like; the check also keeps line breaks out of a header.
_SLACK_TOKEN = re.compile(r"^xox[a-z]-[A-Za-z0-9-]{1,250}$")
DEFAULT_SLACK_API_URL = "https://slack.com/api"


def _wrap_secrets(data: Any) -> Any:
    """Turn secret values into ``SecretStr`` so no validation error can print them."""
    if not isinstance(data, dict):
        return data
    wrapped = {
        k: SecretStr(v) if k in SECRET_KEYS and isinstance(v, str) else v for k, v in data.items()
    }
    headers = wrapped.get("headers")
    if isinstance(headers, dict):  # header values are often tokens
        wrapped["headers"] = {
            k: SecretStr(v) if isinstance(v, str) else v for k, v in headers.items()
        }
    return wrapped


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    @model_validator(mode="before")
    @classmethod
    def _mask_input(cls, data: Any) -> Any:
        # An unknown key may be a misspelt secret ("webhook = ..."): its extra_forbidden
        # error would echo the value, so the value is masked (the key is still reported).
        data = _wrap_secrets(data)
        if isinstance(data, dict):
            data = {k: v if k in cls.model_fields else "<hidden>" for k, v in data.items()}
        return data


class ConsoleChannel(_Channel):
    """Print alerts to the terminal (the default channel)."""

    type: Literal["console"] = "console"
    name: ChannelName = "console"


class SlackChannel(_Channel):
    """A Slack incoming webhook: give ``webhook_url`` or ``webhook_url_env``, not both."""

    type: Literal["slack"] = "slack"
    name: ChannelName
    webhook_url: SecretStr | None = None
    # Read when sending: a rotated URL needs no config change, and the file holds no secret.
    webhook_url_env: EnvName | None = None
    webhook_url_secret_block: BlockName | None = Field(default=None, validate_default=True)
    timeout_s: float = Field(default=10.0, gt=0, le=300)

    @field_validator("webhook_url")
    @classmethod
    def _web_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _is_web_url(value.get_secret_value()):
            raise ValueError("webhook_url must be an http(s) URL")  # never echo the value
        return value

    @field_validator("webhook_url_secret_block")
    @classmethod
    def _exactly_one(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _one_source(info, "webhook_url", value)


class SlackBotChannel(_Channel):
    """Slack's Web API (``chat.postMessage``) with a bot token: one of ``token``,
    ``token_env``, ``token_secret_block``. The same Block Kit message as ``slack``."""

    type: Literal["slack_bot"] = "slack_bot"
    name: ChannelName
    channel: SlackChannelRef
    token: SecretStr | None = None
    token_env: EnvName | None = None
    token_secret_block: BlockName | None = Field(default=None, validate_default=True)
    api_url: str = DEFAULT_SLACK_API_URL  # tests point it at a local receiver
    timeout_s: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="before")
    @classmethod
    def _token_as_channel(cls, data: Any) -> Any:
        # A token pasted as the channel would be echoed by errors and descriptions: hide it.
        if isinstance(data, dict):
            value = data.get("channel")
            if isinstance(value, str) and _SLACK_TOKEN.match(value):
                data = {**data, "channel": SecretStr(value)}
        return data

    @field_validator("channel", mode="before")
    @classmethod
    def _not_a_token(cls, value: Any) -> Any:
        if isinstance(value, SecretStr):
            raise ValueError(
                "channel holds a Slack token: give the channel ID, the token in token_env"
            )
        return value

    @field_validator("token")
    @classmethod
    def _slack_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _SLACK_TOKEN.match(value.get_secret_value()):
            raise ValueError("token must be a Slack bot token (xoxb-...)")  # never echo it
        return value

    @field_validator("api_url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        if not _is_web_url(value):
            raise ValueError("api_url must be an http(s) URL")
        return value

    @field_validator("token_secret_block")
    @classmethod
    def _exactly_one(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _one_source(info, "token", value)


class EmailChannel(_Channel):
    """An SMTP submission server: STARTTLS (587), implicit TLS (465) or plain (``none``)."""

    type: Literal["email"] = "email"
    name: ChannelName
    host: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:_-]+$")
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = Field(default=None, min_length=1, max_length=256)
    password: SecretStr | None = None
    password_env: EnvName | None = None
    password_secret_block: BlockName | None = Field(default=None, validate_default=True)
    sender: str
    recipients: list[str] = Field(min_length=1, max_length=100)
    ca_file: str | None = None  # an extra CA to trust (self-signed servers, tests)
    timeout_s: float = Field(default=20.0, gt=0, le=300)
    local_hostname: str | None = None  # EHLO name; None asks the OS (may do a DNS lookup)

    @field_validator("sender")
    @classmethod
    def _sender_address(cls, value: str) -> str:
        parse_address(value)
        return value

    @field_validator("recipients")
    @classmethod
    def _recipient_addresses(cls, value: list[str]) -> list[str]:
        for item in value:
            parse_address(item)
        return value

    @field_validator("password_secret_block")
    @classmethod
    def _credentials(cls, value: str | None, info: ValidationInfo) -> str | None:
        data = info.data
        if not {"username", "password", "password_env", "security"} <= data.keys():
            return value  # an earlier field failed and is reported already
        given = [data["password"], data["password_env"], value]
        username = data["username"]
        if sum(v is not None for v in given) > 1:
            raise ValueError("give at most one of password, password_env or password_secret_block")
        has_password = any(v is not None for v in given)
        if has_password and not username:
            raise ValueError("a password needs a username")
        if username and not has_password:
            raise ValueError(
                "username is set: give password, password_env or password_secret_block"
            )
        if username and data["security"] == "none":
            raise ValueError('refusing to send a password without TLS: use security "starttls"')
        return value


class AppriseChannel(_Channel):
    """Any service Apprise knows (Teams, Discord, Telegram, ntfy, ...), by Apprise URL.

    ``url`` may hold several URLs separated by spaces or commas; Apprise URLs carry tokens,
    so the value is a secret like a webhook URL. The alert is sent as plain text (title and
    body), which Apprise escapes for services that take HTML or Markdown.
    """

    type: Literal["apprise"] = "apprise"
    name: ChannelName
    url: SecretStr | None = None
    url_env: EnvName | None = None
    url_secret_block: BlockName | None = Field(default=None, validate_default=True)

    @field_validator("url_secret_block")
    @classmethod
    def _exactly_one(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _one_source(info, "url", value)


class WebhookChannel(_Channel):
    """POST a documented JSON document (see ``alerts.render_json``) to any HTTP endpoint.

    ``headers`` are sent as given (masked in reprs and errors all the same);
    ``secret_headers_env`` or ``secret_headers_secret_block`` name a JSON object of headers
    kept out of the config file (an ``Authorization`` token, say), merged over ``headers``.
    """

    type: Literal["webhook"] = "webhook"
    name: ChannelName
    url: SecretStr | None = None
    url_env: EnvName | None = None
    url_secret_block: BlockName | None = Field(default=None, validate_default=True)
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    secret_headers_env: EnvName | None = None
    secret_headers_secret_block: BlockName | None = None
    # Filled in by flows/secrets.py from the block: a JSON object, never written in a config.
    secret_headers: SecretStr | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _web_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _is_web_url(value.get_secret_value()):
            raise ValueError("url must be an http(s) URL")  # never echo the value
        return value

    @field_validator("url_secret_block")
    @classmethod
    def _exactly_one(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _one_source(info, "url", value)

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, text in value.items():
            _check_header(name, text.get_secret_value())
        return value


AnyChannel = (
    ConsoleChannel | SlackChannel | SlackBotChannel | EmailChannel | AppriseChannel | WebhookChannel
)
ChannelConfig = Annotated[
    AnyChannel,
    Field(discriminator="type"),
    # Runs before the union picks a model: a bad or missing "type" echoes the whole table.
    BeforeValidator(_wrap_secrets),
]

# The ``type`` tags, e.g. for telling a tag from a key in a validation error's location.
CHANNEL_TYPES = frozenset(m.model_fields["type"].default for m in get_args(AnyChannel))


def _one_source(info: ValidationInfo, field: str, block: str | None) -> str | None:
    """Exactly one of ``field``, ``field_env`` and ``field_secret_block`` is given."""
    data = info.data
    if field not in data or f"{field}_env" not in data:
        return block  # an earlier field failed and is reported already
    given = [data[field], data[f"{field}_env"], block]
    if sum(v is not None for v in given) != 1:
        raise ValueError(f"give exactly one of {field}, {field}_env or {field}_secret_block")
    return block


_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")


def _check_header(name: str, value: str) -> None:
    if not _HEADER_NAME.match(name):
        raise ValueError(f"not a valid HTTP header name: {name!r}")
    if any(c in value for c in "\r\n\0"):
        raise ValueError(f"header {name}: a value cannot contain line breaks")


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def parse_address(value: str) -> Address:
    """Parse one mailbox (``a@b.org`` or ``Name <a@b.org>``) or raise ValueError."""
    if any(c in value for c in "\r\n\0"):
        raise ValueError("an email address cannot contain line breaks")
    header = default_policy.header_factory("To", value)
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    if header.defects or len(addresses) != 1 or not addresses[0].username:
        raise ValueError(f"not a single valid email address: {value!r}")
    if not addresses[0].domain:
        raise ValueError(f"not a single valid email address: {value!r}")
    return addresses[0]


def _from_env(label: str, variable: str) -> str:
    value = os.environ.get(variable, "").strip()
    if not value:
        # Permanent: the process environment will not change before the next attempt.
        raise DeliveryError(
            f"{label}: environment variable ${variable} is not set", retryable=False
        )
    return value


def _secret(
    channel: AnyChannel, value: SecretStr | None, env: str | None, block: str | None
) -> str | None:
    if value is not None:
        return value.get_secret_value()
    if env is not None:
        return _from_env(describe(channel), env)
    if block is not None:
        # flows/secrets.py replaces the block name by its value before delivery; if it could
        # not (no Prefect API, block missing), the block may appear later: retry.
        raise DeliveryError(
            f"{describe(channel)}: Prefect Secret block {block!r} was not loaded", retryable=True
        )
    return None


def webhook_url(channel: SlackChannel) -> str:
    """The webhook URL, from the config, the environment or a Secret block (else DeliveryError)."""
    url = _secret(
        channel, channel.webhook_url, channel.webhook_url_env, channel.webhook_url_secret_block
    )
    assert url is not None  # one source is guaranteed by validation
    return url


def bot_token(channel: SlackBotChannel) -> str:
    """The bot token, from the config, the environment or a Secret block (else DeliveryError)."""
    token = _secret(channel, channel.token, channel.token_env, channel.token_secret_block)
    assert token is not None  # one source is guaranteed by validation
    if not _SLACK_TOKEN.match(token):  # from the environment or a block: not validated yet
        raise DeliveryError(
            f"{describe(channel)}: the token is not a Slack bot token (xoxb-...)", retryable=False
        )
    return token


def smtp_password(channel: EmailChannel) -> str | None:
    """The SMTP password, if the channel authenticates (DeliveryError if it cannot be read)."""
    return _secret(channel, channel.password, channel.password_env, channel.password_secret_block)


def target_url(channel: AppriseChannel | WebhookChannel) -> str:
    """The Apprise URL(s) or the webhook URL (DeliveryError if it cannot be read)."""
    url = _secret(channel, channel.url, channel.url_env, channel.url_secret_block)
    assert url is not None  # one source is guaranteed by validation
    return url


def webhook_headers(channel: WebhookChannel) -> tuple[dict[str, str], list[str]]:
    """All headers to send, and the secret values among them (to mask in errors)."""
    raw = _secret(
        channel,
        channel.secret_headers,
        channel.secret_headers_env,
        channel.secret_headers_secret_block,
    )
    plain = {k: v.get_secret_value() for k, v in channel.headers.items()}
    if raw is None:
        return plain, list(plain.values())
    label = describe(channel)
    try:
        secret = json.loads(raw)
    except ValueError:
        raise DeliveryError(
            f"{label}: secret headers are not a JSON object", retryable=False
        ) from None
    if not isinstance(secret, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in secret.items()
    ):
        raise DeliveryError(
            f"{label}: secret headers are not a JSON object of strings", retryable=False
        )
    for name, value in secret.items():
        try:
            _check_header(name, value)
        except ValueError:
            raise DeliveryError(
                f"{label}: secret header {name!r} is invalid", retryable=False
            ) from None
    return {**plain, **secret}, [*plain.values(), *secret.values()]


def check_secrets(channel: AnyChannel) -> None:
    """Raise ``DeliveryError`` now if a secret the channel reads from the environment is unset.

    Call at start-up to refuse a broken config early instead of failing every delivery.
    """
    if isinstance(channel, SlackChannel):
        webhook_url(channel)
    elif isinstance(channel, SlackBotChannel):
        bot_token(channel)
    elif isinstance(channel, EmailChannel):
        smtp_password(channel)
    elif isinstance(channel, AppriseChannel):
        target_url(channel)
    elif isinstance(channel, WebhookChannel):
        target_url(channel)
        webhook_headers(channel)


def _masked_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "****"
    return f"{parts.scheme}://{host}/…/****" if host else f"{parts.scheme}://****"


def _source(field: str, value: SecretStr | None, env: str | None, block: str | None) -> str:
    if env is not None:
        return f"{field} from ${env}"
    if block is not None:
        return f"{field} from Secret block {block!r}"
    assert value is not None
    return f"{field} {_masked_url(value.get_secret_value())}"


def describe(channel: AnyChannel) -> str:
    """A one-line description for listings and errors; never includes a secret."""
    if isinstance(channel, ConsoleChannel):
        return f"console {channel.name!r}"
    if isinstance(channel, SlackChannel):
        where = _source(
            "webhook",
            channel.webhook_url,
            channel.webhook_url_env,
            channel.webhook_url_secret_block,
        )
        return f"slack {channel.name!r} ({where})"
    if isinstance(channel, SlackBotChannel):
        if channel.token is not None:
            where = f"token {channel.token.get_secret_value()[:4]}-****"  # xoxb-, not secret
        else:
            where = _source("token", None, channel.token_env, channel.token_secret_block)
        return f"slack_bot {channel.name!r} ({channel.channel}, {where})"
    if isinstance(channel, AppriseChannel):
        if channel.url is not None:
            schemes = sorted(
                {
                    u.split("://", 1)[0]
                    for u in re.split(r"[\s,]+", channel.url.get_secret_value())
                    if "://" in u
                }
            )
            return f"apprise {channel.name!r} ({', '.join(s + '://****' for s in schemes)})"
        where = _source("url", None, channel.url_env, channel.url_secret_block)
        return f"apprise {channel.name!r} ({where})"
    if isinstance(channel, WebhookChannel):
        where = _source("url", channel.url, channel.url_env, channel.url_secret_block)
        return f"webhook {channel.name!r} ({where})"
    auth = f", user {channel.username}" if channel.username else ""
    if channel.password_env is not None:
        auth += f", password from ${channel.password_env}"
    elif channel.password_secret_block is not None:
        auth += f", password from Secret block {channel.password_secret_block!r}"
    to = ", ".join(channel.recipients)
    return (
        f"email {channel.name!r} ({channel.security} {channel.host}:{channel.port}{auth}, to {to})"
    )
