"""A configuration change that repeats the settings of the load in flight starts no second load
(Neovim sends workspace/didChangeConfiguration right after `initialized`)."""

from __future__ import annotations

URI = "file:///tmp/reload.py"


def load_titles(client) -> list[str]:
    return [
        message["params"]["value"].get("title")
        for message in client.messages("$/progress")
        if message["params"]["value"].get("kind") == "begin"
    ]


def test_same_settings_right_after_initialized_load_once(start_server, tiny_gguf):
    client = start_server()
    settings = {"model": str(tiny_gguf), "threads": 1}
    client.configuration = settings
    client.initialize(initialization_options=settings)
    client.notify("workspace/didChangeConfiguration", {"settings": {"seekcode": settings}})
    client.wait_model_ready()
    client.open(URI, "def add(a, b):\n    return ")
    assert isinstance(client.inline(URI, 1, 11)["items"], list)  # the server has read everything sent
    creates = [r for r in client.server_requests if r["method"] == "window/workDoneProgress/create"]
    assert len(creates) == 1, "the model load started twice"
    assert load_titles(client) == ["seekcode: loading model"]


def test_changed_model_settings_load_again(start_server, tiny_gguf):
    client = start_server()
    client.configuration = {"model": str(tiny_gguf), "threads": 1}
    client.initialize(initialization_options={"model": str(tiny_gguf), "threads": 1})
    client.wait_model_ready()
    client.configuration = {"model": str(tiny_gguf), "threads": 2}
    client.notify("workspace/didChangeConfiguration", {"settings": {"seekcode": client.configuration}})
    client.wait_notification(
        "window/logMessage", 60, lambda m: len([n for n in client.messages("window/logMessage")
                                               if "loaded" in n["params"]["message"]]) == 2)
    assert load_titles(client) == ["seekcode: loading model"] * 2
