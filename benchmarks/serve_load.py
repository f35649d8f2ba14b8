"""A bounded load test of ``personafuse.serve`` on the loopback: N clients send /reply requests
for a fixed time, against the server batching concurrent requests (``max_batch=16``) and
answering one at a time (``max_batch=1``), one after the other on the same model and index.

Reports requests/s, p50/p95 latency, errors, the forwards the server ran, and the server's
resident memory at the start and end of each run (flat: no growth over the run). Only
127.0.0.1; every client stops at the deadline; the server is stopped after each run. Before
the servers, the ceiling: 16 requests' candidates scored one request at a time and in one
call, without the server, and the largest difference between the two scores.

    python benchmarks/serve_load.py --model RUN/model --pool 10000 [--clients 16] [--seconds 30]
    python benchmarks/serve_load.py --model RUN/model --quick      # 4 clients, 5 s, ≤ 60 s

Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chat_latency import make_pool
from common import realistic_examples

from personafuse.retrieval.responder import DEFAULT_FIRST_STAGE


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(),
                                     {"content-type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.loads(answer.read())


def run(args, index: Path, max_batch: int, bodies: list[dict]) -> dict:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "personafuse.serve", f"ckpt_path={args.model}", f"index={index}",
         f"port={port}", f"max_batch={max_batch}", f"backend={args.backend}",
         f"first_stage={args.first_stage}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                health = json.loads(urllib.request.urlopen(url + "health", timeout=2).read())
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.3)
        post(url + "reply", bodies[0])  # warm-up
        start_rss, latencies, errors = rss_mib(server.pid), [], [0]
        stop = time.monotonic() + args.seconds
        lock = threading.Lock()

        def client(number: int) -> None:
            turn = number
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    post(url + "reply", bodies[turn % len(bodies)])
                    with lock:
                        latencies.append(time.perf_counter() - started)
                except OSError:
                    with lock:
                        errors[0] += 1
                turn += args.clients

        started = time.monotonic()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        for thread in threads:
            thread.start()
        peak = start_rss
        while any(t.is_alive() for t in threads):
            peak = max(peak, rss_mib(server.pid))
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        after = json.loads(urllib.request.urlopen(url + "health", timeout=10).read())
        ms = np.asarray(latencies) * 1000
        return {
            "max_batch": max_batch, "requests": len(latencies), "errors": errors[0],
            "requests_per_s": round(len(latencies) / elapsed, 2),
            "p50_ms": round(float(np.percentile(ms, 50)), 1) if len(ms) else None,
            "p95_ms": round(float(np.percentile(ms, 95)), 1) if len(ms) else None,
            "forwards": after["batches"] - health["batches"],
            "rss_start_mib": round(start_rss), "rss_peak_mib": round(peak),
            "rss_end_mib": round(rss_mib(server.pid)),
        }  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=60)


def forward_ceiling(ranker, index: Path, first_stage: int, bodies: list[dict]) -> dict:
    """What batching can gain at most, without the server: 16 requests' candidates scored one
    request at a time and all in one call (``Ranker.score_requests``, what the server's
    scoring thread runs), in pairs (context, candidate) per second; the second of two rounds
    (the first tokenizes, and the server's cache would hold those tokens)."""
    from personafuse.retrieval import load_index

    responder = load_index(index, ranker, first_stage)
    requests = []
    for body in bodies[:16]:
        rows, request = responder.request(body["context"], body.get("self_persona"),
                                          body.get("partner_persona"))  # fmt: skip
        responder.prepare(rows, request)
        requests.append(request)
    pairs = sum(len(r.candidates) for r in requests)
    timings: dict[str, list[float]] = {"alone": [], "together": []}
    for _ in range(2):  # the first round warms both ways (tokens cached, as in the server)
        started = time.perf_counter()
        alone = [ranker.score_requests([r])[0] for r in requests]
        timings["alone"].append(time.perf_counter() - started)
        started = time.perf_counter()
        together = ranker.score_requests(requests)
        timings["together"].append(time.perf_counter() - started)
    alone_s, together_s = timings["alone"][-1], timings["together"][-1]
    gap = max(abs(a - b) for x, y in zip(alone, together, strict=True)
              for a, b in zip(x, y, strict=True))  # fmt: skip
    return {"pairs": pairs, "alone_pairs_per_s": round(pairs / alone_s, 1),
            "together_pairs_per_s": round(pairs / together_s, 1),
            "ratio": round(alone_s / together_s, 2), "max_score_gap": gap}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a checkpoint or model folder")
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--pool", type=int, default=10_000)
    parser.add_argument("--first-stage", type=int, default=DEFAULT_FIRST_STAGE)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.seconds, args.pool = 4, 5.0, 2_000
    from personafuse.inference import Ranker
    from personafuse.retrieval import build_index

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    ranker = Ranker.load(args.model, device="cpu")
    bodies = [{"context": list(e.context), "top_k": 5,
               **({"self_persona": list(e.self_persona)} if "self" in ranker.personas else {}),
               **({"partner_persona": list(e.partner_persona)}
                  if "partner" in ranker.personas else {})}
              for e in realistic_examples(64, seed=1)]  # fmt: skip
    results = {"clients": args.clients, "seconds": args.seconds, "pool": args.pool,
               "first_stage": args.first_stage, "backend": args.backend,
               "model": ranker.identity.get("model")}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        build_index(ranker, make_pool(args.pool), index)
        results["forward_ceiling"] = forward_ceiling(ranker, index, args.first_stage, bodies)
        print(json.dumps({"forward_ceiling": results["forward_ceiling"]}), flush=True)
        del ranker
        for batch in (16, 1):
            row = run(args, index, batch, bodies)
            results[f"batch{batch}"] = row
            print(json.dumps(row), flush=True)
    batched, alone = results["batch16"], results["batch1"]
    results["throughput_ratio"] = round(batched["requests_per_s"] / alone["requests_per_s"], 2)
    print("\n| server | requests/s | p50 ms | p95 ms | errors | forwards | RSS start / peak / "
          "end MiB |\n|---|---|---|---|---|---|---|")  # fmt: skip
    for name, row in (("batched (max_batch=16)", batched), ("one at a time", alone)):
        print(f"| {name} | {row['requests_per_s']} | {row['p50_ms']} | {row['p95_ms']} | "
              f"{row['errors']} | {row['forwards']} | {row['rss_start_mib']} / "
              f"{row['rss_peak_mib']} / {row['rss_end_mib']} |")  # fmt: skip
    print(f"\nthroughput, batched ÷ one at a time: {results['throughput_ratio']}×")
    ceiling = results["forward_ceiling"]
    print(
        f"without the server, 16 requests ({ceiling['pairs']} pairs): one at a time "
        f"{ceiling['alone_pairs_per_s']} pairs/s, in one call {ceiling['together_pairs_per_s']}"
        f" pairs/s ({ceiling['ratio']}×, scores equal to {ceiling['max_score_gap']:.1e})"
    )
    print("RESULT " + json.dumps(results))


if __name__ == "__main__":
    main()
