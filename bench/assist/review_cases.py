"""Review benchmark cases: the docstring and tests benchmark's standard-library functions
(bench/assist/stdlib_cases.py, same selection and order), each with one one-edit mutant.

A mutant changes one operator, comparison, membership or identity test, boolean
connective or constant, augmented assignment, integer constant or negation on one line,
by editing the source text at the AST node's position (so the clean and the mutated
function differ only in that edit, formatting included). Functions with no such site
are skipped, so the first `limit` functions of that list that have one are used. The
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

from bench.assist.stdlib_cases import MODULES, stdlib_functions as listed_functions  # noqa: F401 (MODULES: for tests)

COMPARE_SWAPS = {ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="), ast.GtE: (">=", ">"),
                 ast.Eq: ("==", "!="), ast.NotEq: ("!=", "=="), ast.Is: ("is", "is not"),
                 ast.IsNot: ("is not", "is"), ast.In: ("in", "not in"), ast.NotIn: ("not in", "in")}
BINOP_SWAPS = {ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "//"), ast.FloorDiv: ("//", "*"),
               ast.Mod: ("%", "//")}
AUG_SWAPS = {ast.Add: ("+=", "-="), ast.Sub: ("-=", "+="), ast.Mult: ("*=", "//="), ast.FloorDiv: ("//=", "*=")}
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
    """(module.function, source): the docstring benchmark's functions, in its order, that have a mutation site."""
    found = []
    for function in listed_functions(10 * limit):
        if _sites(function.source):
            found.append((function.label, function.source))
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
        if isinstance(node, ast.Compare) and type(node.ops[0]) in COMPARE_SWAPS:
            between(node.left, node.comparators[0], *COMPARE_SWAPS[type(node.ops[0])])
        elif isinstance(node, ast.BinOp) and type(node.op) in BINOP_SWAPS:
            between(node.left, node.right, *BINOP_SWAPS[type(node.op)])
        elif isinstance(node, ast.BoolOp) and type(node.op) in BOOL_SWAPS:
            between(node.values[0], node.values[1], *BOOL_SWAPS[type(node.op)])
        elif isinstance(node, ast.AugAssign) and type(node.op) in AUG_SWAPS:
            between(node.target, node.value, *AUG_SWAPS[type(node.op)])
        elif isinstance(node, ast.Constant) and type(node.value) is bool and node.lineno == node.end_lineno:
            old = lines[node.lineno - 1][node.col_offset : node.end_col_offset]
            if old in ("True", "False"):
                sites.append(_Site(node.lineno, node.col_offset, node.end_col_offset, old, str(not node.value)))
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
