"""Checks a built documentation tree offline (``make docs`` runs it).

1. Every internal link and image in the HTML resolves: the file exists under
   the build directory, and a ``#fragment`` names an ``id`` on that page.
2. Every public name (each module's ``__all__`` in ``regjax._SUBMODULES``) has
   an entry in the API reference (Sphinx's ``objects.inv``).

Usage: ``python tools/check_docs.py [docs/_build/html]``. Exits 1 and lists
what is wrong.
"""

from __future__ import annotations

import importlib
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("id", "name"):
            if attrs.get(name):
                self.ids.add(attrs[name])
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append(attrs[name])


def broken_links(site: Path) -> list[str]:
    pages = {}
    for html in site.rglob("*.html"):
        if "_static" in html.relative_to(site).parts:
            continue  # the theme's unrendered template snippets, not pages
        page = _Page()
        page.feed(html.read_text(encoding="utf-8"))
        pages[html.resolve()] = page
    broken = []
    for html, page in sorted(pages.items()):
        for link in page.links:
            parsed = urlparse(link)
            if parsed.scheme or link.startswith(("//", "mailto:", "data:", "javascript:")):
                continue  # external: not checked offline
            target, fragment = unquote(parsed.path), unquote(parsed.fragment)
            path = (html.parent / target).resolve() if target else html
            if path.is_dir():
                path = path / "index.html"
            where = html.relative_to(site.resolve())
            if not path.exists():
                broken.append(f"{where}: {link} (no such file)")
            elif fragment and path.suffix == ".html" and fragment not in pages[path].ids:
                broken.append(f"{where}: {link} (no id {fragment!r} on that page)")
    return broken


def missing_api_entries(site: Path) -> list[str]:
    from sphinx.util.inventory import InventoryFile  # the docs extra; not needed to check links

    import regjax

    with open(site / "objects.inv", "rb") as f:
        inventory = InventoryFile.load(f, "", lambda base, uri: uri)
    documented = {name for entries in inventory.values() for name in entries}
    missing = []
    for module_name in regjax._SUBMODULES:
        module = importlib.import_module(f"regjax.{module_name}")
        for name in module.__all__:
            if f"regjax.{module_name}.{name}" not in documented:
                missing.append(f"regjax.{module_name}.{name}")
    return missing


def main(argv: list[str]) -> int:
    site = Path(argv[0] if argv else "docs/_build/html")
    problems = [f"broken link: {b}" for b in broken_links(site)]
    problems += [f"not in the API reference: {m}" for m in missing_api_entries(site)]
    for problem in problems:
        print(problem)
    n_pages = sum(1 for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts)
    print(f"tools/check_docs.py: {n_pages} pages, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
