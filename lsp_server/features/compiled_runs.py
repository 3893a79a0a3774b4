"""Running generated Go and JUnit 5 tests (only with --run / tests.run), each in a scratch
copy of the project so the user's tree is never written to.

    run_go(plan, code, timeout) -> RunOutcome      # go test -json -run '^(A|B)$' offline
    run_junit(plan, code, timeout) -> RunOutcome   # javac, then the JUnit console launcher
    remove_declared_tests(code, language, names) -> str

Names are those `tests.test_names` finds: Go `TestX` functions, Java `@Test` methods.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from lsp_server.engine.symbols import parse
from lsp_server.features.tests import cut_lines

_SKIPPED_DIRS = ("target", "build", ".git", "node_modules", ".gradle", ".venv", "out")
# Where Debian's junit5 package puts the launcher (a jar carrying the Jupiter API and engine).
_JUNIT_JARS = ("/usr/share/java/junit-platform-console-standalone.jar",)


def _copy_project(plan, scratch: Path, code: str) -> Path:
    """A copy of the project root with the test file (existing tests + `code`) written in."""
    from lsp_server.features.tests import TestsError

    copy = scratch / "project"
    shutil.copytree(plan.root, copy, ignore=shutil.ignore_patterns(*_SKIPPED_DIRS), symlinks=True)
    try:
        relative = plan.test_path.resolve().relative_to(plan.root.resolve())
    except ValueError:
        raise TestsError(f"the test file {plan.test_path} is outside the project root {plan.root}.") from None
    target = copy / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(plan.file_edit(code).new_text().encode("utf-8"))
    return target


# -- Go ------------------------------------------------------------------------------------


def run_go(plan, code: str, timeout: float):
    from lsp_server.features.tests import RunOutcome, TestsError, run_bounded, test_names, timed_out

    if shutil.which("go") is None:
        raise TestsError("--run for Go tests needs the go toolchain on PATH (apt-get install golang-go); "
                         "run without --run to get the tests unrun.")
    names = test_names(code, plan)
    scratch = Path(tempfile.mkdtemp(prefix="seekcode-go-"))
    try:
        test_file = _copy_project(plan, scratch, code)
        module = _go_module_dir(test_file.parent, scratch / "project")
        package = "./" + (test_file.parent.relative_to(module).as_posix() if test_file.parent != module else "")
        command = ["go", "test", "-count=1", "-json", "-run", f"^({'|'.join(names)})$", package.rstrip("/") or "."]
        streams = run_bounded(command, module, timeout, _go_environment(scratch))
        if streams is None:
            return timed_out(timeout)
        passed, failed = _go_verdicts(streams[0])
        output = _go_output(streams[0]) + streams[1]
        if not passed | failed and re.search(r"\[(?:build|setup) failed\]", output):
            raise TestsError(f"the generated Go tests do not build ({_first_go_error(output)}); nothing was kept.")
        return RunOutcome(frozenset(passed - failed), frozenset(failed), output[-4000:])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _first_go_error(output: str) -> str:
    match = re.search(r"^(?:\S*/)?(\S+\.go:\d+:\d+: .*)$", output, re.M)
    return match.group(1) if match else output.strip().splitlines()[0]


def _go_module_dir(directory: Path, top: Path) -> Path:
    """The nearest folder with a go.mod up to the copy's root; a project without one gets a
    minimal go.mod at its root (a GOPATH-style package still builds as a module then)."""
    for folder in (directory, *directory.parents):
        if (folder / "go.mod").exists():
            return folder
        if folder == top:
            break
    (top / "go.mod").write_text("module seekcodetests\n\ngo 1.16\n", encoding="utf-8")
    return top


def _go_environment(scratch: Path) -> dict[str, str]:
    """Offline: no proxy, no toolchain download; the build cache is kept between runs (it is
    keyed by content) so later runs do not recompile the standard library."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "seekcode" / "go"
    environment = {**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOTOOLCHAIN": "local",
                   "GOSUMDB": "off", "GOCACHE": str(cache / "build"), "GOPATH": str(scratch / "gopath")}
    # The modules the user already downloaded stay usable offline.
    user_modules = os.environ.get("GOMODCACHE") or str(Path(os.environ.get("GOPATH") or Path.home() / "go") / "pkg" / "mod")
    if Path(user_modules).is_dir():
        environment["GOMODCACHE"] = user_modules
    else:
        environment.pop("GOMODCACHE", None)
    return environment


def _go_verdicts(stdout: str) -> tuple[set[str], set[str]]:
    passed, failed = set(), set()
    for event in _go_events(stdout):
        test = event.get("Test")
        if not test:
            continue
        name = test.split("/", 1)[0]  # a subtest's verdict counts for its top-level test
        if event.get("Action") == "pass" and "/" not in test:
            passed.add(name)
        elif event.get("Action") in ("fail", "skip"):
            failed.add(name)
    return passed, failed


def _go_output(stdout: str) -> str:
    """The text `go test` would have printed without -json (build errors arrive as plain lines)."""
    lines = []
    for line in stdout.splitlines():
        events = _go_events(line)
        if events:
            lines.append(events[0].get("Output", ""))
        else:
            lines.append(line + "\n")
    return "".join(lines)


def _go_events(text: str) -> list[dict]:
    events = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return events


# -- JUnit 5 -------------------------------------------------------------------------------


def junit_launcher() -> str | None:
    """The JUnit console launcher jar: $SEEKCODE_JUNIT_JAR, else Debian's junit5 package."""
    configured = os.environ.get("SEEKCODE_JUNIT_JAR")
    if configured:
        return configured if Path(configured).is_file() else None
    return next((jar for jar in _JUNIT_JARS if Path(jar).is_file()), None)


