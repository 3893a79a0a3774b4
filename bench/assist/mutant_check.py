"""Does a one-edit mutant change behaviour? Run the clean and the mutated function on the same inputs.

    changes_behaviour(module, name, clean, mutant) -> Verdict

Both sources are compiled in a copy of the function's module's globals, in a subprocess (its
own scratch working directory, a time limit per call and for the whole check), and called on:
1. the docstring's doctest examples (the whole example sequence, with the function's name bound
   to the clean or the mutated version);
2. generated arguments: seeded random draws from a pool of small values (numbers, strings,
   bytes, lists, tuples, dicts, None, booleans) for each required parameter, the optional ones
   left at their default or drawn too; only arguments the clean function accepts (it returns,
   it does not raise) count.
An observation is the call's result (or exception type) and the arguments afterwards (in-place
functions), as text with object addresses removed. Inputs on which the clean function itself
is not deterministic (two runs differ) are ignored. The mutant changes behaviour when some
input gives a different observation; otherwise it is "not shown to change behaviour" and the
benchmark drops it (it may be equivalent, or the inputs may not reach the edit).
Only standard-library functions and their mutants run here, never model output.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass

CALL_SECONDS = 0.5
CHECK_SECONDS = 60
RANDOM_DRAWS = 400


@dataclass(frozen=True)
class Verdict:
    changed: bool
    inputs: int  # inputs on which both versions were compared
    witness: str = ""  # the first input that told them apart, as text


def changes_behaviour(module: str, name: str, clean: str, mutant: str, seed: int = 0) -> Verdict:
    job = json.dumps({"module": module, "name": name, "clean": clean, "mutant": mutant, "seed": seed,
                      "draws": RANDOM_DRAWS, "call_seconds": CALL_SECONDS})
    with tempfile.TemporaryDirectory(prefix="seekcode-mutant-") as scratch:
        try:
            done = subprocess.run([sys.executable, "-c", _CHILD], input=job, capture_output=True, text=True,
                                  cwd=scratch, timeout=CHECK_SECONDS)
        except subprocess.TimeoutExpired:
            return Verdict(False, 0, "")
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return Verdict(False, 0, "")
    return Verdict(answer["changed"], answer["inputs"], answer.get("witness", ""))


# Runs in the subprocess: reads the job as JSON on stdin, prints one JSON line.
_CHILD = r'''
import copy, doctest, importlib, inspect, json, random, re, signal, sys

job = json.loads(sys.stdin.read())
module = importlib.import_module(job["module"])
ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")

class Timeout(BaseException):
    pass

def on_alarm(signum, frame):
    raise Timeout()

signal.signal(signal.SIGALRM, on_alarm)

def compiled(source):
    namespace = dict(vars(module))
    exec(compile(source, f"<{job['name']}>", "exec"), namespace)
    return namespace[job["name"]], namespace

clean, clean_globals = compiled(job["clean"])
mutant, mutant_globals = compiled(job["mutant"])

def text(value):
    try:
        return ADDRESS.sub("", repr(value))[:2000]
    except BaseException as error:
        return f"<unrepresentable {type(error).__name__}>"

def observe(function, args, kwargs):
    args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
    signal.setitimer(signal.ITIMER_REAL, job["call_seconds"])
    try:
        result = "ok " + text(function(*args, **kwargs))
    except Timeout:
        result = "timeout"
    except BaseException as error:
        result = "raised " + type(error).__name__
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return result + " | " + text(args) + text(kwargs)

def run_examples(function, namespace, examples):
    scope = dict(namespace)
    scope[job["name"]] = function
    seen = []
    for example in examples:
        signal.setitimer(signal.ITIMER_REAL, job["call_seconds"])
        try:
            try:
                value = eval(compile(example.source, "<doctest>", "eval"), scope)
                seen.append("ok " + text(value))
            except SyntaxError:
                exec(compile(example.source, "<doctest>", "exec"), scope)
                seen.append("ok")
        except Timeout:
            seen.append("timeout")
        except BaseException as error:
            seen.append("raised " + type(error).__name__)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    return seen

inputs = 0
def report(changed, witness=""):
    print(json.dumps({"changed": changed, "inputs": inputs, "witness": witness[:300]}))
    sys.exit(0)

examples = doctest.DocTestParser().get_examples(inspect.getdoc(clean) or "")
if examples:
    first, again = run_examples(clean, clean_globals, examples), run_examples(clean, clean_globals, examples)
    if first == again:
        inputs += 1
        if run_examples(mutant, mutant_globals, examples) != first:
            report(True, "the docstring's examples")

POOL = [0, 1, 2, 3, -1, 7, 10, 100, 0.0, 0.5, 2.5, -3.25, "", "a", "ab", "abc", "A", "a b", "hello world",
        "x.y", "a/b/c", "a\\b", "*.py", "[a]", "a,b", "Hello, World!", "  padded  ", "line1\nline2", "%s",
        "1.2.3.4", "http://a.b/c?d=1#e", "<b>&amp;</b>", 'say "hi"', "it's", b"", b"=", b"\xff", b"abc", b"a b\n", [], [1], [1, 2, 3], [3, 1, 2],
        [1, 1, 2], ["a", "b"], (), (1, 2), (0.2, 0.4, 0.6), {"a": 1}, None, True, False]
rng = random.Random(job["seed"])
try:
    signature = inspect.signature(clean)
except (TypeError, ValueError):
    report(False)
parameters = [p for p in signature.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
required = [p for p in parameters if p.default is p.empty]
optional = [p for p in parameters if p.default is not p.empty]

draws = []
for _ in range(job["draws"]):
    values = [(p, rng.choice(POOL)) for p in required]
    # Optional parameters keep their default, or (one time in three each) get a drawn value.
    values += [(p, rng.choice(POOL)) for p in optional if rng.random() < 1 / 3]
    ordered = sorted(values, key=lambda pair: parameters.index(pair[0]))
    # Positional order: an optional positional parameter left out must not shift later ones.
    args, kwargs = [], {}
    positional = True
    for parameter in parameters:
        match = [value for p, value in ordered if p is parameter]
        if not match:
            positional = False
            continue
        if positional and parameter.kind != parameter.KEYWORD_ONLY:
            args.append(match[0])
        else:
            kwargs[parameter.name] = match[0]
    draws.append((args, kwargs))
for args, kwargs in draws:
    first = observe(clean, args, kwargs)
    if not first.startswith("ok ") or first != observe(clean, args, kwargs):
        continue  # an input the clean function rejects, or one on which it is not deterministic
    inputs += 1
    if observe(mutant, args, kwargs) != first:
        report(True, f"args={text(args)} kwargs={text(kwargs)}")
report(False)
'''
