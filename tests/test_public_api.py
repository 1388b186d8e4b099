"""The public API: every public name is documented, tested by its examples and in the README.

Runs over every module named in ``regjax._SUBMODULES`` that exists as a file.
"""

from __future__ import annotations
import __future__

import importlib
import importlib.util
import inspect
import pathlib
import re
import types
import typing

import pytest

import regjax

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FUNCTION_SECTIONS = ("Args:", "Returns:", "Examples:", "References:")

PUBLIC_MODULES = [
    name for name in regjax._SUBMODULES if importlib.util.find_spec(f"regjax.{name}") is not None
]


def _module(name: str) -> types.ModuleType:
    return importlib.import_module(f"regjax.{name}")


def _public(name: str) -> list[tuple[str, object]]:
    module = _module(name)
    assert hasattr(module, "__all__"), f"regjax.{name} has no __all__ listing its public names"
    return [(n, getattr(module, n)) for n in module.__all__]


def _readme_names() -> set[str]:
    """Every backticked span in README.md, normalized: no ``regjax.`` prefix, no call."""
    names = set()
    for span in re.findall(r"`([^`\n]+)`", README):
        span = span.strip()
        span = re.sub(r"^regjax\.", "", span)
        span = span.split("(", 1)[0].strip()
        names.add(span)
    return names


def test_core_modules_are_found():
    """The foundation modules always exist, so the parametrized tests below are not empty."""
    for name in ("penalties", "masks", "prox", "checks"):
        assert name in PUBLIC_MODULES


def test_lazy_submodule_import():
    assert regjax.penalties is importlib.import_module("regjax.penalties")
    assert "masks" in dir(regjax)
    with pytest.raises(AttributeError, match="has no attribute 'not_a_module'"):
        regjax.not_a_module  # noqa: B018


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_module_has_docstring_and_all(name):
    module = _module(name)
    assert (module.__doc__ or "").strip(), f"regjax.{name} has no module docstring"
    assert hasattr(module, "__all__"), f"regjax.{name} has no __all__ listing its public names"
    assert isinstance(module.__all__, list | tuple)
    assert len(set(module.__all__)) == len(module.__all__), f"duplicates in regjax.{name}.__all__"
    for public in module.__all__:
        assert hasattr(module, public), f"regjax.{name}.__all__ lists missing name {public!r}"


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_docstrings(name):
    problems = []
    for public, obj in _public(name):
        qual = f"regjax.{name}.{public}"
        if inspect.isclass(obj):
            doc = obj.__doc__ or ""
            if not doc.strip():
                problems.append(f"{qual}: no docstring")
            elif "References:" not in doc and "Examples:" not in doc:
                problems.append(f"{qual}: docstring has neither References: nor Examples:")
        elif callable(obj):
            doc = inspect.getdoc(obj) or ""
            if not doc.strip():
                problems.append(f"{qual}: no docstring")
                continue
            if not doc.strip().splitlines()[0].strip():
                problems.append(f"{qual}: docstring does not open with a one-line summary")
            missing = [s for s in FUNCTION_SECTIONS if s not in doc]
            if missing:
                problems.append(f"{qual}: docstring lacks {', '.join(missing)}")
            elif ">>>" not in doc.split("Examples:", 1)[1]:
                problems.append(f"{qual}: Examples: has no executed (>>>) example")
        else:
            # A constant: documented in the module docstring.
            if public not in (_module(name).__doc__ or ""):
                problems.append(f"{qual}: constant not described in the module docstring")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_names_in_readme(name):
    mentioned = f"regjax.{name}" in README
    assert mentioned, f"README.md does not mention regjax.{name}"
    known = _readme_names()
    missing = [
        f"regjax.{name}.{public}"
        for public, _ in _public(name)
        if public not in known and f"{name}.{public}" not in known
    ]
    assert not missing, "README.md does not mention (as `name` or `module.name`): " + ", ".join(
        missing
    )


def _is_allowed_extra(obj: object) -> bool:
    if isinstance(obj, types.ModuleType | __future__._Feature):
        return True
    module = getattr(obj, "__module__", None)
    if module in {"typing", "typing_extensions", "collections.abc", "types"}:
        return True
    return obj is typing.Any


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_no_public_names_outside_all(name):
    module = _module(name)
    exported = {n for n, _ in _public(name)}
    stray = sorted(
        attr
        for attr, obj in vars(module).items()
        if not attr.startswith("_") and attr not in exported and not _is_allowed_extra(obj)
    )
    assert not stray, (
        f"regjax.{name} defines public names outside __all__: {stray}; "
        "add them to __all__ or import them under a leading underscore."
    )


def test_readme_normalization_understands_calls_and_prefixes():
    """The README matcher: `regjax.masks.describe(mask, params)` counts as masks.describe."""
    global README
    saved = README
    try:
        README = "see `regjax.masks.describe(mask, params)` and `l1`"
        names = _readme_names()
    finally:
        README = saved
    assert "masks.describe" in names and "l1" in names
    assert "describe" not in names
