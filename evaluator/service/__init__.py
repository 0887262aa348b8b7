"""The decision service: an ASGI application (Starlette) on a production server (uvicorn).

Modules: settings (where each setting comes from), state (the policy set being served and
its reload), readers (a batch's body per content type), logs (decision and access logs),
openapi (the document, built from the contract's JSON Schemas), app (the routes), server
(workers, signals, graceful shutdown).
"""
