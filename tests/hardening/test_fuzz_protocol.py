"""Protocol fuzzing against the real server process (hypothesis).

Invariants, checked after every generated sequence:
- the process never dies;
- every request (an int or string id) gets exactly one response, a notification none;
- the server's copy of each document equals `edit_model.ModelDocument` fed the same edits
  (read back with the test-only `seekcode/debug/documentText`, SEEKCODE_DEBUG_REQUESTS=1);
- no request waits longer than `HANG_BOUND_S` (30 s) for its answer: a bound on hangs, not
  a speed assertion.

Size: CI runs at least `CI_MESSAGES` (10,000) frames over the tests below, counted and
printed. `SEEKCODE_FUZZ_SCALE=N` multiplies every example count (nightly: 20, about
200,000 frames; see README "Reliability").
"""

from __future__ import annotations

import itertools
import json
import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.hardening.edit_model import ModelDocument, wire
from tests.hardening.fuzz_client import CountingClient, id_key

SCALE = int(os.environ.get("SEEKCODE_FUZZ_SCALE", "1"))
CI_MESSAGES = 10_000
FRAME_FLOOR = {"jsonrpc": 3_500, "edits": 6_000, "edits-bundled": 500}  # per test, at SCALE=1; sum >= CI_MESSAGES
assert sum(FRAME_FLOOR.values()) >= CI_MESSAGES

INVALID_PARAMS, REQUEST_CANCELLED, INTERNAL_ERROR, PARSE_ERROR = -32602, -32800, -32603, -32700

ids = itertools.count(1_000_000)
uris = itertools.count()


def fuzz_settings(examples: int):
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        database=None,
        derandomize=SCALE == 1,  # CI: the same inputs every run; nightly: new ones
        suppress_health_check=list(HealthCheck),
        # no shrinking: every step talks to a live server and waits up to the hang bound;
        # the failing sequence is printed as generated
        phases=[Phase.explicit, Phase.generate],
    )


def start(tmp_path_factory, args: list[str]) -> CountingClient:
    log = tmp_path_factory.mktemp("fuzz") / "server.log"
    client = CountingClient(args, env={"SEEKCODE_MODEL": "", "SEEKCODE_DEBUG_REQUESTS": "1"}, log_path=log)
    client.initialize()
    return client


@pytest.fixture(scope="module")
def modelless(tmp_path_factory):
    """No model: completions go through the whole protocol path and answer empty, at once."""
    client = start(tmp_path_factory, ["--model", str(tmp_path_factory.getbasetemp() / "absent.gguf")])
    client.wait_notification("window/showMessage")  # the one 'model does not exist' message
    yield client
    assert client.shutdown() == 0


@pytest.fixture(scope="module")
def bundled(tmp_path_factory, bundled_model):
    """The bundled model, so cancels and supersedes meet real generation."""
    client = start(tmp_path_factory, ["--model", str(bundled_model), "--threads", "1", "--max-tokens", "24"])
    client.wait_model_ready()
    yield client
    assert client.shutdown() == 0


# -- strategies ---------------------------------------------------------------

