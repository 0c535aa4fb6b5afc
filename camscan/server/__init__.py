"""The central inventory: an ASGI app that takes scan documents from sensors into PostgreSQL."""
