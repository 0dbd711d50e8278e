"""A browser for tests, started by pi-tui as ``$BROWSER``: ``python fake_browser.py RECORD [ARG…]``.

It writes RECORD (JSON) at once: its argv, and for each ``file://`` argument the file's mode,
owner and text. Then it plays a browser that follows the page: it reads the link from the
page's meta refresh and GETs it, following redirects (the fake provider's authorize endpoint
sends it on to pi-tui's loopback listener). What that answered goes to RECORD + ".page".
"""

from __future__ import annotations

import html
import json
import os
import re
import stat
import sys
import urllib.request
from urllib.parse import unquote, urlsplit


def main() -> None:
    record, args = sys.argv[1], sys.argv[2:]
    pages = []
    for arg in args:
        if arg.startswith("file://"):
            path = unquote(urlsplit(arg).path)
            info = os.lstat(path)
            with open(path, encoding="utf-8") as page:
                text = page.read()
            pages.append({"path": path, "mode": stat.S_IMODE(info.st_mode), "uid": info.st_uid, "text": text})
    with open(record + ".tmp", "w", encoding="utf-8") as out:
        json.dump({"argv": sys.argv, "pages": pages}, out)
    os.replace(record + ".tmp", record)
    if not pages:
        return
    match = re.search(r'http-equiv="refresh" content="0;url=([^"]*)"', pages[0]["text"])
    if match is None:
        return
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(html.unescape(match.group(1)), timeout=30) as answer:
            result = {"status": answer.status, "text": answer.read().decode("utf-8", "replace")}
    except Exception as exc:  # an HTTP error page or a refused connection: recorded, not raised
        result = {"error": repr(exc)}
    with open(record + ".page", "w", encoding="utf-8") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
