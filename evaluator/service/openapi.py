"""The OpenAPI 3.1 document of the service, built from the contract's JSON Schemas, and an offline page to try it."""

from __future__ import annotations

import copy

from ..resources import load_schema
from ..running.formats import MEDIA_TYPES


def contact_schema(policy_set=None) -> dict:
    """The contact schema requests are checked against: the core fields and the facts the
    served repository declares (as the loader merged them), else the core fields alone."""
    merged = getattr(policy_set, "contact_schema", None)
    return merged if merged else load_schema("contact.schema.json")


def _embed(schema: dict, name: str) -> dict:
    """A JSON Schema as a component: its own $schema and $id dropped (the document's dialect
    is 2020-12 already) and its internal references pointed at their new place."""
    schema = copy.deepcopy(schema)
    schema.pop("$schema", None)
    schema.pop("$id", None)

    def walk(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/"):
                node["$ref"] = f"#/components/schemas/{name}/" + ref[2:]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(schema)
    return schema


def _error_response(description: str, extra: dict | None = None) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            **(extra or {})}


ERRORS = {
    "400": "a malformed request: not JSON, not UTF-8, a bad Content-Length, an unknown key, a CSV or Parquet body "
           "that is not its format at all (code says which)",
    "408": "the body did not arrive within body_timeout_seconds (code body_timeout)",
    "413": "the body is over max_body_bytes (body_too_large) or a line over max_line_bytes (line_too_large)",
    "415": "a batch in a content type no reader takes (unsupported_media_type)",
    "500": "the service failed on this request (internal_error); it is logged, without the request's values",
    "503": "max_concurrent_batches batches are being decided (too_many_batches), or the decision log's consumer "
           "is log_backlog_lines behind (decision_log_backlog); try again after Retry-After",
}
# What a batch's body may be, by the formats' own media types (formats.MEDIA_TYPES; the service
# takes their aliases too, service/readers.py): each as the body's whole text or bytes.
_BATCH_BODIES = {
    "ndjson": "NDJSON: one contact (Contact) per line",
    "csv": "CSV: a header row naming the contact's fields (and declared facts), then one contact per row, "
           "typed as `regelverk evaluate` reads CSV (docs/data.md)",
    "parquet": "Parquet: one contact per row, a column per field",
}
_LOG_BEHIND = "the decision log's consumer is log_backlog_lines behind (decision_log_backlog); try again after Retry-After"


def openapi_document(policy_set=None) -> dict:
    decision = _embed(load_schema("decision.schema.json"), "Decision")
    decision["properties"]["decision_id"]["description"] = "the id of this decision in the decision log"
    one_request = {
        "type": "object", "required": ["contact"], "additionalProperties": False,
        "properties": {"contact": {"$ref": "#/components/schemas/Contact"},
                       "history": {"type": ["array", "null"], "items": {"$ref": "#/components/schemas/Contact"},
                                   "description": "the patient's earlier contacts, in any order"}},
    }
    version_entry = {"type": "object", "required": ["version", "valid_from", "valid_to", "content_hash"],
                     "properties": {"version": {"type": "string"}, "valid_from": {"type": "string", "format": "date"},
                                    "valid_to": {"type": ["string", "null"], "format": "date"},
                                    "content_hash": {"$ref": "#/components/schemas/Decision/$defs/hash"}}}
    policy_list = {"type": "array", "items": {"type": "object", "required": ["id", "versions"], "properties": {
        "id": {"type": "string"}, "versions": {"type": "array", "items": version_entry}}}}
    err = {e: _error_response(d) for e, d in ERRORS.items()}
    batch_bodies = {MEDIA_TYPES[fmt]: {"schema": {"type": "string", "description": text,
                                                  **({"contentMediaType": MEDIA_TYPES[fmt]} if fmt == "parquet" else {})}}
                    for fmt, text in _BATCH_BODIES.items()}
    batch_bodies["text/plain"] = batch_bodies[MEDIA_TYPES["ndjson"]]  # (what a client sends when told nothing)
    document = {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": "regelverk decision service", "version": _version(),
                 "description": "Decide health-care contacts against versioned regional policies. Every "
                                "decision carries its provenance (contract §7) and a decision_id."},
        "paths": {
            "/evaluate": {"post": {
                "operationId": "evaluateBatch",
                "summary": "Decide a batch (NDJSON, CSV or Parquet in; NDJSON out, in input order)",
                "description": "The body may be sent with a Content-Length or chunked. Each line or row gets "
                               "one decision line; a broken one gets status invalid and the others are decided.",
                "requestBody": {"required": True, "content": batch_bodies},
                "responses": {"200": {"description": "one decision (Decision) per input line",
                                      "content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
                              **{k: err[k] for k in ("400", "408", "413", "415", "503")}}}},
            "/evaluate-one": {"post": {
                "operationId": "evaluateOne", "summary": "Decide one contact given the patient's history",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/EvaluateOneRequest"}}}},
                "responses": {"200": {"description": "the decision", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Decision"}}}},
                    **{k: err[k] for k in ("400", "408", "413")}, "503": _error_response(_LOG_BEHIND)}}},
            "/policies": {"get": {
                "operationId": "listPolicies", "summary": "The policies, their versions, validity and content hashes",
                "responses": {"200": {"description": "the policies", "content": {"application/json": {
                    "schema": policy_list}}}}}},
            "/policy-set": {"get": {
                "operationId": "policySet", "summary": "The policy set served: its provenance and policies",
                "responses": {"200": {"description": "the set", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["provenance", "policies"],
                    "properties": {"provenance": {"$ref": "#/components/schemas/Decision/properties/provenance"},
                                   "policies": policy_list}}}}}}}},
            "/health": {"get": {
                "operationId": "health", "summary": "Liveness, as plain text ok",
                "responses": {"200": {"description": "ok", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/health/live": {"get": {
                "operationId": "live", "summary": "Liveness: the process answers",
                "responses": {"200": {"description": "live", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["status"], "properties": {"status": {"const": "live"}}}}}}}}},
            "/health/ready": {"get": {
                "operationId": "ready", "summary": "Readiness: a policy set is loaded and the worker takes requests",
                "responses": {"200": {"description": "ready", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["status", "policy_set_hash"],
                    "properties": {"status": {"const": "ready"},
                                   "policy_set_hash": {"$ref": "#/components/schemas/Decision/$defs/hash"}}}}}},
                    "503": _error_response("starting or shutting down (not_ready), or the decision log's consumer "
                                           "is log_backlog_lines behind (decision_log_backlog)")}}},
            "/admin/reload": {"post": {
                "operationId": "reload", "summary": "Load the policy set again and serve it, in every worker",
                "security": [{"adminToken": []}],
                "responses": {"200": {"description": "reloaded", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["policy_set_hash", "previous"],
                    "properties": {"policy_set_hash": {"$ref": "#/components/schemas/Decision/$defs/hash"},
                                   "previous": {"$ref": "#/components/schemas/Decision/$defs/hash"}}}}}},
                    "401": _error_response("no or a wrong admin token (unauthorized)"),
                    "403": _error_response("reload by request is off: no admin_token is set (admin_disabled)"),
                    "422": _error_response("the new set does not load; the old one is served (policy_set_invalid)")}}},
            "/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {
                    "type": "object"}}}}}}},
            "/docs": {"get": {
                "operationId": "docs", "summary": "A page to try the API (works offline)",
                "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}}}},
        },
        "components": {
            "schemas": {"Contact": _embed(contact_schema(policy_set), "Contact"), "Decision": decision,
                        "EvaluateOneRequest": one_request,
                        "Error": {"type": "object", "required": ["error", "code"], "properties": {
                            "error": {"type": "string", "description": "what is wrong, for a person"},
                            "code": {"type": "string", "description": "stable, for a program"},
                            "problems": {"type": "array", "items": {"type": "string"}},
                            "policy_set_hash": {"type": "string"}}}},
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
        },
    }
    # Any route can fail in a way nobody foresaw: the answer is then a JSON 500 (app.py).
    for operations in document["paths"].values():
        for operation in operations.values():
            operation["responses"]["500"] = err["500"]
    return document


