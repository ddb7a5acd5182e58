"""SES v2 SendEmail with the configuration set, HTML + optional text, custom headers."""

from __future__ import annotations

from typing import Any

from mailstep.domain.models import OutgoingEmail


class SesMailer:
    def __init__(self, client: Any, configuration_set: str) -> None:
        self._ses = client
        self._configuration_set = configuration_set

    def send(self, email: OutgoingEmail) -> str:
        body: dict[str, Any] = {"Html": {"Data": email.html, "Charset": "UTF-8"}}
        if email.text:
            body["Text"] = {"Data": email.text, "Charset": "UTF-8"}
        params: dict[str, Any] = {
            "FromEmailAddress": email.from_header,
            "Destination": {"ToAddresses": [email.to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                    "Body": body,
                    "Headers": [{"Name": n, "Value": v} for n, v in email.headers],
                }
            },
            "EmailTags": [{"Name": k, "Value": v} for k, v in sorted(email.tags.items())],
        }
        if email.reply_to:
            params["ReplyToAddresses"] = [email.reply_to]
        if self._configuration_set:
            params["ConfigurationSetName"] = self._configuration_set
        return str(self._ses.send_email(**params)["MessageId"])


class SesRawMailer:
    """SES v2 SendEmail with ``Content.Raw`` and no configuration set: forwarded replies
    are not mailstep emails, so they must not produce engagement events."""

    def __init__(self, client: Any) -> None:
        self._ses = client

    def send_raw(self, from_address: str, to: str, raw: bytes) -> str:
        response = self._ses.send_email(
            FromEmailAddress=from_address,
            Destination={"ToAddresses": [to]},
            Content={"Raw": {"Data": raw}},
        )
        return str(response["MessageId"])
