"""The real server over stdio: capabilities, encodings, settings, errors, robustness."""

from __future__ import annotations

import json

import pytest

from tests.lsp.lsp_client import LspError

URI = "file:///work/example.py"


def test_capabilities_advertise_inline_and_plain_completion_with_incremental_sync(start_server, tiny_gguf):
    client = start_server(["--model", str(tiny_gguf)])
    capabilities = client.initialize()["capabilities"]
    assert capabilities["inlineCompletionProvider"] == {} or capabilities["inlineCompletionProvider"] is True \
        or isinstance(capabilities["inlineCompletionProvider"], dict)
    assert "completionProvider" in capabilities
    assert capabilities["textDocumentSync"]["change"] == 2  # incremental
    assert capabilities["textDocumentSync"]["openClose"] is True
    assert capabilities["positionEncoding"] == "utf-16"


@pytest.mark.parametrize("offered, chosen", [(["utf-8", "utf-16"], "utf-8"), (["utf-32"], "utf-32"), (None, "utf-16")])
def test_position_encoding_negotiation(start_server, tiny_gguf, offered, chosen):
    client = start_server(["--model", str(tiny_gguf)])
    assert client.initialize(position_encodings=offered)["capabilities"]["positionEncoding"] == chosen


def test_model_load_reports_progress(server):
    created = [r for r in server.server_requests if r["method"] == "window/workDoneProgress/create"]
    assert created, "the server should ask for a progress token when the client supports it"
    token = created[0]["params"]["token"]
    kinds = [m["params"]["value"]["kind"] for m in server.messages("$/progress") if m["params"]["token"] == token]
    assert kinds[0] == "begin" and kinds[-1] == "end"


def test_missing_model_shows_one_error_and_answers_empty(start_server, tmp_path):
    client = start_server(["--model", str(tmp_path / "nowhere.gguf")])
    client.initialize()
    message = client.wait_notification("window/showMessage")
    assert message["params"]["type"] == 1  # Error
    assert "nowhere.gguf" in message["params"]["message"] and "does not exist" in message["params"]["message"]
    client.open(URI, "def f():\n    return 1\n")
    assert client.inline(URI, 1, 4) == {"items": []}
    assert client.completion(URI, 1, 4)["items"] == []
    assert len(client.messages("window/showMessage")) == 1  # not once per request


def test_without_a_configured_model_the_bundled_one_is_used_or_explained(start_server):
    from lsp_server.default_model import bundled_model_path

    client = start_server()  # no --model, SEEKCODE_MODEL empty
    client.initialize()
    if bundled_model_path() is not None:
        client.wait_model_ready(timeout=300)
        loaded = client.messages("window/logMessage")[-1]["params"]["message"]
        assert "(bundled;" in loaded and "layout spm-tail" in loaded
    else:
        message = client.wait_notification("window/showMessage")
        assert "SEEKCODE_MODEL" in message["params"]["message"]


def test_model_resolution_order(tmp_path, tiny_gguf):
    from lsp_server.settings import Settings, resolve_model

    bundled_dir = tmp_path / "bundled"
    bundled_dir.mkdir()
    assert resolve_model(Settings(), {}, bundled_dir).source == "none"
    (bundled_dir / "default.gguf").write_bytes(b"GGUF")
    assert resolve_model(Settings(), {}, bundled_dir).path == bundled_dir / "default.gguf"
    from_env = resolve_model(Settings(), {"SEEKCODE_MODEL": str(tiny_gguf)}, bundled_dir)
    assert (from_env.source, from_env.path) == ("environment", tiny_gguf)
    explicit = resolve_model(Settings(model="/x/y.gguf"), {"SEEKCODE_MODEL": str(tiny_gguf)}, bundled_dir)
    assert (explicit.source, str(explicit.path)) == ("setting", "/x/y.gguf")


def test_fim_layout_setting_and_the_bundled_models_own(tmp_path):
    from lsp_server.default_model import BUNDLED_LAYOUT
    from lsp_server.settings import ModelChoice, Settings, SettingsError, resolve_layout

    bundled, configured = ModelChoice(tmp_path / "b.gguf", "bundled"), ModelChoice(tmp_path / "c.gguf", "setting")
    assert resolve_layout(Settings(), bundled) == BUNDLED_LAYOUT
    assert resolve_layout(Settings(), configured) is None  # the family's own layout
    psm = Settings().merged({"fimLayout": "psm"})
    assert resolve_layout(psm, bundled) == resolve_layout(psm, configured) == "psm"
    with pytest.raises(SettingsError, match="fimLayout"):
        Settings().merged({"fimLayout": "middle-out"})


def test_unloadable_model_keeps_serving(start_server, tmp_path):
    bogus = tmp_path / "broken.gguf"
    bogus.write_bytes(b"GGUF" + b"\x00" * 64)
    client = start_server(["--model", str(bogus)])
    client.initialize()
    message = client.wait_notification("window/showMessage")
    assert "broken.gguf" in message["params"]["message"]
    client.open(URI, "x = 1\n")
    assert client.inline(URI, 0, 5) == {"items": []}


