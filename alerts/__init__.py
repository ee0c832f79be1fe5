"""Alerts: render an ``AlertMessage`` (``render``) and deliver it on a channel (``channels``).

Modules: ``message`` (the data), ``text`` (cleaning/truncation), ``render_slack``,
``render_email``, ``render_console`` (pure renderers, gathered in ``render``),
``channel_config`` (pydantic config), ``send_slack`` / ``send_slack_api`` / ``send_email`` /
``send_webhook`` / ``send_apprise`` (transports), ``errors`` (``DeliveryError``, ``redact``),
``outbox`` (claiming and retrying deliveries).
"""
