"""The web side of newswatch: fetching, link discovery, URL canonicalisation, extraction.

Fetching (`http.Fetcher`, configured by `policy.FetchPolicy`, failing with
`errors.FetchError`) is built from small parts:

- `transport`: the SSRF guard, in the connection layer (check, then connect to the checked
  address), with `addresses` saying which addresses and host names are not public;
- `politeness`: per-host concurrency, spacing, Retry-After pauses, backoff, giving up;
- `robots`: robots.txt verdicts (Protego, RFC 9309);
- `bodies`: media types read, Accept headers, bounded decompression;
- `source_backoff`: across runs, when a source whose polls keep failing is due again.

Link discovery (`links.discover_links`): `feeds` and `sitemaps` (streamed lxml, entity
declarations refused by `xml_safety`), HTML index pages in `links`, all filtered and
collected by `linkset`. `urls`: canonical URLs. `extract.extract_article`: trafilatura,
decoding by `charset`.

Imports nothing of ours but `newswatch.models`.
"""
