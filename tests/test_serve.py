"""The web server: its JSON API (validated, one-line errors, never a traceback) in-process, and
its chat page in a real headless Chromium driven by Selenium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from personafuse.retrieval import load_index

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def index_dir(tiny_hre_run, tmp_path_factory):
    from personafuse.index import main

    out = tmp_path_factory.mktemp("serve") / "idx"
    main([f"ckpt_path={tiny_hre_run / 'checkpoints' / 'best.ckpt'}", f"out={out}"])
    return out


@pytest.fixture(scope="module")
def responder(tiny_hre_run, index_dir):
    from personafuse import Ranker

    ranker = Ranker.from_checkpoint(tiny_hre_run / "checkpoints" / "best.ckpt", device="cpu")
    return load_index(index_dir, ranker)


@pytest.fixture(scope="module")
def client(responder):
    from fastapi.testclient import TestClient

    from personafuse.serve import create_app

    return TestClient(create_app(responder), raise_server_exceptions=False)


PERSONA = ["i have a dog .", "i like hiking ."]


def test_reply_and_rank_give_the_models_answers(client, responder):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["reads"] == ["self"]
    assert health["pool_size"] == len(responder.pool) and health["model"] == "hre"
    context = ["hi , how are you ?", "good . do you have any pets ?"]
    answer = client.post("/reply", json={"context": context, "self_persona": PERSONA,
                                         "top_k": 3})  # fmt: skip
    assert answer.status_code == 200
    expected = responder.reply(context, self_persona=PERSONA, top_k=3)
    assert answer.json()["replies"] == [
        {"text": r.text, "score": pytest.approx(r.score, abs=1e-6), "index": r.index}
        for r in expected
    ]
    candidates = ["i like dogs .", "i work at a bank .", "my dog is called rex ."]
    ranked = client.post("/rank", json={"context": context, "candidates": candidates,
                                        "self_persona": PERSONA}).json()["ranked"]  # fmt: skip
    direct = responder.ranker.rank(context, candidates, PERSONA)
    assert [(r["index"], r["text"]) for r in ranked] == [(r.index, r.text) for r in direct]


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/reply", {"context": [], "self_persona": PERSONA}, 422,
         "context: List should have at least 1 item"),
        ("/reply", {"context": ["x" * 1001], "self_persona": PERSONA}, 422,
         "context.0: String should have at most 1000 characters"),
        ("/reply", {"context": ["hi ."], "self_persona": PERSONA, "top_k": 0}, 422,
         "top_k: Input should be greater than or equal to 1"),
        ("/reply", {"context": ["hi ."], "persona": PERSONA}, 422, "persona: Extra inputs"),
        ("/rank", {"context": ["hi ."], "self_persona": PERSONA, "candidates": ["a ."] * 1001},
         422, "candidates: List should have at most 1000 items"),
        ("/reply", {"context": ["hi ."]}, 400, "no self_persona, but this model was trained"),
        ("/reply", {"context": ["hi ."], "self_persona": PERSONA, "partner_persona": ["x ."]},
         400, "partner_persona given, but this model was trained with persona=self"),
        ("/reply", "{not json", 422, "the body is not valid JSON"),
        ("/reply", "x" * 1_000_001, 413, "request body over 1,000,000 bytes"),
    ],
)  # fmt: skip
def test_bad_requests_get_one_json_line(client, path, body, status, error):
    if isinstance(body, str):
        response = client.post(path, content=body, headers={"content-type": "application/json"})
    else:
        response = client.post(path, json=body)
    assert response.status_code == status
    assert set(response.json()) == {"error"}
    assert response.json()["error"].startswith(error) or error in response.json()["error"]
    assert "\n" not in response.json()["error"] and "Traceback" not in response.text


def test_a_chunked_body_over_the_limit_and_unknown_paths_are_one_json_line(client):
    chunks = (b"x" * 100_000 for _ in range(20))  # no content-length: read and counted
    response = client.post("/reply", content=chunks, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"error": "request body over 1,000,000 bytes"}
    assert client.get("/nowhere").json() == {"error": "Not Found"}


def test_a_failure_inside_is_a_500_without_a_traceback(responder, monkeypatch):
    from fastapi.testclient import TestClient

    from personafuse.serve import create_app

    client = TestClient(create_app(responder), raise_server_exceptions=False)
    monkeypatch.setattr(responder, "request", lambda *a, **k: 1 / 0)  # the first stage
    response = client.post("/reply", json={"context": ["hi ."], "self_persona": PERSONA})
    assert response.status_code == 500
    assert response.json() == {"error": "internal error; see the server log"}
    monkeypatch.setattr(responder, "prepare", lambda *a, **k: 1 / 0)  # in the scoring thread
    monkeypatch.undo()
    monkeypatch.setattr(responder.ranker, "score_requests", lambda *a, **k: 1 / 0)
    response = client.post("/reply", json={"context": ["hi ."], "self_persona": PERSONA})
    assert response.status_code == 500
    assert response.json() == {"error": "internal error; see the server log"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_hre_run, index_dir):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "personafuse.serve",
         f"ckpt_path={tiny_hre_run / 'checkpoints' / 'best.ckpt'}", f"index={index_dir}",
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited: {process.stdout.read()[-2000:]}")
        try:
            urllib.request.urlopen(url + "health", timeout=1)
            break
        except OSError:
            time.sleep(0.3)
    yield url
    process.terminate()
    process.wait(timeout=30)


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="Debian's chromium and chromium-driver are not installed (make test installs them)",
)
def test_chat_page_in_a_headless_browser(server, responder, tmp_path):
    """Two browser sessions chat at the same time, each with its own persona and message: each
    page shows its own dialogue and the replies its inputs get alone."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as expected
    from selenium.webdriver.support.ui import WebDriverWait

    def browser(name: str):
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={tmp_path / name}"):  # fmt: skip
            options.add_argument(flag)
        return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)

    sessions = {
        "a": (PERSONA, "hi , do you have any pets ?"),
        "b": (["i am a nurse .", "i like to cook ."], "what do you do for a living ?"),
    }
    drivers = {name: browser(name) for name in sessions}
    try:
        for name, driver in drivers.items():  # both pages up, both messages typed
            persona, message = sessions[name]
            driver.get(server)
            wait = WebDriverWait(driver, 30)
            wait.until(expected.text_to_be_present_in_element((By.ID, "model"), "model=hre"))
            assert driver.find_element(By.ID, "bot-note").text == "the model reads it"
            driver.find_element(By.ID, "bot-persona").send_keys("\n".join(persona))
            top = driver.find_element(By.ID, "top")
            top.clear()
            top.send_keys("3")
            driver.find_element(By.ID, "message").send_keys(message)
        for driver in drivers.values():  # sent together
            driver.find_element(By.ID, "send").click()
        for name, driver in drivers.items():
            persona, message = sessions[name]
            wait = WebDriverWait(driver, 30)
            bot = wait.until(expected.presence_of_element_located((By.CSS_SELECTOR,
                                                                   ".turn.bot")))  # fmt: skip
            alone = responder.reply([message], self_persona=persona, top_k=3)
            assert bot.text == alone[0].text
            rows = driver.find_elements(By.CSS_SELECTOR, "#top-replies tr")
            assert [row.text.split(" ", 2)[2] for row in rows] == [r.text for r in alone]
            assert rows[0].text.split(" ")[1] == f"{alone[0].score:.4f}"
            users = driver.find_elements(By.CSS_SELECTOR, ".turn.user")
            assert len(users) == 1 and message in users[0].text  # its own dialogue only
    finally:
        for driver in drivers.values():
            driver.quit()


