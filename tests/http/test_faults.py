"""The HTTP backend against misbehaving loopback servers: each failure is one clear
sentence (never the API key), streams close on early stop and abort, idempotent calls
retry and generations do not."""

from __future__ import annotations

import logging
import threading

import pytest

from lsp_server.backend.base import BackendError, ModelLoadError, StopReason
from lsp_server.backend.http import HttpBackend, HttpOptions
from lsp_server.backend.transport import Endpoint, HttpClient
from tests.http.scripted_server import ScriptedServer, refused_url

SECRET = "sk-test-0123456789abcdef"


@pytest.fixture
def scripted():
    server = ScriptedServer()
    yield server
    server.close()


def connect(url: str, **options) -> HttpBackend:
    return HttpBackend(HttpOptions(url=url, api_key=SECRET, retries=options.pop("retries", 0), **options))


def generate(backend: HttpBackend, **kwargs):
    prompt = backend.tokenize("def add(x):\n    ")
    return backend.generate(prompt, max_tokens=kwargs.pop("max_tokens", 16), **kwargs)


def assert_one_sentence_without_key(error: Exception, *phrases: str) -> None:
    message = str(error)
    assert SECRET not in message and SECRET not in getattr(error, "reason", "")
    assert "\n" not in message and message.endswith(".")
    for phrase in phrases:
        assert phrase in message, message


