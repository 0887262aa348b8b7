"""How a policy cites the published document it encodes: in a finding, and in full for a reader."""

from __future__ import annotations

from urllib.parse import urlsplit


def document_of(source: dict) -> str:
    """What a finding cites the document by: the issuer's document id, or its title where it
    has none (contract §3). Never the maintainers' note of where the text came from."""
    return str(source.get("document_id") or source.get("title") or "")


def finding_source(source: dict, section: str) -> str:
    """A finding's `source`: the document, then the rule's section."""
    return f"{document_of(source)}, {section}"


def full(source: dict) -> str:
    """The citation in full for a reader: the title, then the document id and the document's
    version in brackets where known, then its address."""
    extra = [str(source["document_id"])] if source.get("document_id") else []
    if source.get("version"):
        extra.append(f"version {source['version']}")
    text = str(source.get("title") or "") + (f" ({', '.join(extra)})" if extra else "")
    return f"{text}, {source['url']}" if source.get("url") else text


def fields(source: dict) -> dict:
    """The citation's fields, for JSON: title, document_id, version, url (null where unknown)."""
    return {key: source.get(key) for key in ("title", "document_id", "version", "url")}


def link(source: dict) -> str | None:
    """The document's address when it is one a page may link to (http or https), else None."""
    url = source.get("url")
    if not isinstance(url, str):
        return None
    return url if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc else None
