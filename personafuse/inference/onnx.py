"""Fast inference for BERT rankers: the encoder (sequences -> pooled [CLS] vectors) exported
to ONNX and run by ONNX Runtime, in float32 or with int8 weights (dynamic quantisation).

Everything around the encoder stays as it is: the layouts, the persona passes, the sharing of
identical sequences, the length-sorted chunks and the linear scorer. So the float32 export
gives PyTorch's scores (to 1e-4, tested) and int8 changes only the encoder's arithmetic.

    ranker.save_pretrained("model")
    export_onnx(ranker, "model")            # model/onnx/encoder.onnx and encoder.int8.onnx
    Ranker.from_pretrained("model", backend="onnx-int8")

``pip install 'personafuse[onnx]'`` brings onnx, onnxscript and onnxruntime.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["BACKENDS", "OnnxEncoder", "attach_onnx", "export_onnx"]

# backend name -> the file in DIR/onnx/ (torch: no file, the network as it is)
FP32, INT8 = "encoder.onnx", "encoder.int8.onnx"
BACKENDS = {"torch": None, "onnx": FP32, "onnx-int8": INT8}
INPUTS = ("input_ids", "token_type_ids", "attention_mask", "subtype_ids")


class _Pooling(nn.Module):
    """The ranker's encoder as a graph of four (S, T) integer inputs -> (S, H) vectors."""

    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, input_ids, token_type_ids, attention_mask, subtype_ids):
        from personafuse.features.bert import PaddedSequences

        inputs = PaddedSequences(input_ids, token_type_ids, attention_mask, subtype_ids)
        return self.network._pool(inputs)


def _bert(network):
    if not hasattr(network, "_pool") or not hasattr(network, "encoder"):
        raise ValueError(f"{type(network).__name__}: only BERT rankers have an ONNX export "
                         "(HRE and IMN answer a chat turn in tens of milliseconds)")  # fmt: skip
    return network


def export_onnx(ranker, directory: str | Path, quantize: bool = True) -> dict[str, Path]:
    """Write ``directory/onnx/encoder.onnx`` (float32) and, with ``quantize``,
    ``encoder.int8.onnx`` (int8 weights, dynamic activation quantisation); returns them by
    backend name."""
    from personafuse.registry import MissingExtraError

    try:
        import onnx  # noqa: F401
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise MissingExtraError("the ONNX backends need pip install 'personafuse[onnx]'") from None
    network = _bert(ranker.network)
    folder = Path(directory) / "onnx"
    folder.mkdir(parents=True, exist_ok=True)
    encoder = network.encoder
    implementation = encoder.config._attn_implementation
    encoder.set_attn_implementation("eager")  # plain operations: any ONNX Runtime runs them
    try:
        example = [torch.ones(2, 8, dtype=torch.long) for _ in INPUTS]
        example[2][1, 5:] = 0  # a padded row, so the mask's path is traced
        written = {"onnx": folder / FP32}
        dynamic = {name: {0: "sequences", 1: "tokens"} for name in INPUTS}
        dynamic["pooled"] = {0: "sequences"}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on tracing and axis names
            torch.onnx.export(_Pooling(network.cpu().eval()), tuple(example),
                              str(written["onnx"]), input_names=list(INPUTS),
                              output_names=["pooled"], dynamic_axes=dynamic, opset_version=18,
                              dynamo=True, verbose=False)  # fmt: skip
    finally:
        encoder.set_attn_implementation(implementation)
    if quantize:
        written["onnx-int8"] = folder / INT8
        # Per-channel weight scales: on a BERT-CRA ranker, top-1 agreement with float32 rose
        # from 85 % to 90 % at the same speed (docs/benchmarks.md).
        quantize_dynamic(str(written["onnx"]), str(written["onnx-int8"]),
                         weight_type=QuantType.QInt8, per_channel=True)  # fmt: skip
    return written


class OnnxEncoder:
    """``PaddedSequences -> (S, H)`` pooled vectors from an exported encoder."""

    def __init__(self, path: str | Path, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names = {i.name for i in self.session.get_inputs()}

    def __call__(self, inputs) -> torch.Tensor:
        feeds = {name: getattr(inputs, name).cpu().numpy().astype(np.int64) for name in INPUTS
                 if name in self.names}  # fmt: skip
        return torch.from_numpy(self.session.run(None, feeds)[0])


def attach_onnx(ranker, directory: str | Path, backend: str) -> None:
    """Run ``ranker``'s encoder with the ``backend`` export in ``directory/onnx/``."""
    from personafuse.checkpoints import CheckpointError

    if backend not in BACKENDS:
        raise ValueError(f"backend={backend}; valid choices: {', '.join(BACKENDS)}")
    if BACKENDS[backend] is None:
        return
    network = _bert(ranker.network)
    path = Path(directory) / "onnx" / str(BACKENDS[backend])
    if not path.is_file():
        raise CheckpointError(f"backend={backend}: {path} is missing; write it with "
                              "personafuse.inference.onnx.export_onnx(ranker, DIR)")  # fmt: skip
    network.pool_engine = OnnxEncoder(path)
