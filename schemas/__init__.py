"""Source contracts (CONTRACT.md) as data, their readers and their validation."""

from schemas.errors import ConfigError, MiglinkError, SchemaError, StageError, Violation

__all__ = ["ConfigError", "MiglinkError", "SchemaError", "StageError", "Violation"]
