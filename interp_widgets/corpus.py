"""Real text available offline: the docstrings of Python's standard library.

Corpus-level views (top activating examples, histograms) need a few hundred thousand tokens
of real text. Every Python installation carries one: the docstrings of its standard library.
:func:`stdlib_docstrings` reads them from the source files with :mod:`ast` (nothing is
imported, so no module runs), in a fixed order, so the same Python version always gives the
same list.

Any iterable of strings works where a corpus is expected; this is only a convenient default.

>>> from interp_widgets.corpus import stdlib_docstrings
>>> texts = stdlib_docstrings(max_texts=5)
>>> len(texts), all(isinstance(t, str) and t for t in texts)
(5, True)
"""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path
from typing import Iterator, Optional

__all__ = ["stdlib_docstrings", "iter_stdlib_docstrings"]

# Folders of the standard library that are tests, demos or vendored third-party code.
_SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "idlelib",
              "turtledemo", "lib2to3", "ensurepip", "__pycache__", "tkinter", "pydoc_data",
              "config-3", "venv"}


def _stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _source_files(root: Path) -> list[Path]:
    files = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if any(part in _SKIP_DIRS or part.startswith("config-") for part in rel.parts[:-1]):
            continue
        files.append(path)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def _docstrings(tree: ast.AST) -> Iterator[str]:
    """Module, class and function docstrings in source order."""
    nodes = [tree]
    while nodes:
        node = nodes.pop(0)
        doc = ast.get_docstring(node, clean=True) if isinstance(
            node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) else None
        if doc:
            yield doc
        body = getattr(node, "body", [])
        nodes[0:0] = [n for n in body if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]


def iter_stdlib_docstrings(min_chars: int = 80) -> Iterator[str]:
    """Lazily yield the standard library's docstrings (see :func:`stdlib_docstrings`)."""
    seen: set[str] = set()
    for path in _source_files(_stdlib_root()):
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError, OSError):
            continue
        for doc in _docstrings(tree):
            if len(doc) >= min_chars and doc not in seen:
                seen.add(doc)
                yield doc


def stdlib_docstrings(max_texts: Optional[int] = None, min_chars: int = 80) -> list[str]:
    """Docstrings of the installed Python standard library, read offline.

    Modules are read from the standard library folder (``sysconfig``'s ``stdlib`` path) in
    sorted order of their relative paths, skipping tests, demos, ``idlelib``, ``tkinter``
    and vendored packages; within a file, docstrings come in source order (module first,
    then each class and function, depth first). Each docstring is cleaned with
    :func:`inspect.cleandoc` rules (``ast.get_docstring``); duplicates and docstrings
    shorter than ``min_chars`` characters are dropped. Python 3.11 gives about 3,600 texts
    (1.3 million characters, roughly 350,000 SmolLM2 tokens) in about 8 s.

    Args:
        max_texts: stop after this many texts (the first ones in the order above).
        min_chars: drop docstrings shorter than this.

    Returns:
        A list of strings (re-iterable, so views can recompute over it).
    """
    if max_texts is not None and (not isinstance(max_texts, int) or max_texts < 1):
        raise ValueError(f"max_texts must be a positive int or None, got {max_texts!r}")
    out = []
    for doc in iter_stdlib_docstrings(min_chars=min_chars):
        out.append(doc)
        if max_texts is not None and len(out) >= max_texts:
            break
    if not out:
        raise ValueError(f"no docstrings found under {_stdlib_root()} (is the standard library source installed?)")
    return out
