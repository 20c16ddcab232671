"""The embedding model exported to ONNX, so a process that only encodes (a question, a design) starts without
torch, transformers or sentence-transformers: about 0.2 s instead of about 4 s here, with the same vectors
(cosine 1.0000 against sentence-transformers; tests/test_onnx_encoder.py).

Ingest, which has the model loaded anyway, exports it once per model (`export`); `OnnxEncoder.open` finds the
export and returns None whenever it cannot reproduce the model exactly (no export, no onnxruntime, no fast
tokenizer, or a model that does not mean-pool and normalise), so the caller falls back to sentence-transformers.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# The module layout this encoder reproduces: a transformer, mean pooling over real tokens, L2 normalisation.
_SUPPORTED_MODULES = ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
                      "sentence_transformers.models.Normalize"]


def export_key(model_path: str) -> str | None:
    """Names the export after the model folder and its weights' size and time, so a changed model is re-exported
    (a stat, not a hash of 90 MB at every start). None for a hub name that is not a local folder."""
    folder = Path(model_path)
    weights = next((folder / name for name in ("model.safetensors", "pytorch_model.bin") if (folder / name).exists()),
                   None)
    if weights is None:
        return None
    stat = weights.stat()
    digest = hashlib.sha256(f"{folder.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return f"{folder.name}-{digest}"


def mean_pooling_model(model_path: str) -> bool:
    folder = Path(model_path)
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, IndexError):
        return False
    return [m.get("type") for m in modules] == _SUPPORTED_MODULES and pooling.get("pooling_mode_mean_tokens") is True \
        and not any(v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens")


def export_path(model_path: str, cache_dir: Path) -> Path | None:
    """Where the model's export lives (whether or not it exists yet); None when OnnxEncoder cannot reproduce the
    model: a hub name, no fast tokenizer, or another pooling."""
    key = export_key(model_path)
    if key is None or not mean_pooling_model(model_path) or not (Path(model_path) / "tokenizer.json").exists():
        return None
    return cache_dir / f"{key}.onnx"


def needs_export(model_path: str, cache_dir: Path) -> bool:
    """True when the model can be exported and has not been yet (cheap: no model is loaded)."""
    target = export_path(model_path, cache_dir)
    return target is not None and not target.exists()


def export(sentence_transformer, model_path: str, cache_dir: Path) -> Path | None:
    """Writes the transformer of a loaded SentenceTransformer as ONNX into cache_dir (atomically); None when the
    model cannot be reproduced by OnnxEncoder or the `onnx` package is missing."""
    target = export_path(model_path, cache_dir)
    if target is None or target.exists():
        return target
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
        import torch
    except ImportError:
        log.info("onnx is not installed: questions will be encoded with sentence-transformers")
        return None

    transformer = sentence_transformer[0].auto_model

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    sample = sentence_transformer.tokenizer(["an example"], return_tensors="pt", return_token_type_ids=True)
    axes = {0: "batch", 1: "tokens"}
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on tracing, not problems of this model
        torch.onnx.export(
            LastHiddenState(transformer).eval(),
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(partial),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "last_hidden_state": axes},
            opset_version=17,
            dynamo=False,
        )
    partial.replace(target)
    return target


@dataclass
class OnnxEncoder:
    session: object  # onnxruntime.InferenceSession
    tokenizer: object  # tokenizers.Tokenizer, truncating at the model's limit, padding to the batch's longest
    dimension: int

    @classmethod
    def open(cls, model_path: str, cache_dir: Path) -> OnnxEncoder | None:
        target = export_path(model_path, cache_dir)
        if target is None or not target.exists():
            return None
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError:
            return None
        folder = Path(model_path)
        try:
            config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
            dimension = int(json.loads((folder / "config.json").read_text(encoding="utf-8"))["hidden_size"])
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3
            session = onnxruntime.InferenceSession(
                str(target), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # a damaged export must not stop answering: sentence-transformers takes over
            log.warning("cannot use the ONNX export of %s (%s); using sentence-transformers", model_path, exc)
            return None
        tokenizer.enable_truncation(int(config.get("max_seq_length", 256)))
        tokenizer.enable_padding()
        return cls(session, tokenizer, dimension)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths together: less padding
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in rows])
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = self.session.run(None, {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": mask,
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            })[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out
