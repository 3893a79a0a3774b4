"""Docstring/test benchmark cases: top-level CPython standard-library functions that have
a docstring, 4 to 40 lines long, in a fixed order (module list order, then name)."""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from dataclasses import dataclass

MODULES = (
    "bisect", "heapq", "colorsys", "textwrap", "statistics", "fractions", "calendar", "posixpath", "shlex",
    "html", "base64", "fnmatch", "ipaddress", "urllib.parse", "email.utils", "quopri", "difflib", "glob",
    "keyword", "operator", "string", "json", "copy", "gettext", "locale", "mimetypes", "ntpath", "platform",
    "tokenize", "reprlib", "pprint", "sysconfig", "uu", "csv", "zipfile", "tarfile", "wave", "imghdr", "sndhdr",
    "pathlib", "numbers", "inspect", "dis", "ast", "opcode", "pickle", "types", "weakref", "functools",
)
MIN_LINES, MAX_LINES = 4, 40
PER_MODULE = 4  # spread the cases over many modules


@dataclass(frozen=True)
class StdlibFunction:
    module: str
    name: str
    source: str  # the function as written, dedented, docstring included
    docstring: str  # inspect.cleandoc'ed original docstring

    @property
    def label(self) -> str:
        return f"{self.module}.{self.name}"


def without_docstring(source: str) -> str:
    """The function's source with its docstring statement (and its line) removed."""
    tree = ast.parse(source)
    function = tree.body[0]
    first = function.body[0]
    lines = source.splitlines(keepends=True)
    del lines[first.lineno - 1 : first.end_lineno]
    if len(function.body) == 1:  # the docstring was the whole body
        indent = lines[first.lineno - 2][: len(lines[first.lineno - 2]) - len(lines[first.lineno - 2].lstrip())]
        lines.insert(first.lineno - 1, indent + "    pass\n")
    return "".join(lines)


def stdlib_functions(limit: int, per_module: int = PER_MODULE) -> list[StdlibFunction]:
    found: list[StdlibFunction] = []
    for module_name in MODULES:
        taken = 0
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name, value in sorted(vars(module).items()):
            if name.startswith("_") or not inspect.isfunction(value) or value.__module__ != module.__name__:
                continue
            try:
                source = textwrap.dedent(inspect.getsource(value))
            except (OSError, TypeError):
                continue
            if not MIN_LINES <= source.count("\n") <= MAX_LINES or source.lstrip().startswith("@"):
                continue
            tree = ast.parse(source)
            if not isinstance(tree.body[0], ast.FunctionDef):
                continue
            docstring = ast.get_docstring(tree.body[0])
            if not docstring or len(tree.body[0].body) < 2:
                continue
            found.append(StdlibFunction(module_name, name, source, docstring))
            taken += 1
            if len(found) >= limit:
                return found
            if taken >= per_module:
                break
    return found
