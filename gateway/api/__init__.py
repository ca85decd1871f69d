"""The till's local HTTP API and event stream (docs/api.md)."""

from gateway.api.app import make_app, serving

__all__ = ["make_app", "serving"]