def test_model_from_environment_and_initialization_options(start_server, tiny_gguf, tmp_path):
    from_env = start_server(env={"SEEKCODE_MODEL": str(tiny_gguf)})
    from_env.initialize()
    from_env.wait_model_ready()
    from_options = start_server(env={"SEEKCODE_MODEL": str(tmp_path / "wrong.gguf")})
    from_options.initialize(initialization_options={"model": str(tiny_gguf), "maxTokens": 8})
    from_options.wait_model_ready()
    assert not from_options.messages("window/showMessage")


def test_did_change_configuration_reloads_the_model(start_server, tiny_gguf, tmp_path):
    client = start_server(["--model", str(tmp_path / "first-missing.gguf")])
    client.initialize()
    client.wait_notification("window/showMessage")
    client.notify("workspace/didChangeConfiguration", {"settings": {"seekcode": {"model": str(tiny_gguf)}}})
    client.wait_model_ready()
    client.open(URI, "def add(a, b):\n    return ")
    result = client.inline(URI, 1, 11)
    assert isinstance(result["items"], list)


def test_settings_pulled_with_workspace_configuration(start_server, tiny_gguf, tmp_path):
    client = start_server(["--model", str(tmp_path / "missing.gguf")])
    client.configuration = {"model": str(tiny_gguf)}  # what the editor answers for section "seekcode"
    client.initialize()
    client.wait_model_ready()
    pulls = [r for r in client.server_requests if r["method"] == "workspace/configuration"]
    assert pulls and pulls[0]["params"]["items"] == [{"section": "seekcode"}]


def test_change_notification_without_settings_pulls_them(start_server, tiny_gguf, tmp_path):
    client = start_server(["--model", str(tmp_path / "missing.gguf")])
    client.initialize()
    client.wait_notification("window/showMessage")
    client.configuration = {"model": str(tiny_gguf)}
    client.notify("workspace/didChangeConfiguration", {"settings": None})
    client.wait_model_ready()


def test_bad_setting_value_is_reported_and_ignored(start_server, tiny_gguf):
    client = start_server(["--model", str(tiny_gguf)])
    client.initialize(initialization_options={"maxTokens": "many"})
    message = client.wait_notification("window/showMessage")
    assert "max_tokens" in message["params"]["message"]
    client.wait_model_ready()


def test_malformed_messages_get_errors_and_the_server_keeps_serving(server):
    server.send_raw(b"{this is not json")
    parse_error = server.response(None)
    assert parse_error["error"]["code"] == -32700

    bad_params = server.request_async("textDocument/inlineCompletion", {"textDocument": 5, "position": "here"})
    assert server.response(bad_params)["error"]["code"] == -32602

    server.send({"id": 99, "method": "textDocument/inlineCompletion"})  # no "jsonrpc"
    assert server.response(99)["error"]["code"] == -32600

    unknown = server.request_async("seekcode/noSuchMethod", {})
    assert server.response(unknown)["error"]["code"] == -32601

    server.open(URI, "value = 1\n")
    assert "items" in server.inline(URI, 0, 9)


def test_unpaired_surrogate_in_a_document_is_served(server):
    text = "bad = '\ud800'\nnext = "  # JSON allows a lone surrogate; Python keeps it
    server.open(URI, text)
    result = server.inline(URI, 1, 7)
    assert "items" in result
    for item in result["items"]:
        assert item["range"]["start"] == {"line": 1, "character": 7}


def test_out_of_range_positions(server):
    server.open(URI, "short = 1\nline two\n")
    with pytest.raises(LspError) as past_end:
        server.inline(URI, 7, 0)
    assert past_end.value.code == -32602 and "past the end" in past_end.value.message
    with pytest.raises(LspError) as negative_line:
        server.completion(URI, -1, 0)
    assert negative_line.value.code == -32602
    # a character past the end of a line clamps to the line's end (LSP spec)
    result = server.inline(URI, 0, 400)
    for item in result["items"]:
        assert item["range"]["start"] == {"line": 0, "character": 9}
    with pytest.raises(LspError) as not_open:
        server.inline("file:///never/opened.py", 0, 0)
    assert not_open.value.code == -32602 and "didOpen" in not_open.value.message
    assert "items" in server.inline(URI, 1, 8)  # still serving


def test_requests_after_shutdown_are_refused_and_exit_ends_the_process(server):
    assert server.request("shutdown", None) is None
    refused = server.request_async("textDocument/inlineCompletion", {
        "textDocument": {"uri": URI}, "position": {"line": 0, "character": 0}, "context": {"triggerKind": 2}})
    assert server.response(refused)["error"]["code"] == -32600
    server.notify("exit", None)
    assert server.process.wait(30) == 0


def test_stdout_carries_only_protocol_frames(server):
    """Every byte on stdout was parsed as a frame by the client (no stray native prints)."""
    server.open(URI, "def f(x):\n    return x")
    server.inline(URI, 1, 12)
    assert server.process.poll() is None
    assert json.dumps(server.request("shutdown", None)) == "null"
    assert not server.stray_output
