"""Operator tooling over boto3 (CLI and MCP server): subscribers, suppressions, events,
sequences, deliverability, templates. Never shipped in the Lambda zip."""
