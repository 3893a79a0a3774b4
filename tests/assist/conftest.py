"""Fixtures for the docstring/tests features: the bundled GGUF (a real base model run
by FIM), a converter-made tiny GGUF that carries a chat template (the instruct path),
and real server subprocesses with a client that applies workspace edits."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

from lsp_server.default_model import bundled_model_path
from tests.lsp.lsp_client import LspClient

# A ChatML template written for these tests (the shape Qwen-style instruct models use).
CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@pytest.fixture(scope="session")
def bundled_gguf() -> Path:
    path = bundled_model_path()
    assert path is not None, "the bundled model lsp_server/default_model/*.gguf is part of the repository"
    return path


@pytest.fixture(scope="session")
def chat_gguf(tmp_path_factory) -> Path:
    """model.tiny checkpoint with a chat template in tokenizer_config.json, converted by our converter."""
    from model.tiny import write_tiny_checkpoint

    import convert

    root = tmp_path_factory.mktemp("tiny-chat-model")
    checkpoint = write_tiny_checkpoint(root / "checkpoint", seed=1)
    config_path = checkpoint / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.exists() else {}
    config["chat_template"] = CHATML_TEMPLATE
    config_path.write_text(json.dumps(config), encoding="utf-8")
    return convert.convert_checkpoint(checkpoint, root / "tiny-chat-q8_0.gguf", "q8_0")


class AssistClient(LspClient):
    """Answers workspace/applyEdit (recording the edits) and can cancel progress."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.applied_edits: list[dict[str, Any]] = []
        super().__init__(*args, **kwargs)

    def _answer(self, request: dict[str, Any]) -> Any:
        if request["method"] == "workspace/applyEdit":
            self.applied_edits.append(request["params"]["edit"])
            return {"applied": True}
        return super()._answer(request)

    def initialize_assist(self, resolve_edits: bool = True) -> dict[str, Any]:
        capabilities: dict[str, Any] = {
            "window": {"workDoneProgress": True},
            "workspace": {"configuration": True, "applyEdit": True, "workspaceEdit": {"documentChanges": True}},
            "textDocument": {"inlineCompletion": {}, "completion": {}, "codeAction": {
                "resolveSupport": {"properties": ["edit"] if resolve_edits else []},
                "codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["refactor.rewrite", "source", "quickfix"]}},
            }},
        }
        result = self.request("initialize", {"processId": os.getpid(), "rootUri": None, "capabilities": capabilities})
        self.notify("initialized", {})
        return result


@pytest.fixture
def start_assist_server(tmp_path):
    clients: list[AssistClient] = []

    def start(args: list[str]) -> AssistClient:
        client = AssistClient(args, env={"SEEKCODE_MODEL": ""}, log_path=tmp_path / f"server{len(clients)}.log")
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.shutdown()
    for client in clients:
        assert not client.stray_output, f"non-LSP bytes on the server's stdout: {client.stray_output[:3]}"
