"""Serve a trained ranker over an indexed response pool: a JSON API and a chat page.

``python -m personafuse.serve ckpt_path=PATH index=DIR [--port 8000] [--host 127.0.0.1]``

Endpoints:
    GET  /         the chat page: persona boxes, the conversation, the top replies with scores
    GET  /health   the model (model, fusion, persona it reads, weights digest), the pool size
    POST /rank     {"context": [...], "candidates": [...], "self_persona": [...],
                   "partner_persona": [...], "top_k": N} -> {"ranked": [{text, score, index}]}
    POST /reply    {"context": [...], "self_persona": [...], "partner_persona": [...],
                   "top_k": N} -> {"replies": [{text, score, index}]} from the pool
    GET  /docs     the OpenAPI page

Inputs are bounded (see :data:`LIMITS`); a bad request gets one JSON line
``{"error": "..."}`` (400, 413 or 422), never a traceback. The server binds to 127.0.0.1
unless told otherwise: it has no authentication.

Arguments:
    ckpt_path: The ranker's checkpoint (``RUN_DIR/checkpoints/best.ckpt``) or model folder
        (``Ranker.save_pretrained``; or a Hugging Face hub repository holding one).
    index: The directory ``python -m personafuse.index`` wrote for that checkpoint.
    host, port: Where to listen (default 127.0.0.1:8000).
    first_stage: BM25 candidates reranked per reply (default 10; docs/benchmarks.md has the
        recall and latency of each size).
    query: What BM25 searches the pool with: ``last_turn+persona`` (default: the last
        utterance and the bot's persona), ``last_turn``, ``dialogue+persona`` or ``dialogue``.
    backend: ``torch`` (default), or for a BERT model folder ``onnx`` / ``onnx-int8``.
    max_batch, wait_ms: Requests that arrive within ``wait_ms`` (default 5) of each other are
        scored in one forward, up to ``max_batch`` (default 16; 1 answers one at a time).

Examples::

    python -m personafuse.serve ckpt_path=RUN/checkpoints/best.ckpt index=RUN/index
    python -m personafuse.serve ckpt_path=RUN/checkpoints/best.ckpt index=RUN/index --port 9000
    curl -s localhost:8000/reply -H 'content-type: application/json' \\
        -d '{"context": ["hi , do you have pets ?"], "self_persona": ["i have a dog ."]}'
"""

# No ``from __future__ import annotations`` here: FastAPI reads the request models from the
# endpoints' annotations, which must be real classes, not strings, for models built in a
# function.
import logging
import sys
import uuid
from importlib import resources
from typing import Annotated, Any

__all__ = ["LIMITS", "create_app", "main"]

ARGUMENTS = ("ckpt_path", "index", "host", "port", "first_stage", "query", "backend", "max_batch",
             "wait_ms")  # fmt: skip
LIMITS = {
    "text_chars": 1000,  # one utterance, candidate or profile sentence
    "context_utterances": 100,
    "candidates": 1000,
    "persona_sentences": 20,
    "top_k": 100,
    "body_bytes": 1_000_000,
}
log = logging.getLogger(__name__)


def _models():
    """The request bodies, built on first use (pydantic is imported with FastAPI)."""
    from pydantic import BaseModel, ConfigDict, Field, StringConstraints

    Text = Annotated[str, StringConstraints(min_length=1, max_length=LIMITS["text_chars"])]
    persona = Annotated[list[Text], Field(max_length=LIMITS["persona_sentences"])]

    class Dialogue(BaseModel):
        model_config = ConfigDict(extra="forbid")
        context: Annotated[list[Text], Field(min_length=1,
                                             max_length=LIMITS["context_utterances"])]  # fmt: skip
        self_persona: persona = []
        partner_persona: persona = []

    class ReplyRequest(Dialogue):
        top_k: Annotated[int, Field(ge=1, le=LIMITS["top_k"])] = 1

    class RankRequest(Dialogue):
        candidates: Annotated[list[Text], Field(min_length=1, max_length=LIMITS["candidates"])]
        top_k: Annotated[int | None, Field(ge=1, le=LIMITS["candidates"])] = None

    class Document(BaseModel):
        model_config = ConfigDict(extra="allow")  # a document object's other fields
        text: Text

    class RerankRequest(BaseModel):
        """The common rerank API (Cohere's, Jina's, text-embeddings-inference's): ``query`` is
        the last utterance; ``context`` (the dialogue before it) and the personas extend it."""

        model_config = ConfigDict(extra="forbid")
        query: Text
        documents: Annotated[list[Text | Document],
                             Field(min_length=1, max_length=LIMITS["candidates"])]  # fmt: skip
        top_n: Annotated[int | None, Field(ge=1, le=LIMITS["candidates"])] = None
        return_documents: bool = False
        model: str | None = None  # the server has one model; any name is accepted
        rank_fields: list[str] | None = None  # documents are ranked by their text
        max_chunks_per_doc: int | None = None
        max_tokens_per_doc: int | None = None
        context: Annotated[list[Text], Field(max_length=LIMITS["context_utterances"])] = []
        self_persona: persona = []
        partner_persona: persona = []

    return ReplyRequest, RankRequest, RerankRequest


