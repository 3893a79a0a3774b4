"""Running generated Jest and Vitest tests (only with --run / tests.run).

    run_js(plan, code, timeout) -> RunOutcome
    remove_js_tests(code, names) -> str

The tests run on a scratch copy of the project, so the user's tree is never written, even when
the run is killed: the copy leaves out `node_modules` and `.git`, and gets a real `node_modules`
folder whose entries link to the project's own packages (what the runners cache there, such as
Vitest's `node_modules/.vite`, lands in the copy). The project's own local runner is used
(`node_modules/.bin/jest` or `vitest`); nothing is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from lsp_server.engine.symbols import parse
from lsp_server.features.tests import RunOutcome, TestsError, TestsPlan, cut_lines, run_bounded, timed_out

_IGNORED = shutil.ignore_patterns("node_modules", ".git")
_TEST_CALLS = ("it", "test")


def run_js(plan: TestsPlan, code: str, timeout: float) -> RunOutcome:
    package_dir = _package_dir(plan)
    runner = _local_runner(plan, package_dir)
    if shutil.which("node") is None:
        raise TestsError("--run needs Node.js on PATH to run Jest or Vitest tests; install Node or run without --run.")
    root = plan.root.resolve()
    scratch = Path(tempfile.mkdtemp(prefix="seekcode-js-"))
    try:
        copy = scratch / "project"
        shutil.copytree(root, copy, ignore=_IGNORED, symlinks=True)
        _link_node_modules(root, copy, package_dir)
        test_path = copy / plan.test_path.resolve().relative_to(root)
        test_path.parent.mkdir(parents=True, exist_ok=True)
        test_path.write_bytes(plan.file_edit(code).new_text().encode("utf-8"))
        cwd = copy / package_dir.relative_to(root)
        report = scratch / "report.json"
        relative = os.path.relpath(test_path, cwd)
        if plan.framework == "vitest":
            command = [str(runner), "run", "--reporter=json", f"--outputFile={report}", relative]
        else:
            command = [str(runner), "--ci", "--json", f"--outputFile={report}", "--watchman=false",
                       f"--cacheDirectory={scratch / 'jest-cache'}", "--runTestsByPath", relative]
        env = {**os.environ, "CI": "1", "NO_COLOR": "1", "FORCE_COLOR": "0"}
        if plan.framework == "jest" and _is_esm(package_dir):
            # Jest runs ES modules only behind this Node flag (what such projects put in their test script).
            env["NODE_OPTIONS"] = f"{env.get('NODE_OPTIONS', '')} --experimental-vm-modules".strip()
        streams = run_bounded(command, cwd, timeout, env)
        if streams is None:
            return timed_out(timeout)
        return _json_outcome(report, streams[0][-4000:] + streams[1][-4000:])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _package_dir(plan: TestsPlan) -> Path:
    """The folder of the package.json nearest to the test file (the runner's root), else the project root."""
    root = plan.root.resolve()
    directory = plan.test_path.resolve().parent
    while directory != root and root in directory.parents:
        if (directory / "package.json").exists():
            return directory
        directory = directory.parent
    return root


def _is_esm(package_dir: Path) -> bool:
    try:
        package = json.loads((package_dir / "package.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(package, dict) and package.get("type") == "module"


def _local_runner(plan: TestsPlan, package_dir: Path) -> Path:
    root = plan.root.resolve()
    for directory in (package_dir, *package_dir.parents):
        runner = directory / "node_modules" / ".bin" / plan.framework
        if runner.exists():
            return runner
        if directory == root:
            break
    raise TestsError(f"--run found no {plan.framework} in the project's node_modules; install {plan.framework} "
                     f"in the project (npm install --save-dev {plan.framework}) or run without --run.")


def _link_node_modules(root: Path, copy: Path, package_dir: Path) -> None:
    """A real node_modules folder in the copy, for each one from the package up to the root,
    whose entries link to the project's packages."""
    for directory in (package_dir, *package_dir.parents):
        source = directory / "node_modules"
        if source.is_dir():
            target = copy / directory.relative_to(root) / "node_modules"
            target.mkdir(parents=True, exist_ok=True)
            for entry in source.iterdir():
                # dot folders are caches (.vite, .cache), except the runners' .bin and pnpm's store
                if not entry.name.startswith(".") or entry.name in (".bin", ".pnpm"):
                    (target / entry.name).symlink_to(entry.resolve() if entry.is_symlink() else entry)
        if directory == root:
            break


def _json_outcome(report: Path, output: str) -> RunOutcome:
    """Per-test verdicts from the Jest-shaped JSON report both runners write, by test title."""
    passed, failed = set(), set()
    try:
        results = json.loads(report.read_text("utf-8")).get("testResults", [])
    except (OSError, ValueError):
        results = []
    for suite in results:
        if suite.get("message"):
            output = output + "\n" + str(suite["message"])[-2000:]
        for case in suite.get("assertionResults", []):
            (passed if case.get("status") == "passed" else failed).add(str(case.get("title", "")))
    return RunOutcome(frozenset(passed - failed), frozenset(failed), output[-6000:])


def remove_js_tests(code: str, names: list[str], language: str) -> str:
    """`code` without the `it(...)`/`test(...)` statements titled in `names`, and without the
    `describe(...)` blocks that are left with no test."""
    code = _cut(code, language, lambda node, data: _call_title(node, data, _TEST_CALLS) in names)
    code = _cut(code, language, lambda node, data: _call_title(node, data, ("describe",)) is not None
                and not re.search(r"\b(?:it|test)\s*\(", data[node.start_byte : node.end_byte].decode("utf-8")))
    return code.strip("\n") + "\n"


def _cut(code: str, language: str, dropped) -> str:
    tree = parse(code, language)
    data = code.encode("utf-8")
    cuts, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "expression_statement" and dropped(node, data):
            cuts.append((node.start_byte, node.end_byte))
            continue
        stack.extend(node.named_children)
    data = cut_lines(data, cuts)
    return re.sub(r"\n{3,}", "\n\n", data.decode("utf-8"))


def _call_title(statement, data: bytes, callees: tuple[str, ...]) -> str | None:
    """The title of `callee('title', ...)` when the statement is such a call."""
    call = statement.named_children[0] if statement.named_children else None
    if call is None or call.type != "call_expression":
        return None
    function = call.child_by_field_name("function")
    arguments = call.child_by_field_name("arguments")
    if function is None or arguments is None or data[function.start_byte : function.end_byte].decode() not in callees:
        return None
    first = arguments.named_children[0] if arguments.named_children else None
    if first is None or first.type not in ("string", "template_string"):
        return None
    return data[first.start_byte + 1 : first.end_byte - 1].decode("utf-8")
