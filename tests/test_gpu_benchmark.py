"""``benchmarks/gpu.sh --dry-run``: the prepared GPU benchmark runs end to end on the CPU with
tiny networks, so it cannot rot between the sessions that have a GPU. bf16 cells run only
where the CPU has bf16 (the script says so otherwise)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_benchmark_dry_run_covers_every_cell():
    from personafuse.backbones import BACKBONES
    from personafuse.fusion import FUSIONS
    from personafuse.runs.checks import bf16_supported

    result = subprocess.run(["bash", "benchmarks/gpu.sh", "--dry-run"], cwd=ROOT,
                            env={**os.environ, "PYTHON": sys.executable},
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))
    report = json.loads(line.removeprefix("RESULT "))
    assert report["dry_run"] is True and report["device"] == "cpu"
    precisions = ("fp32", "bf16") if bf16_supported("cpu") else ("fp32",)
    assert tuple(report["precisions"]) == precisions
    assert ("bf16: not supported" in result.stdout) == (precisions == ("fp32",))
    cells = {(r["model"], r["fusion"], r["precision"]) for r in report["table6"]}
    expected = {
        (model, fusion, precision)
        for model in ("hre", "imn", "bert")
        for fusion, entry in FUSIONS.items()
        if BACKBONES.get(model).serves(entry)
        for precision in precisions
    }
    assert cells == expected
    for row in report["table6"]:
        assert row["contexts_per_s"] > 0
        assert abs(row["pairs_per_s"] - 20 * row["contexts_per_s"]) <= 2  # both rounded
    assert set(report["training"]) == {f"{m}/{p}" for m in ("hre", "imn", "bert")
                                       for p in precisions}  # fmt: skip
    assert set(report["generation"]) == {f"unilm/{p}" for p in precisions}
    hours = report["projected_gpu_hours"]
    assert set(hours) == {f"table{n}" for n in range(2, 8)} | {"total"}
    assert all(value > 0 for value in hours.values())
    assert "| model | fusion | precision |" in result.stdout
