"""Run the newsroom in the foreground for manual browsing: ``python -m newswatch.newsroom``."""

from __future__ import annotations

import argparse
import threading

from newswatch.newsroom.samples import load_later_articles
from newswatch.newsroom.server import Newsroom


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m newswatch.newsroom",
        description="Serve the sample news site on 127.0.0.1 until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    parser.add_argument(
        "--with-later",
        action="store_true",
        help="also publish the held-back articles (a follow-up and a new story)",
    )
    args = parser.parse_args(argv)
    with Newsroom(port=args.port) as room:
        if args.with_later:
            for article in load_later_articles():
                room.publish(article)
        print(f"Newsroom running at {room.base_url}  ({len(room.articles)} articles)")
        print(f"  index    {room.index_url}")
        print(f"  RSS      {room.feed_url}")
        print(f"  Atom     {room.atom_url}")
        print(f"  sitemap  {room.sitemap_url}")
        print(f"  robots   {room.robots_url}")
        for article in room.articles:
            print(f"  article  {room.url_for(article)}")
        print("Press Ctrl-C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nStopping.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
