"""The mail that tells someone the sync module failed: the errors, and the day's log attached.

Sent with aiosmtplib to ``[sync.mail].to``: implicit TLS (``security = "tls"``, port 465),
STARTTLS (``"starttls"``, port 587: the server must offer it) or plain (``"none"``, for a
relay on the same machine). The caller logs a failure to send and carries on.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import aiosmtplib

from gateway.sync.config import MailConfig

__all__ = ["error_mail", "send_mail"]


def error_mail(config: MailConfig, log_file: Path, errors: Sequence[str]) -> EmailMessage:
    host = socket.gethostname()
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = ", ".join(config.to)
    count = f"{len(errors)} error" + ("" if len(errors) == 1 else "s")
    message["Subject"] = f"tillgw sync on {host}: {count}"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=host if "." in host else None)
    shown = "\n".join(errors[:50]) + ("\n…" if len(errors) > 50 else "")
    message.set_content(
        f"tillgw sync on {host} logged {count}:\n\n{shown}\n\n"
        f"The day's log, {log_file.name}, is attached (on {host}: {log_file}).\n"
        "A message that could not be processed stays in the inbox and is tried again;\n"
        "the register's later messages wait behind it. See docs/sync.md.\n"
    )
    try:
        attachment = log_file.read_bytes()
    except OSError as exc:
        attachment = f"(the log could not be read: {exc})\n".encode()
    message.add_attachment(attachment, maintype="text", subtype="plain", filename=log_file.name)
    return message


async def send_mail(config: MailConfig, message: EmailMessage) -> None:
    """Send ``message``; raises what aiosmtplib or the network raises."""
    context = None
    if config.security != "none":
        context = ssl.create_default_context(cafile=None if config.ca_file is None else str(config.ca_file))
    await aiosmtplib.send(
        message,
        hostname=config.host,
        port=config.port,
        username=config.username,
        password=config.password,
        use_tls=config.security == "tls",
        start_tls=config.security == "starttls",
        tls_context=context,
        timeout=config.timeout,
    )
