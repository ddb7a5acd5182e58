"""Stopping Step Functions executions."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mailstep.observability import logger

_GONE = ("ExecutionDoesNotExist", "ExecutionNotFound")


class SfnExecutionStopper:
    def __init__(self, client: Any) -> None:
        self._sfn = client

    def stop(self, execution_arn: str, cause: str) -> None:
        """Stop a run; one that no longer exists (or already ended) is fine."""
        try:
            self._sfn.stop_execution(executionArn=execution_arn, cause=cause[:32768])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in _GONE:
                raise
            logger.info("execution already gone", extra={"execution_arn": execution_arn})
