"""A local news site for tests and the demo: real HTTP on 127.0.0.1, feeds, pages, misbehaviour.

See ``server.Newsroom`` (the server), ``samples`` (the article data format) and ``pages`` (the
page chrome that boilerplate removal must strip). Standard library only.
"""

from newswatch.newsroom.samples import (
    ArticleFormatError,
    SampleArticle,
    load_later_articles,
    load_sample_articles,
    parse_article,
)
from newswatch.newsroom.server import Newsroom

__all__ = [
    "ArticleFormatError",
    "Newsroom",
    "SampleArticle",
    "load_later_articles",
    "load_sample_articles",
    "parse_article",
]
