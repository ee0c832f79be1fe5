"""Channel configuration: pydantic models, a discriminated union on ``type``.

Secrets (a Slack webhook URL, an SMTP password) are ``SecretStr``, so a repr shows
``**********``, or are named by an environment variable read at send time. Pydantic errors
echo their input, so secrets are wrapped in ``SecretStr`` *before* anything can fail (see
``_wrap_secrets``), and every check runs at field level, where the input it would echo is not
a secret. Only ``error["msg"]`` and ``error["loc"]`` are meant for people.
"""

from __future__ import annotations

import os
from email.headerregistry import Address
from email.policy import default as default_policy
from typing import Annotated, Any, Literal
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

SECRET_KEYS = frozenset({"webhook_url", "password"})

# Names end up in the deliveries table (String(100)) and in logs; keep them plain.
ChannelName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]


def _wrap_secrets(data: Any) -> Any:
    """Turn secret values into ``SecretStr`` so no validation error can print them."""
    if not isinstance(data, dict):
        return data
    return {
        k: SecretStr(v) if k in SECRET_KEYS and isinstance(v, str) else v for k, v in data.items()
    }


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
    webhook_url_env: EnvName | None = Field(default=None, validate_default=True)
    timeout_s: float = Field(default=10.0, gt=0, le=300)

    @field_validator("webhook_url")
    @classmethod
    def _web_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _is_web_url(value.get_secret_value()):
            raise ValueError("webhook_url must be an http(s) URL")  # never echo the value
        return value

    @field_validator("webhook_url_env")
    @classmethod
    def _exactly_one(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "webhook_url" in info.data and (info.data["webhook_url"] is None) == (value is None):
            raise ValueError("give exactly one of webhook_url or webhook_url_env")
        return value


class EmailChannel(_Channel):
    """An SMTP submission server: STARTTLS (587), implicit TLS (465) or plain (``none``)."""

    type: Literal["email"] = "email"
    name: ChannelName
    host: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:_-]+$")
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = Field(default=None, min_length=1, max_length=256)
    password: SecretStr | None = None
    password_env: EnvName | None = Field(default=None, validate_default=True)
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

    @field_validator("password_env")
    @classmethod
    def _credentials(cls, value: str | None, info: ValidationInfo) -> str | None:
        data = info.data
        if not {"username", "password", "security"} <= data.keys():
            return value  # an earlier field failed and is reported already
        password, username = data["password"], data["username"]
        if password is not None and value is not None:
            raise ValueError("give at most one of password or password_env")
        has_password = password is not None or value is not None
        if has_password and not username:
            raise ValueError("a password needs a username")
        if username and not has_password:
            raise ValueError("username is set: give password or password_env")
        if username and data["security"] == "none":
            raise ValueError('refusing to send a password without TLS: use security "starttls"')
        return value


ChannelConfig = Annotated[
    ConsoleChannel | SlackChannel | EmailChannel,
    Field(discriminator="type"),
    # Runs before the union picks a model: a bad or missing "type" echoes the whole table.
    BeforeValidator(_wrap_secrets),
]


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


def webhook_url(channel: SlackChannel) -> str:
    """The webhook URL, from the config or the environment (DeliveryError if unset)."""
    if channel.webhook_url is not None:
        return channel.webhook_url.get_secret_value()
    assert channel.webhook_url_env is not None  # guaranteed by validation
    return _from_env(describe(channel), channel.webhook_url_env)


def smtp_password(channel: EmailChannel) -> str | None:
    """The SMTP password, from the config or the environment (DeliveryError if unset)."""
    if channel.password is not None:
        return channel.password.get_secret_value()
    if channel.password_env is not None:
        return _from_env(describe(channel), channel.password_env)
    return None


def check_secrets(channel: ConsoleChannel | SlackChannel | EmailChannel) -> None:
    """Raise ``DeliveryError`` now if a secret the channel reads from the environment is unset.

    Call at start-up to refuse a broken config early instead of failing every delivery.
    """
    if isinstance(channel, SlackChannel):
        webhook_url(channel)
    elif isinstance(channel, EmailChannel):
        smtp_password(channel)


def describe(channel: ConsoleChannel | SlackChannel | EmailChannel) -> str:
    """A one-line description for listings and errors; never includes a secret."""
    if isinstance(channel, ConsoleChannel):
        return f"console {channel.name!r}"
    if isinstance(channel, SlackChannel):
        if channel.webhook_url_env is not None:
            return f"slack {channel.name!r} (webhook from ${channel.webhook_url_env})"
        assert channel.webhook_url is not None
        parts = urlsplit(channel.webhook_url.get_secret_value())
        return f"slack {channel.name!r} (webhook {parts.scheme}://{parts.hostname}/…/****)"
    auth = f", user {channel.username}" if channel.username else ""
    if channel.password_env is not None:
        auth += f", password from ${channel.password_env}"
    to = ", ".join(channel.recipients)
    return (
        f"email {channel.name!r} ({channel.security} {channel.host}:{channel.port}{auth}, to {to})"
    )
