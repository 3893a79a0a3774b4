"""Review benchmark cases: CPython standard-library functions and one-edit mutants of them.

A mutant changes one operator, comparison, boolean connective, integer constant or
negation on one line, by editing the source text at the AST node's position (so the
clean and the mutated function differ only in that edit, formatting included). The
mutants are not run: an edit of this kind changes behaviour except in rare equivalent
cases, which the report counts as misses for every arm alike.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import random
import textwrap
from dataclasses import dataclass

MODULES = (
    "bisect", "heapq", "colorsys", "textwrap", "statistics", "fractions", "calendar", "posixpath",
    "shlex", "string", "html", "base64", "difflib", "fnmatch", "glob", "ipaddress", "json.encoder",
    "json.decoder", "urllib.parse", "email.utils", "datetime", "random", "quopri", "uu", "netrc",
)
MIN_LINES, MAX_LINES = 5, 40

COMPARE_SWAPS = {ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="), ast.GtE: (">=", ">"),
                 ast.Eq: ("==", "!="), ast.NotEq: ("!=", "==")}
BINOP_SWAPS = {ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "//"), ast.FloorDiv: ("//", "*"),
               ast.Mod: ("%", "//")}
BOOL_SWAPS = {ast.And: ("and", "or"), ast.Or: ("or", "and")}


@dataclass(frozen=True)
class Case:
    name: str  # module.function
    clean: str  # the function's source, dedented
    mutant: str
    mutated_line: int  # 1-based line of the edit
    edit: str  # e.g. "< -> <="


@dataclass(frozen=True)
class _Site:
    line: int  # 1-based
    start: int  # column range in that line to replace
    end: int
    old: str
    new: str


def stdlib_functions(limit: int) -> list[tuple[str, str]]:
    """(module.function, source) for pure-Python functions of MIN_LINES..MAX_LINES lines."""
    found = []
    for module_name in MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name, value in sorted(vars(module).items()):
            if not inspect.isfunction(value) or value.__module__ != module.__name__ or name.startswith("__"):
                continue
            try:
                source = textwrap.dedent(inspect.getsource(value))
            except (OSError, TypeError):
                continue
            if MIN_LINES <= source.count("\n") <= MAX_LINES and _sites(source):
                found.append((f"{module_name}.{name}", source))
    return found[:limit]


def _sites(source: str) -> list[_Site]:
    tree = ast.parse(source)
    lines = source.splitlines()
    sites: list[_Site] = []
    docstring_nodes = {id(node.body[0].value) for node in ast.walk(tree)
                       if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.body
                       and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}

    def between(left: ast.AST, right: ast.AST, old: str, new: str) -> None:
        if left.end_lineno != right.lineno:
            return
        line = lines[left.end_lineno - 1]
        segment = line[left.end_col_offset : right.col_offset]
        index = segment.find(old)
        # The operator must stand alone in the gap (not "<=" when looking for "<").
        if index < 0 or segment.strip() != old:
            return
        start = left.end_col_offset + index
        sites.append(_Site(left.end_lineno, start, start + len(old), old, new))

    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in COMPARE_SWAPS:
            between(node.left, node.comparators[0], *COMPARE_SWAPS[type(node.ops[0])])
        elif isinstance(node, ast.BinOp) and type(node.op) in BINOP_SWAPS:
            between(node.left, node.right, *BINOP_SWAPS[type(node.op)])
        elif isinstance(node, ast.BoolOp) and type(node.op) in BOOL_SWAPS and len(node.values) == 2:
            between(node.values[0], node.values[1], *BOOL_SWAPS[type(node.op)])
        elif (isinstance(node, ast.Constant) and type(node.value) is int and node.lineno == node.end_lineno
              and id(node) not in docstring_nodes):
            old = lines[node.lineno - 1][node.col_offset : node.end_col_offset]
            if old.isdigit():
                sites.append(_Site(node.lineno, node.col_offset, node.end_col_offset, old, str(int(old) + 1 if int(old) != 1 else 0)))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and node.lineno == node.operand.lineno:
            line = lines[node.lineno - 1]
            text = line[node.col_offset : node.operand.col_offset]
            if text.strip() == "not":
                sites.append(_Site(node.lineno, node.col_offset, node.operand.col_offset, text, ""))
    return sorted(sites, key=lambda site: (site.line, site.start))


def mutate(source: str, site: _Site) -> str:
    lines = source.splitlines(keepends=True)
    line = lines[site.line - 1]
    lines[site.line - 1] = line[: site.start] + site.new + line[site.end :]
    return "".join(lines)


def cases(limit: int, seed: int = 0) -> list[Case]:
    rng = random.Random(seed)
    built = []
    for name, source in stdlib_functions(limit):
        sites = _sites(source)
        site = sites[rng.randrange(len(sites))]
        mutant = mutate(source, site)
        ast.parse(mutant)  # every mutant still parses
        built.append(Case(name, source, mutant, site.line, f"{site.old or 'not'} -> {site.new or '(removed)'}"))
    return built
