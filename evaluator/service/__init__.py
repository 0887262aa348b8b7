"""The decision service: an ASGI application (Starlette) on a production server (uvicorn).

- ``settings``: where each setting comes from (regelverk.yaml's `serve:`, REGELVERK_* variables);
- ``state``: the policy set being served, and its reload;
- ``readers``: a batch's body, per content type;
- ``logs``: the decision log and the access log;
- ``openapi``: the OpenAPI document, built from the contract's JSON Schemas, and its page;
- ``protocol``: the HTTP protocol, with the guards against hostile clients;
- ``app``: the routes;
- ``server``: workers, signals, graceful shutdown.
"""