PIECES = [
    "a", "x = 1", " ", "\t", "\n", "\r\n", "\r", "\r\r\n", "\n\r", "😀", "👍🏽", "e\u0301", "a\u0300\u0316", "中文",
    "\u0000", "\ud800", "\udfff", "\ufeff", "\u200b", "\u2028", "é", "def f():", "    return ", "}", "{", "\x1b[31m",
]
text_piece = st.one_of(
    st.sampled_from(PIECES),
    st.text(max_size=6),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # lone surrogates, legal in JSON strings
    st.integers(1_000, 12_000).map(lambda n: "long_line_" * (n // 10)),
)
texts = st.lists(text_piece, max_size=6).map("".join)
raw = st.integers(0, 1 << 20)  # positions are drawn raw and folded into the document's current shape

change = st.one_of(
    st.tuples(st.just("range"), raw, raw, raw, raw, texts),
    st.tuples(st.just("range"), raw, raw, raw, raw, texts),
    st.tuples(st.just("range"), raw, raw, raw, raw, texts),
    st.tuples(st.just("full"), texts),
)
edit = st.tuples(st.just("change"), st.lists(change, min_size=1, max_size=3))
complete = st.tuples(st.just("complete"), raw, raw, st.sampled_from(["keep", "cancel", "cancel-later"]))
# Mostly edits, so documents live long enough for the edits to pile up; closing (or an
# edit past the end, which makes the server drop its copy) and reopening now and then.
operation = st.one_of(
    edit, edit, edit, edit, edit, complete, complete,
    st.tuples(st.just("close")),
    st.tuples(st.just("past-end-edit"), raw),
    st.tuples(st.just("reopen"), texts),
    st.tuples(st.just("reopen"), texts),
)

json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.floats(allow_nan=False), st.text(max_size=12))
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
METHODS = [
    "textDocument/inlineCompletion", "textDocument/completion", "textDocument/didOpen", "textDocument/didChange",
    "textDocument/didClose", "textDocument/didSave", "textDocument/hover", "textDocument/codeAction",
    "workspace/executeCommand", "$/cancelRequest", "$/setTrace", "$/progress", "window/workDoneProgress/cancel",
    "seekcode/debug/documentText", "seekcode/noSuchThing", "", "initialized",
]
method = st.one_of(st.sampled_from(METHODS), st.text(max_size=20).filter(lambda m: m not in ("exit", "shutdown", "initialize")))
# Params shaped like the real ones, with holes: the server must answer, not hang or die.
position_like = st.fixed_dictionaries({"line": json_value | st.integers(-5, 5), "character": json_value | st.integers(-5, 5)})
shaped_params = st.fixed_dictionaries(
    {"textDocument": st.one_of(json_value, st.fixed_dictionaries({"uri": st.text(max_size=12) | json_value}))},
    optional={"position": position_like, "context": json_value, "contentChanges": json_value, "id": json_value},
)
junk = st.one_of(
    st.tuples(st.just("request"), st.sampled_from(["int", "str"]), method, st.one_of(json_value, shaped_params)),
    st.tuples(st.just("notification"), method, st.one_of(json_value, shaped_params)),
    st.tuples(st.just("odd-id"), st.sampled_from(["float", "list", "object"]), method, json_value),
    st.tuples(st.just("not-2.0"), st.sampled_from(["1.0", None, 2, ""]), method, json_value),
    st.tuples(st.just("body"), json_value),  # any JSON value as a whole message (arrays, numbers, strings)
    st.tuples(st.just("bytes"), st.binary(max_size=64)),  # NUL, invalid UTF-8, truncated JSON
)


# -- helpers --------------------------------------------------------------------

def fold(value: int, size: int) -> int:
    return value % (size + 1) if size >= 0 else 0


def new_id(kind: str = "int"):
    number = next(ids)
    return number if kind == "int" else f"fuzz-{number}"


def range_in(model: ModelDocument, sl: int, sc: int, el: int, ec: int) -> dict:
    lines = len(model.lines())
    start_line, end_line = fold(sl, lines - 1), fold(el, lines - 1)  # always a real line here
    start = {"line": start_line, "character": fold(sc, model.line_units(start_line) + 3)}
    end = {"line": end_line, "character": fold(ec, model.line_units(end_line) + 3)}
    return {"start": start, "end": end}


def expect_request(pending: dict, request_id, allowed: set[int | None]) -> None:
    pending[id_key(request_id)] = allowed


def check_answers(client: CountingClient, pending: dict) -> None:
    client.wait_answers(list(pending))
    for key, allowed in pending.items():
        answer = client.answers[key]
        code = answer["error"]["code"] if "error" in answer else None
        assert code in allowed, f"request {key}: {answer} (allowed {allowed})"
        assert code != INTERNAL_ERROR, f"request {key} crashed a handler: {answer}"


def check_counts(client: CountingClient) -> None:
    """After a round trip, no id (other than null) answered twice or answered unasked."""
    client.call("seekcode/debug/state", {}, new_id())
    with client._condition:
        counts = dict(client.response_counts)
    for key, count in counts.items():
        if key == "null":
            continue
        assert count == 1, f"id {key} answered {count} times"
    unasked = {key for key in counts if key != "null"} - client.requested
    assert not unasked, f"responses to ids never sent as requests: {sorted(unasked)[:5]}"


def server_text(client: CountingClient, uri: str):
    answer = client.call("seekcode/debug/documentText", {"uri": uri}, new_id())
    assert "error" not in answer, answer
    return answer["result"]


# -- the fuzzers -----------------------------------------------------------------

def run_edit_sequence(client: CountingClient, operations, model_idle_answers: set[int | None]) -> None:
    uri = f"file:///fuzz/doc{next(uris)}.py"
    model = ModelDocument("def start():\n    pass\n")
    version = 1
    client.open(uri, model.text, version=version)
    pending: dict = {}
    for operation in operations:
        kind = operation[0]
        if kind == "change":
            version += 1
            changes = []
            for item in operation[1]:
                if item[0] == "range":
                    changes.append({"range": range_in(model, *item[1:5]), "text": item[5]})
                else:
                    changes.append({"text": item[1]})
                model_before = model.open
                # the model must see each change against the text the previous one left
                model.apply([changes[-1]])
                if model_before and not model.open:
                    break
            client.change(uri, version, changes)
        elif kind == "past-end-edit":
            version += 1
            line = len(model.lines()) + fold(operation[1], 3)
            change_item = {"range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}, "text": "z"}
            model.apply([change_item])
            client.change(uri, version, [change_item])
        elif kind == "complete":
            _, line_raw, char_raw, cancel = operation
            lines = len(model.lines()) if model.open else 1
            line = fold(line_raw, lines)  # one past the end on purpose now and then
            character = fold(char_raw, (model.line_units(line) if model.open and line < lines else 0) + 3)
            request_id = new_id()
            if not model.open or line >= lines:
                allowed = {INVALID_PARAMS, REQUEST_CANCELLED}
            else:
                allowed = set(model_idle_answers)
            client.send({"jsonrpc": "2.0", "id": request_id, "method": "textDocument/inlineCompletion",
                                  "params": {"textDocument": {"uri": uri}, "position": {"line": line, "character": character},
                                             "context": {"triggerKind": 2}}})
            expect_request(pending, request_id, allowed)
            if cancel == "cancel":
                client.notify("$/cancelRequest", {"id": request_id})
            elif cancel == "cancel-later" and pending:
                earlier = json.loads(next(iter(pending)))
                client.notify("$/cancelRequest", {"id": earlier})
                pending[id_key(earlier)] = pending[id_key(earlier)] | {REQUEST_CANCELLED}
        elif kind == "close":
            client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
            model.open = False
        elif kind == "reopen":
            version += 1
            model = ModelDocument(operation[1])
            client.open(uri, operation[1], version=version)
    check_answers(client, pending)
    got = server_text(client, uri)
    if not model.open:
        assert got is None, f"the server still holds {uri}, which the model dropped"
    else:
        assert got is not None, f"the server dropped {uri}, which the model still holds"
        assert got["text"] == wire(model.text)
        assert got["version"] == version
    assert client.process.poll() is None


def frames_floor(client: CountingClient, before: int, name: str) -> None:
    sent = client.frames_sent - before
    print(f"\n[fuzz] {name}: {sent} frames sent (scale {SCALE})")
    assert sent >= FRAME_FLOOR[name] * SCALE, f"{name}: only {sent} frames; the CI size promises {FRAME_FLOOR[name]}"


def test_random_jsonrpc(modelless):
    client = modelless
    before = client.frames_sent

    @fuzz_settings(examples=150)
    @given(messages=st.lists(junk, min_size=20, max_size=40))
    def run(messages):
        pending: dict = {}
        for message in messages:
            kind = message[0]
            if kind == "request":
                request_id = new_id(message[1])
                client.send({"jsonrpc": "2.0", "id": request_id, "method": message[2], "params": message[3]})
                expect_request(pending, request_id, {None, INVALID_PARAMS, REQUEST_CANCELLED, -32601, -32600})
            elif kind == "notification":
                client.send({"jsonrpc": "2.0", "method": message[1], "params": message[2]})
            elif kind == "odd-id":  # ids JSON-RPC does not allow; answered or not, never twice
                number = next(ids)
                odd = {"float": number + 0.5, "list": [number], "object": {"n": number}}[message[1]]
                client.send({"jsonrpc": "2.0", "id": odd, "method": message[2], "params": message[3]})
            elif kind == "not-2.0":
                request_id = new_id()
                body = {"id": request_id, "method": message[2], "params": message[3]}
                if message[1] is not None:
                    body["jsonrpc"] = message[1]
                client.send(body)
                expect_request(pending, request_id, {-32600})
            elif kind == "body":
                client.send_raw(json.dumps(message[1]).encode())
            else:
                client.send_raw(message[1])
        check_answers(client, pending)
        assert client.process.poll() is None

    run()
    check_counts(client)
    # the server still does its job after all that
    run_edit_sequence(client, [("change", [("range", 1, 4, 1, 8, "return 1")]), ("complete", 1, 4, "keep")], {None})
    frames_floor(client, before, "jsonrpc")


@pytest.mark.parametrize("server_kind", ["edits", "edits-bundled"])
def test_edit_sequences_match_the_reference_model(server_kind, request):
    client = request.getfixturevalue("modelless" if server_kind == "edits" else "bundled")
    before = client.frames_sent
    examples = 200 if server_kind == "edits" else 25

    @fuzz_settings(examples=examples)
    @given(operations=st.lists(operation, min_size=25, max_size=60))
    def run(operations):
        run_edit_sequence(client, operations, {None, REQUEST_CANCELLED})

    run()
    check_counts(client)
    frames_floor(client, before, server_kind)


def test_ten_megabyte_document(modelless):
    """A pasted 10 MB file: opened, edited at both ends and in the middle, read back whole."""
    client = modelless
    line = "value_{:07d} = compute(alpha, beta) + 'é😀'\n"
    text = "".join(line.format(index) for index in range(10 * 1024 * 1024 // len(line.format(0).encode())))
    assert len(text.encode()) >= 9.5 * 1024 * 1024
    uri = "file:///fuzz/ten-megabytes.py"
    model = ModelDocument(text)
    client.open(uri, text)
    last = len(model.lines()) - 2
    changes = [
        {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "# head\r\n"},
        {"range": {"start": {"line": last, "character": 40}, "end": {"line": last + 1, "character": 0}}, "text": "😀\r"},
        {"range": {"start": {"line": last // 2, "character": 5}, "end": {"line": last // 2 + 3, "character": 2}}, "text": "\u0301"},
    ]
    for version, change_item in enumerate(changes, start=2):
        model.apply([change_item])
        client.change(uri, version, [change_item])
    request_id = new_id()
    client.send({"jsonrpc": "2.0", "id": request_id, "method": "textDocument/inlineCompletion",
                          "params": {"textDocument": {"uri": uri}, "position": {"line": last // 2, "character": 6},
                                     "context": {"triggerKind": 2}}})
    check_answers(client, {id_key(request_id): {None}})
    assert server_text(client, uri)["text"] == wire(model.text)


@pytest.mark.parametrize("body", [
    b'{"jsonrpc": "2.0", "id": 5, "method": "x", "params": "\xff\xfe"}',  # invalid UTF-8
    b'{"jsonrpc": "2.0", "id": 5, "method": "x", "params": "\xc3"}',  # a truncated sequence
    b'{"jsonrpc": "2.0", "id": 5, "method": "x"\x00}',  # NUL outside a string
])
def test_undecodable_bodies_get_a_parse_error_and_serving_goes_on(modelless, body):
    before = modelless.response_counts["null"]
    modelless.send_raw(body)
    answer = modelless.call("seekcode/debug/state", {}, new_id())  # a round trip: the error came first
    assert "result" in answer
    assert modelless.response_counts["null"] == before + 1
    assert modelless.answers["null"]["error"]["code"] == PARSE_ERROR


def test_handled_notifications_are_forgotten(modelless):
    """pygls kept a future per notification forever (the load bench's RSS climbed 2 MB per 1,000 keystrokes)."""
    uri = "file:///fuzz/forgotten.py"
    before = modelless.call("seekcode/debug/state", {}, new_id())["result"]["pending_messages"]  # earlier tests' junk
    modelless.open(uri, "x = 1\n")
    for version in range(2, 2002):
        modelless.change(uri, version, [{"range": {"start": {"line": 0, "character": 5},
                                                   "end": {"line": 0, "character": 5}}, "text": "0"}])
    answer = modelless.call("seekcode/debug/state", {}, new_id())
    assert answer["result"]["pending_messages"] <= before  # 2,001 notifications later, nothing more kept
