"""The OpenAPI document of the till's API (docs/api.md, "The OpenAPI document"):
:mod:`.fields`, :mod:`.requests` and :mod:`.answers` describe the bodies as Structs,
:mod:`.operations` every route's operation, :mod:`.document` builds and serves it."""