def _one_line(errors) -> str:
    """Pydantic's first error as ``field.path: message`` (and how many more)."""
    first = errors[0]
    if first.get("type") == "json_invalid":
        return f"the body is not valid JSON: {first.get('ctx', {}).get('error', 'unreadable')}"
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}{more}"


class BodyLimit:
    """Counts a request body's bytes as they are read, so a chunked body (which declares no
    length) is also stopped at ``limit``: a 413 through the app's error handler."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from starlette.exceptions import HTTPException

        read = 0

        async def counted():
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > self.limit:
                raise HTTPException(413)
            return message

        return await self.app(scope, counted, send)


def _fields(body: Any) -> dict[str, Any]:
    """A validated request body's fields (the models are built at run time: ``_models``)."""
    return body.model_dump()


def _relevance(ranker, scores: list[float]) -> list[float]:
    """Scores as the rerank API's ``relevance_score`` in [0, 1]: the model's own probability,
    a sigmoid per pair where it was trained per pair (BERT), else the softmax over the
    documents (listwise training, HRE and IMN)."""
    import torch

    values = torch.tensor(scores, dtype=torch.float64)
    loss = ranker.config.model.get("loss") if ranker.config is not None else None
    probabilities = values.sigmoid() if loss == "binary" else values.softmax(0)
    return probabilities.tolist()


