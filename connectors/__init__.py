"""One package per department system: HTTP client, payload mapping, loaders, quirks.

Connectors know nothing of GraphQL or Starlette: they speak typed Python (frozen dataclasses)
upwards and the department's own dialect downwards.
"""