def test_connects_and_streams_with_the_bearer_token(scripted, caplog):
    caplog.set_level(logging.DEBUG)
    backend = connect(scripted.url)
    assert backend.family_name == "deepseek-coder"  # from the served model's name
    generation = generate(backend)
    assert generation.text == scripted.text
    assert generation.stop_reason is StopReason.END_OF_GENERATION
    request = scripted.completion_requests()[0]
    assert request["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert request["body"]["stream"] is True and request["body"]["model"] == scripted.model_name
    assert request["body"]["prompt"] == "def add(x):\n    "  # the prompt tokens, back as the exact text
    assert SECRET not in caplog.text and SECRET not in repr(backend.options) and SECRET not in repr(backend.client)


def test_connection_refused_is_one_sentence():
    with pytest.raises(ModelLoadError) as caught:
        connect(refused_url())
    assert_one_sentence_without_key(caught.value, "unreachable", "seekcode.backend.url")


def test_401_names_the_key_setting_not_the_key(scripted):
    backend = connect(scripted.url)
    scripted.mode, scripted.status = "status", 401
    with pytest.raises(BackendError) as caught:
        generate(backend)
    assert_one_sentence_without_key(caught.value, "refused the API key", "apiKeyEnv")


def test_500_is_reported_and_a_generation_is_not_retried(scripted):
    backend = connect(scripted.url, retries=3)
    scripted.mode, scripted.status = "status", 500
    with pytest.raises(BackendError) as caught:
        generate(backend)
    assert_one_sentence_without_key(caught.value, "failed (HTTP 500)")
    assert len(scripted.completion_requests()) == 1


def test_server_killed_mid_stream(scripted):
    backend = connect(scripted.url)
    scripted.mode = "die"
    with pytest.raises(BackendError) as caught:
        generate(backend)
    assert_one_sentence_without_key(caught.value, "closed the connection")


def test_malformed_json_event(scripted):
    backend = connect(scripted.url)
    scripted.mode = "garbage"
    with pytest.raises(BackendError) as caught:
        generate(backend)
    assert_one_sentence_without_key(caught.value, "not valid JSON")


def test_slow_server_times_out(scripted):
    backend = connect(scripted.url, read_timeout=0.3)
    scripted.mode, scripted.delay = "slow", 3.0
    with pytest.raises(BackendError) as caught:
        generate(backend)
    assert_one_sentence_without_key(caught.value, "did not answer within 0.3 s")


def test_abort_closes_a_hanging_stream(scripted):
    backend = connect(scripted.url, read_timeout=60)
    scripted.mode = "hang"
    abort = threading.Event()
    seen: list[str] = []

    def on_text(piece: str) -> bool:
        seen.append(piece)
        abort.set()  # the scheduler would set it from another thread; the read is blocked either way
        return False

    generation = generate(backend, abort=abort, on_text=on_text)
    assert generation.stop_reason is StopReason.ABORTED
    assert seen == [scripted.text[0]]
    scripted_disconnected(scripted)


def test_abort_from_another_thread_unblocks_the_read(scripted):
    backend = connect(scripted.url, read_timeout=60)
    scripted.mode = "hang"
    abort = threading.Event()
    first = threading.Event()
    result = {}
    worker = threading.Thread(
        target=lambda: result.update(g=generate(backend, abort=abort, on_text=lambda piece: first.set() or False))
    )
    worker.start()
    assert first.wait(30)
    abort.set()
    worker.join(30)
    assert not worker.is_alive()
    assert result["g"].stop_reason is StopReason.ABORTED


def test_early_stop_closes_the_stream(scripted):
    backend = connect(scripted.url)
    scripted.mode = "hang"  # the server would keep the stream open; the client must close it
    generation = generate(backend, on_text=lambda piece: True)
    assert generation.stop_reason is StopReason.EARLY_STOP
    assert generation.text == scripted.text[0]
    scripted_disconnected(scripted)


def scripted_disconnected(scripted: ScriptedServer) -> None:
    deadline = threading.Event()
    for _ in range(300):
        if scripted.disconnects:
            return
        deadline.wait(0.1)
    raise AssertionError("the server never saw the client close the stream")


def test_idempotent_calls_retry_with_backoff(scripted):
    scripted.mode, scripted.flaky_count = "flaky", 2
    backend = HttpBackend(HttpOptions(url=scripted.url, retries=2))
    assert backend.model_name == scripted.model_name
    assert [request["path"] for request in scripted.requests].count("/v1/models") == 3


def test_key_refused_over_plain_http_to_a_remote_host():
    endpoint = Endpoint.parse("http://10.0.0.7:8080")
    with pytest.raises(ModelLoadError) as caught:
        HttpClient(endpoint, api_key=SECRET)
    assert_one_sentence_without_key(caught.value, "plain HTTP", "allowInsecure")
    HttpClient(endpoint, api_key=SECRET, allow_insecure=True)  # the user said so
    HttpClient(endpoint)  # no key, nothing to protect
    HttpClient(Endpoint.parse("http://localhost:8080"), api_key=SECRET)  # loopback


def test_bad_ca_bundle_is_one_sentence(tmp_path):
    with pytest.raises(ModelLoadError) as caught:
        HttpClient(Endpoint.parse("https://example.invalid"), ca_bundle=str(tmp_path / "missing.pem"))
    assert "caBundle" in str(caught.value)


def test_tls_is_verified_by_default():
    client = HttpClient(Endpoint.parse("https://example.invalid"))
    import ssl

    assert client._ssl_context.verify_mode is ssl.CERT_REQUIRED and client._ssl_context.check_hostname


def test_url_in_messages_has_no_credentials():
    endpoint = Endpoint.parse("https://user:hunter2@box.example:8443/v1?token=abc")
    assert endpoint.display == "https://box.example:8443/v1"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed; it makes the test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return str(cert), str(key)


def test_tls_certificate_is_verified_and_a_ca_bundle_is_honoured(certificate):
    server = ScriptedServer(tls=certificate)
    try:
        assert server.url.startswith("https://")
        with pytest.raises(ModelLoadError) as caught:
            connect(server.url)  # the system CAs do not know this certificate
        assert_one_sentence_without_key(caught.value, "could not be verified", "caBundle")
        backend = connect(server.url, ca_bundle=certificate[0])
        assert generate(backend).text == server.text
        assert server.completion_requests()[-1]["headers"]["Authorization"] == f"Bearer {SECRET}"
    finally:
        server.close()