def _version() -> str:
    from .. import __version__

    return __version__


# Self-contained: no script or style from elsewhere, so it works where the service has no
# internet. It reads /openapi.json and offers a form per operation.
DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>regelverk decision service</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
section{border:1px solid #ccc;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}
code{background:#f3f3f3;padding:0 .2rem}textarea{width:100%;font-family:monospace;min-height:6rem}
pre{background:#f6f6f6;padding:.5rem;overflow:auto;max-height:20rem}.m{font-weight:bold;margin-right:.5rem}
</style></head><body>
<h1>regelverk decision service</h1>
<p>The operations of <a href="openapi.json">openapi.json</a>. Send a request and see the answer.</p>
<div id="ops">Loading openapi.json ...</div>
<script>
// The contract's required fields only: add the region and the facts your policies read.
const example = {"id": "c1", "patient": "p1", "unit": "unit-1", "region": "your-region",
  "date": "2025-03-03", "channel": "written"};
function bodyFor(path){
  if(path==="/evaluate") return JSON.stringify(example)+"\\n"+JSON.stringify({...example,id:"c2",date:"2025-03-04"});
  if(path==="/evaluate-one") return JSON.stringify({contact: example, history: []}, null, 1);
  return "";
}
fetch("openapi.json").then(r => r.json()).then(doc => {
  const ops = document.getElementById("ops"); ops.textContent = "";
  for (const [path, item] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(item)) {
    const s = document.createElement("section");
    const h = document.createElement("h3");
    h.innerHTML = `<span class="m">${method.toUpperCase()}</span><code></code> `;
    h.querySelector("code").textContent = path; h.append(op.summary || "");
    s.append(h);
    let area = null;
    if (op.requestBody) { area = document.createElement("textarea"); area.value = bodyFor(path); s.append(area); }
    const types = op.requestBody ? Object.keys(op.requestBody.content) : [];
    const button = document.createElement("button"); button.textContent = "Send"; s.append(button);
    const out = document.createElement("pre"); s.append(out);
    button.onclick = async () => {
      const init = {method: method.toUpperCase(), headers: {}};
      if (area) { init.body = area.value; init.headers["Content-Type"] = types[0]; }
      try { const r = await fetch(path.slice(1), init);
            out.textContent = r.status + " " + r.statusText + "\\n\\n" + await r.text(); }
      catch (e) { out.textContent = String(e); }
    };
    ops.append(s);
  }
});
</script></body></html>
"""
