"""The web side of newswatch: fetching, link discovery, URL canonicalisation, extraction.

Modules: `urls` (canonical_url, is_http_url, host_of), `http` (Fetcher, FetchPolicy,
FetchError), `links` (discover_links, parse_sitemap), `extract` (extract_article).
Imports nothing of ours but `newswatch.models`.
"""
