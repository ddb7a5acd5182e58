from __future__ import annotations

from mailstep.handlers import send_email
from support import SENDER, Aws, LambdaContext


def test_register_then_send_delivers_one_email(aws: Aws, context: LambdaContext) -> None:
    aws.put_template("onboarding/welcome.html", "<p>Hi {{ first_name }}</p>")
    arn = aws.start_execution()
    subscriber = {"email": "Jane@Example.com", "first_name": "Jane", "attributes": {"plan": "pro"}}
    reg = send_email.handler(
        {
            "action": "register",
            "sequence_id": "onboarding",
            "execution_arn": arn,
            "subscriber": subscriber,
        },
        context,
    )
    assert reg == {"status": "registered"}
    result = send_email.handler(
        {
            "action": "send",
            "sequence_id": "onboarding",
            "step_id": "welcome",
            "execution_arn": arn,
            "template": "onboarding/welcome",
            "subject": "Hi {{ first_name }}",
            "sender": {"from": SENDER},
            "subscriber": subscriber,
        },
        context,
    )
    assert result["status"] == "sent"
    assert len(aws.sent) == 1
    assert aws.sent[0]["Destination"] == {"ToAddresses": ["jane@example.com"]}