CONTEXTS = [
    ["hi , how are you ?"],
    ["hello !", "do you have any pets ?"],
    ["what do you do for work ?"],
    ["i like to hike on weekends .", "do you ?"],
]


def test_concurrent_requests_are_scored_together_each_with_its_own_answer(server, responder):
    """16 clients at once: the requests are batched (fewer forwards than requests) and each
    answer is the one its request gets alone."""
    import concurrent.futures
    import json

    def ask(index: int) -> list[dict]:
        body = {"context": CONTEXTS[index % 4], "self_persona": PERSONA[index % 2 :], "top_k": 3}
        request = urllib.request.Request(server + "reply", json.dumps(body).encode(),
                                         {"content-type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())["replies"]

    before = json.loads(urllib.request.urlopen(server + "health").read())["batches"]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(32)))
    after = json.loads(urllib.request.urlopen(server + "health").read())["batches"]
    assert 0 < after - before < 32  # some requests shared a forward
    for index, replies in enumerate(answers):
        alone = responder.reply(CONTEXTS[index % 4], self_persona=PERSONA[index % 2 :], top_k=3)
        assert [r["index"] for r in replies] == [r.index for r in alone]
        assert [r["score"] for r in replies] == pytest.approx([r.score for r in alone], abs=1e-5)


def test_an_existing_rerank_client_talks_to_the_server(server, responder):
    """Cohere's own Python client, pointed at the server: POST /v1/rerank."""
    cohere = pytest.importorskip("cohere")

    client = cohere.Client(api_key="local", base_url=server.rstrip("/"))
    documents = ["i have a dog named rex .", "i work as a nurse .", "yes , i love hiking .",
                 "no , i do not have pets ."]  # fmt: skip
    query = "do you have any pets ?"
    # The server's model reads the self persona: an extension field of the request body.
    answer = client.rerank(query=query, documents=documents, top_n=3, return_documents=True,
                           request_options={"additional_body_parameters":
                                            {"self_persona": PERSONA}})  # fmt: skip
    expected = responder.ranker.rank([query], documents, self_persona=PERSONA, top_k=3)
    assert [r.index for r in answer.results] == [r.index for r in expected]
    assert [r.document.text for r in answer.results] == [r.text for r in expected]
    relevance = [r.relevance_score for r in answer.results]
    assert relevance == sorted(relevance, reverse=True) and all(0 < r < 1 for r in relevance)

    extended = {"self_persona": PERSONA, "context": ["hi !"]}
    plain = client.rerank(
        query=query,
        documents=[{"text": d} for d in documents],
        request_options={"additional_body_parameters": extended},
    )
    assert len(plain.results) == 4 and plain.results[0].document is None
    body = b'{"query": "hi", "documents": ["a ."]}'
    missing = urllib.request.Request(
        server + "v1/rerank", body, {"content-type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(missing, timeout=30)
    assert refused.value.code == 400  # the model reads a persona, and none was given
