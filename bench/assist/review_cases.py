"""Review benchmark cases: the docstring and tests benchmark's standard-library functions
(bench/assist/stdlib_cases.py, same selection and order), each with up to `per_function`
one-edit mutants that are shown to change behaviour.

A mutant changes one operator, comparison, membership or identity test, boolean
connective or constant, augmented assignment, integer constant or negation on one line,
by editing the source text at the AST node's position (so the clean and the mutated
function differ only in that edit, formatting included). Each mutant is run against the
clean function (bench/assist/mutant_check.py: the docstring's examples and generated
arguments, in a subprocess); one that no input tells apart is dropped, as the issue counts
only "one-edit mutants that change behaviour" as bugs. A function's sites are tried in a
seeded random order until `per_function` mutants change behaviour (at most MAX_TRIES sites);
functions with none are skipped, so the first `limit` functions of that list that have one
are used.
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


MAX_TRIES = 16  # sites run per function at most


@dataclass(frozen=True)
class Case:
    name: str  # module.function
    clean: str  # the function's source, dedented
    mutant: str
    mutated_line: int  # 1-based line of the edit
    edit: str  # e.g. "< -> <="
    witness: str = ""  # the input that told the mutant from the clean function


@dataclass(frozen=True)
class Function:
    """A clean benchmark function and its behaviour-changing mutants."""

    name: str
    clean: str
    mutants: tuple[Case, ...]
    dropped: tuple[str, ...] = ()  # edits tried that no input told apart ("line N: old -> new")


@dataclass(frozen=True)
class _Site:
    line: int  # 1-based
    start: int  # column range in that line to replace
    end: int
    old: str
    new: str


def stdlib_functions(limit: int) -> list[tuple[str, str]]:
    """(module.function, source): the docstring benchmark's functions, in its order, that have a
    mutation site; then the same modules' further functions (past its per-module cap), in the same
    order, so that a slice past the headline's functions has cases (a held-out slice)."""
    first = listed_functions(10 * limit)
    labels = {function.label for function in first}
    further = [function for function in listed_functions(10 * limit, per_module=10 * limit) if function.label not in labels]
    found = []
    for function in first + further:
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


def functions(limit: int, per_function: int = 3, seed: int = 0, progress=None, offset: int = 0) -> list[Function]:
    """The listed functions with at least one behaviour-changing mutant, numbers offset+1 to
    offset+limit of that list, each with up to `per_function` of them (run in subprocesses: about a
    second per function). Mutants are built the same way whatever the offset, so `offset=50,
    limit=50` gives functions 51-100 of the list `limit=100` gives: a held-out slice."""
    from bench.assist.mutant_check import changes_behaviour

    built: list[Function] = []
    wanted = offset + limit
    for name, source in stdlib_functions(4 * wanted):
        module, _, function_name = name.rpartition(".")
        sites = _sites(source)
        random.Random(f"{seed}:{name}").shuffle(sites)
        mutants, dropped = [], []
        for site in sites[:MAX_TRIES]:
            mutant = mutate(source, site)
            ast.parse(mutant)  # every mutant still parses
            edit = f"{site.old or 'not'} -> {site.new or '(removed)'}"
            verdict = changes_behaviour(module, function_name, source, mutant, seed)
            if not verdict.changed:
                dropped.append(f"line {site.line}: {edit}")
                continue
            mutants.append(Case(name, source, mutant, site.line, edit, verdict.witness))
            if len(mutants) >= per_function:
                break
        if progress:
            progress(name, len(mutants), len(dropped))
        if mutants:
            built.append(Function(name, source, tuple(mutants), tuple(dropped)))
            if len(built) >= wanted:
                break
    return built[offset:]


def cases(limit: int, per_function: int = 3, seed: int = 0) -> list[Case]:
    """Every mutant of `functions(limit, per_function, seed)`, function by function."""
    return [case for function in functions(limit, per_function, seed) for case in function.mutants]