def create_app(responder, wait_ms: float = 5.0, max_batch: int = 16):
    """The FastAPI app around a :class:`~personafuse.retrieval.TwoStageResponder`; requests
    that arrive within ``wait_ms`` of each other are scored together, up to ``max_batch``."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from personafuse import __version__
    from personafuse.inference.batching import RequestBatcher
    from personafuse.inference.ranker import Request as Scoring
    from personafuse.inference.ranker import best_first

    ReplyRequest, RankRequest, RerankRequest = _models()
    ranker = responder.ranker

    def score(items: list) -> list:
        """One forward for every request that arrived together (the only thread that runs
        the model and touches its caches)."""
        for rows, request in items:
            if rows is not None:
                responder.prepare(rows, request)
        return ranker.score_requests([request for _, request in items])

    batcher = RequestBatcher(score, wait_ms, max_batch)
    app = FastAPI(title="personafuse", version=__version__,
                  description="Persona-fusion response selection over a response pool")  # fmt: skip
    app.add_middleware(BodyLimit, limit=LIMITS["body_bytes"])
    app.state.batcher = batcher

    @app.middleware("http")
    async def no_traceback(request: Request, call_next):
        length = request.headers.get("content-length", "0")
        if not length.isdecimal() or int(length) > LIMITS["body_bytes"]:  # refused unread
            return JSONResponse({"error": f"request body over {LIMITS['body_bytes']:,} bytes"},
                                status_code=413)  # fmt: skip
        try:
            return await call_next(request)
        except Exception:  # the client gets one line; the log keeps the trace
            log.exception("request %s %s failed", request.method, request.url.path)
            return JSONResponse({"error": "internal error; see the server log"}, status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        message = (f"request body over {LIMITS['body_bytes']:,} bytes"
                   if error.status_code == 413 else str(error.detail))  # fmt: skip
        return JSONResponse({"error": message}, status_code=error.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        return JSONResponse({"error": _one_line(error.errors())}, status_code=422)

    @app.exception_handler(ValueError)
    async def refused(request: Request, error: ValueError):
        return JSONResponse({"error": str(error)}, status_code=400)

    def personas(fields: dict) -> tuple:
        return fields["self_persona"] or None, fields["partner_persona"] or None

    def rows(ranked) -> list[dict]:
        return [{"text": r.text, "score": r.score, "index": r.index} for r in ranked]

    @app.get("/", response_class=HTMLResponse)
    def page():
        return (resources.files("personafuse") / "web" / "chat.html").read_text("utf-8")

    @app.get("/health")
    def health():
        return {
            "status": "ok",
            "version": __version__,
            **{key: ranker.identity.get(key) for key in ("model", "fusion", "persona")},
            "reads": list(ranker.personas),
            # The weights' digest names the model without telling clients a server path.
            "weights_sha256": ranker.identity.get("weights_sha256"),
            "pool_size": len(responder.pool),
            "first_stage": responder.first_stage,
            "query": responder.query,
            "batches": batcher.batches,  # forwards so far (several requests may share one)
            "limits": LIMITS,
        }

    @app.post("/reply")
    def reply(body: ReplyRequest):  # type: ignore[valid-type]  # a model built at run time
        fields = _fields(body)
        item = responder.request(fields["context"], *personas(fields))
        scores = batcher.submit(item)
        return {"replies": rows(responder.replies(*item, scores, fields["top_k"]))}

    @app.post("/rank")
    def rank(body: RankRequest):  # type: ignore[valid-type]
        fields = _fields(body)
        request = Scoring(fields["context"], fields["candidates"], *personas(fields))
        scores = batcher.submit((None, request))
        return {"ranked": rows(best_first(fields["candidates"], scores, fields["top_k"]))}

    @app.post("/v1/rerank")
    def rerank(body: RerankRequest):  # type: ignore[valid-type]
        fields = _fields(body)
        texts = [d if isinstance(d, str) else d["text"] for d in fields["documents"]]
        context = [*fields["context"], fields["query"]]
        scores = batcher.submit((None, Scoring(context, texts, *personas(fields))))
        relevance = _relevance(ranker, scores)
        results = []
        for ranked in best_first(texts, relevance, fields["top_n"]):
            result: dict = {"index": ranked.index, "relevance_score": ranked.score}
            if fields["return_documents"]:
                result["document"] = {"text": ranked.text}
            results.append(result)
        return {"id": str(uuid.uuid4()), "results": results,
                "meta": {"api_version": {"version": "1"},
                         "billed_units": {"search_units": 1}}}  # fmt: skip

    return app


def main(argv: list[str] | None = None) -> None:
    from personafuse.cli import wants_help

    argv = sys.argv[1:] if argv is None else argv
    if wants_help(argv, __doc__):
        return
    from personafuse.cli import (
        ArgumentError,
        MissingExtraError,
        choice,
        one_line_errors,
        parse_arguments,
        positive_int,
    )
    from personafuse.retrieval.responder import DEFAULT_FIRST_STAGE, DEFAULT_QUERY

    with one_line_errors():
        own, _ = parse_arguments(argv, ARGUMENTS, ("ckpt_path", "index"))
        port = positive_int(own, "port", 8000)
        first_stage = positive_int(own, "first_stage", DEFAULT_FIRST_STAGE)
        if port > 65535:
            raise ArgumentError(f"port={port}: must be at most 65535")
        try:
            import uvicorn
        except ImportError:
            raise MissingExtraError("the server needs FastAPI and uvicorn: pip install "
                                    "'personafuse[serve]'") from None  # fmt: skip
        from personafuse.retrieval import open_index

        batch, wait = positive_int(own, "max_batch", 16), own.get("wait_ms", "5")
        if not wait.replace(".", "", 1).isdecimal():
            raise ArgumentError(f"wait_ms={wait}: must be a number ≥ 0 (milliseconds)")
        from personafuse.inference.onnx import BACKENDS
        from personafuse.retrieval.pool import QUERIES

        query = choice(own, "query", QUERIES, DEFAULT_QUERY)
        backend = choice(own, "backend", BACKENDS, "torch")
        responder = open_index(own["ckpt_path"], own["index"], first_stage, backend=backend,
                               query=query)  # fmt: skip
        app = create_app(responder, float(wait), batch)
    host = own.get("host", "127.0.0.1")
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: host={host} exposes the model beyond this machine, without "
              "authentication", file=sys.stderr)  # fmt: skip
    print(f"chat page: http://{host}:{port}/  (API: POST /rank, POST /reply, GET /health, "
          "docs: /docs)", flush=True)  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_level="warning")


if __name__ == "__main__":
    main()
