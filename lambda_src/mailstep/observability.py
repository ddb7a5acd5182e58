"""Structured logging and metrics (Powertools).

Tracing is left out on purpose: it costs ~300 ms of cold start.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="mailstep")
metrics = Metrics(namespace="mailstep", service="mailstep")
