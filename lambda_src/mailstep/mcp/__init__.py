"""``mailstep-mcp``: the operator operations as MCP tools for AI assistants."""
