"""The web service: self-check pages, partner API (FastAPI + Uvicorn + Jinja2)."""
