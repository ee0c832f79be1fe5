"""Text for artifacts: page-derived text escaped for Markdown, secrets scrubbed.

Artifacts are stored on the Prefect server and shown to whoever can open the UI, so they
get the same care as alerts: a headline is data, never markup, and no credential (webhook
URL, token, password, a URL's userinfo or secret-looking query value) reaches them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from alerts import render_markdown
from alerts.errors import MASK, redact, url_secrets
from newswatch.config import Settings

_SECRET_QUERY = re.compile(
    r"(?i)([?&](?:[^=&#\s]*(?:token|key|secret|password|passwd|pwd|sig|signature|auth)"
    r"[^=&#\s]*)=)[^&#\s]*"
)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")


def settings_secrets(settings: Settings) -> list[str]:
    """Every secret the configuration holds or points at, in each form it may show up in."""
    found: list[str] = []
    for channel in settings.channels.values():
        for field_name, value in channel:
            if isinstance(value, SecretStr):
                found += url_secrets(value.get_secret_value())
            elif field_name.endswith("_env") and isinstance(value, str):
                found += url_secrets(os.environ.get(value, ""))
    try:
        password = make_url(settings.database_url).password
    except Exception:  # an unparsable URL fails the run elsewhere; nothing to mask here
        password = None
    if password:
        found.append(str(password))
    return [s for s in found if len(s) > 1]


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without known secrets, URL credentials or secret-looking query values."""
    text = redact(text, secrets)
    text = _USERINFO.sub(rf"\g<1>{MASK}@", text)
    return _SECRET_QUERY.sub(rf"\g<1>{MASK}", text)


def md_link(text: str, url: str, secrets: Iterable[str] = ()) -> str:
    """`alerts.render_markdown.md_link` of the scrubbed text and URL."""
    return render_markdown.md_link(scrub(text, secrets), scrub(url, secrets))