def run_junit(plan, code: str, timeout: float):
    from lsp_server.features.tests import RunOutcome, TestsError, run_bounded, timed_out

    launcher = junit_launcher()
    if shutil.which("javac") is None or shutil.which("java") is None or launcher is None:
        raise TestsError("--run for JUnit tests needs javac, java and the JUnit 5 console launcher "
                         "(apt-get install default-jdk-headless junit5, or set SEEKCODE_JUNIT_JAR); "
                         "run without --run to get the tests unrun.")
    scratch = Path(tempfile.mkdtemp(prefix="seekcode-junit-"))
    try:
        test_file = _copy_project(plan, scratch, code)
        project = scratch / "project"
        classes, reports = scratch / "classes", scratch / "reports"
        sources = _java_sources(project, test_file)
        command = ["javac", "-nowarn", "-encoding", "UTF-8", "-d", str(classes), "-cp", launcher, *map(str, sources)]
        started = time.monotonic()
        streams = run_bounded(command, project, timeout)
        if streams is None:
            return timed_out(timeout)
        if not (classes / _class_path(test_file)).exists():
            raise TestsError(f"the generated JUnit tests do not compile ({_first_javac_error(streams[1] + streams[0])}); "
                             "nothing was kept.")
        command = ["java", "-jar", launcher, "--disable-banner", "--details=none", "--class-path", str(classes),
                   "--select-class", _class_name(test_file), "--reports-dir", str(reports)]
        streams = run_bounded(command, project, max(timeout - (time.monotonic() - started), 1.0))  # one budget for both
        if streams is None:
            return timed_out(timeout)
        passed, failed = _junit_verdicts(reports)
        return RunOutcome(frozenset(passed - failed), frozenset(failed), (streams[0] + streams[1])[-4000:])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _java_sources(project: Path, test_file: Path) -> list[Path]:
    """The project's main sources and the test file. With the Maven/Gradle layout that is
    src/main/java; otherwise every .java file outside a src/test tree."""
    main = project / "src" / "main" / "java"
    if main.is_dir():
        files = set(main.rglob("*.java"))
    else:
        files = {path for path in project.rglob("*.java") if path.relative_to(project).parts[:2] != ("src", "test")}
    return sorted(files | {test_file})


def _class_name(test_file: Path) -> str:
    package = re.search(r"^package\s+([\w.]+)\s*;", test_file.read_text(encoding="utf-8"), re.M)
    return f"{package.group(1)}.{test_file.stem}" if package else test_file.stem


def _class_path(test_file: Path) -> Path:
    return Path(*_class_name(test_file).split(".")).with_suffix(".class")


def _first_javac_error(output: str) -> str:
    for line in output.splitlines():
        if ": error:" in line:
            source, _, rest = line.partition(":")
            return Path(source).name + ":" + rest.strip()
    return (output.strip().splitlines() or ["javac failed"])[0]


def _junit_verdicts(reports: Path) -> tuple[set[str], set[str]]:
    passed, failed = set(), set()
    for report in reports.glob("*.xml"):
        for case in ElementTree.parse(report).getroot().iter("testcase"):
            name = re.split(r"[(\[]", case.get("name", ""), maxsplit=1)[0]  # "testAdd()" -> testAdd
            if any(child.tag in ("failure", "error", "skipped") for child in case):
                failed.add(name)
            else:
                passed.add(name)
    return passed, failed


# -- dropping tests ------------------------------------------------------------------------


def remove_declared_tests(code: str, language: str, names: list[str]) -> str:
    """`code` without the named Go test functions or Java test methods (with their annotations)."""
    kinds = {"go": ("function_declaration",), "java": ("method_declaration",)}[language]
    tree = parse(code, language)
    data = code.encode("utf-8")
    cuts = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type in kinds:
            name = node.child_by_field_name("name")
            if name is not None and data[name.start_byte : name.end_byte].decode() in names:
                cuts.append((node.start_byte, node.end_byte))
            continue
        stack.extend(node.named_children)
    data = cut_lines(data, cuts)
    code = re.sub(r"\n{3,}", "\n\n", data.decode("utf-8"))
    return _drop_unused_go_imports(code) if language == "go" and cuts else code


def _drop_unused_go_imports(code: str) -> str:
    """Go refuses to build with an unused import: drop those only the removed tests used."""
    tree = parse(code, "go")
    data = code.encode("utf-8")
    imports = [node for node in tree.root_node.named_children if node.type == "import_declaration"]
    rest = data.decode("utf-8") if not imports else (data[: imports[0].start_byte] + data[imports[-1].end_byte :]).decode("utf-8")
    cuts = []
    for declaration in imports:
        specs = [n for n in _descendants(declaration) if n.type == "import_spec"]
        unused = [spec for spec in specs if not _go_import_used(spec, data, rest)]
        if unused and len(unused) == len(specs):
            cuts.append((declaration.start_byte, declaration.end_byte))
        else:
            cuts.extend((spec.start_byte, spec.end_byte) for spec in unused)
    data = cut_lines(data, cuts)
    return re.sub(r"\n{3,}", "\n\n", data.decode("utf-8"))


def _descendants(node):
    for child in node.named_children:
        yield child
        yield from _descendants(child)


def _go_import_used(spec, data: bytes, rest: str) -> bool:
    alias = spec.child_by_field_name("name")
    path = spec.child_by_field_name("path")
    if alias is not None:
        name = data[alias.start_byte : alias.end_byte].decode()
        if name in ("_", "."):
            return True  # imported for its side effects or into the file scope: keep
    elif path is not None:
        name = data[path.start_byte : path.end_byte].decode().strip('"`').rsplit("/", 1)[-1]
    else:
        return True
    return re.search(rf"\b{re.escape(name)}\.", rest) is not None
