"""Real local servers for tests: a Slack incoming-webhook receiver and an SMTP server.

- ``slack_receiver.SlackReceiver``: HTTP on 127.0.0.1 speaking Slack's webhook contract.
- ``slack_api_receiver.SlackApiReceiver``: HTTP on 127.0.0.1 speaking Slack's Web API
  (``chat.postMessage`` with a bot token).
- ``smtp_server.SmtpServer``: aiosmtpd with STARTTLS (or implicit TLS) and AUTH.

Both are context managers that bind a free port on 127.0.0.1 and stop on exit.
"""
