"""Pure rendering of an ``AlertMessage`` for every channel, gathered in one import.

Each target lives in its own small module (``render_slack``, ``render_email``,
``render_console``); shared cleaning and truncation are in ``text``.
"""

from .render_console import console_renderable
from .render_email import email_html, email_subject, email_text
from .render_slack import mrkdwn_escape, slack_payload

__all__ = [
    "console_renderable",
    "email_html",
    "email_subject",
    "email_text",
    "mrkdwn_escape",
    "slack_payload",
]
