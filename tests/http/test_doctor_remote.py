"""`seekcode-lsp doctor --url`: the remote server checked (reachable, dialect, model, context,
family and FIM layout, a timed completion), and its failures as PROBLEM/fix lines that never
show the API key: a real llama-cpp-python server, a refused port, and a server answering 401."""

from __future__ import annotations

import pytest

from tests.http.scripted_server import ScriptedServer, refused_url
from tests.lsp.test_cli import run_cli

SECRET = "sk-doctor-secret-4242"


def test_doctor_checks_a_real_server(llama_cpp_server, tiny_context):
    done = run_cli("doctor", "--url", llama_cpp_server, "--family", "deepseek-coder",
                   "--ctx-size", str(tiny_context), env={"SEEKCODE_API_KEY": SECRET})
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"server: {llama_cpp_server} (openai dialect)" in out
    assert "API key from $SEEKCODE_API_KEY" in out
    assert "model tiny-seekcode, reached in " in out
    assert "family deepseek-coder (the setting), FIM layout psm" in out
    assert f"context window {tiny_context} tokens" in out
    assert "constrained answers by GBNF grammar" in out  # llama-cpp-python takes `grammar`
    assert "completion: " in out and " ms for " in out
    assert out.rstrip().endswith(f"ok: seekcode can serve completions from the server at {llama_cpp_server}.")
    assert SECRET not in out + done.stderr
    assert "llama.cpp: " not in out  # no local model is loaded for a remote backend


def test_doctor_names_a_server_without_a_family(llama_cpp_server):
    done = run_cli("doctor", "--url", llama_cpp_server)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "family plain (found from the server)" in done.stdout
    assert "set 'seekcode.backend.family' (--family)" in done.stdout


def test_doctor_reports_a_refused_port_with_the_fix():
    url = refused_url()
    done = run_cli("doctor", "--url", url)
    assert done.returncode == 1
    assert f"PROBLEM: The inference server at {url} is unreachable" in done.stdout
    assert "fix: start it or fix 'seekcode.backend.url'" in done.stdout
    assert done.stdout.rstrip().endswith("1 problem(s) found.") and "Traceback" not in done.stderr


@pytest.mark.parametrize("key_env", [{"SEEKCODE_API_KEY": SECRET}, {}])
def test_doctor_reports_a_refused_key_without_echoing_it(key_env):
    server = ScriptedServer()
    try:
        server.mode, server.status = "status", 401
        done = run_cli("doctor", "--url", server.url, env={"SEEKCODE_API_KEY": "", **key_env})
    finally:
        server.close()
    assert done.returncode == 1, done.stdout
    assert "refused the API key (HTTP 401)" in done.stdout
    assert "fix: set a valid key in the environment variable named by 'seekcode.backend.apiKeyEnv'" in done.stdout
    assert ("API key from $SEEKCODE_API_KEY" if key_env else "API key none ($SEEKCODE_API_KEY is not set)") in done.stdout
    assert SECRET not in done.stdout + done.stderr
