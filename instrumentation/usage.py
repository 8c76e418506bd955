"""Embedding and LLM usage of one Mem0 call, counted where the work happens (and its phase spans, phases.py).

Mem0 returns no usage, so the instrumentation hooks the OSS Memory's own embedder and LLM objects
(instance attributes only; the classes are untouched). A ContextVar carries the `Usage` of the call in
flight: it follows the call into `asyncio.to_thread` (AsyncMemory's worker threads copy the context),
and concurrent calls from other threads or tasks each see their own.

Exact counts where the model says them: a local sentence-transformers model's attention mask (the
tokens it really embedded), an OpenAI-compatible response's `usage`, an Anthropic response's `usage`. Otherwise
len(text)/4, flagged `tokens_estimated`. Where the provider says how many prompt tokens it served from its
prompt cache (OpenAI `prompt_tokens_details.cached_tokens`, Anthropic `cache_read_input_tokens`), that count is
kept too (`llm_cached_input_tokens`: those tokens are billed at the model's cached rate).
"""

from __future__ import annotations

import contextvars
import functools
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 4  # the usual English estimate when no tokenizer is available
_HOOKED = "_memlens_hooked"
_SEQUENCE = (list, tuple)  # a tuple, not `list | tuple`: a union is built anew each time the expression runs

CURRENT: contextvars.ContextVar[Usage | None] = contextvars.ContextVar("memlens_usage", default=None)


class Usage:
    __slots__ = ("embedding_calls", "embedding_tokens", "estimated", "llm_cached_input", "llm_input", "llm_output",
                 "llm_ran", "spans")

    def __init__(self) -> None:
        self.spans: list[tuple[int, float, float]] = []  # (phase, start, end) of the timed components (phases.py)
        self.embedding_calls = 0
        self.embedding_tokens = 0
        self.llm_ran = False
        self.llm_input = 0  # every prompt token, cached ones included
        self.llm_output = 0
        # of llm_input, the tokens served from the provider's prompt cache (None: the provider did not say)
        self.llm_cached_input: int | None = None
        self.estimated = False

    def fill(self, ev: dict, embedding_model: str | None, llm_model: str | None) -> None:
        if self.embedding_calls:
            ev["embedding_calls"] = self.embedding_calls
            ev["embedding_tokens"] = self.embedding_tokens
            if embedding_model is not None:
                ev["embedding_model"] = embedding_model
        if self.llm_ran:
            ev["llm_input_tokens"] = self.llm_input
            ev["llm_output_tokens"] = self.llm_output
            if self.llm_cached_input is not None:
                ev["llm_cached_input_tokens"] = self.llm_cached_input
            if llm_model is not None:
                ev["llm_model"] = llm_model
        if self.estimated:
            ev["tokens_estimated"] = True


def estimate_tokens(text: Any) -> int:
    if isinstance(text, str):
        return max(1, (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN) if text else 0
    if isinstance(text, Mapping):
        return estimate_tokens(text.get("content"))
    if isinstance(text, _SEQUENCE):
        return sum(estimate_tokens(t) for t in text)
    return 0


def _n_texts(text: Any) -> int:
    return len(text) if isinstance(text, _SEQUENCE) else 1


def model_name(model: Any) -> str | None:
    """A price-table-friendly name: a local model folder's model-card title, else the path's basename."""
    if not model:
        return None
    text = str(model)
    path = Path(text)
    try:
        readme = path / "README.md"
        if path.is_dir() and readme.is_file():
            for line in readme.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    except OSError:
        pass
    return path.name or text


def _hook_sentence_transformer(st_model: Any) -> bool:
    """Count real tokens from the attention mask of each batch the model preprocesses."""
    original = getattr(st_model, "preprocess", None)
    if original is None or getattr(original, _HOOKED, False):
        return original is not None

    @functools.wraps(original)
    def preprocess(*args: Any, **kwargs: Any) -> Any:
        features = original(*args, **kwargs)
        usage = CURRENT.get()
        if usage is not None:
            mask = features.get("attention_mask") if isinstance(features, Mapping) else None
            if mask is not None:
                usage.embedding_tokens += int(mask.sum())
            else:
                usage.estimated = True
        return features

    setattr(preprocess, _HOOKED, True)
    st_model.preprocess = preprocess
    return True


def _hook_openai_usage(resource: Any, on_usage: Any) -> bool:
    """Wrap a provider SDK's `...create` (OpenAI-compatible, or Anthropic's `messages.create`) to read
    `response.usage` (exact, from the provider)."""
    original = getattr(resource, "create", None)
    if original is None or getattr(original, _HOOKED, False):
        return original is not None

    @functools.wraps(original)
    def create(*args: Any, **kwargs: Any) -> Any:
        response = original(*args, **kwargs)
        usage = CURRENT.get()
        if usage is not None:
            on_usage(usage, getattr(response, "usage", None), kwargs)
        return response

    setattr(create, _HOOKED, True)
    resource.create = create
    return True


def _embedding_usage(usage: Usage, u: Any, kwargs: dict) -> None:
    tokens = getattr(u, "prompt_tokens", None) if u is not None else None
    if isinstance(tokens, int):
        usage.embedding_tokens += tokens
    else:
        usage.embedding_tokens += estimate_tokens(kwargs.get("input"))
        usage.estimated = True


def _field(obj: Any, name: str) -> Any:
    """`obj.name` or `obj[name]` (SDK objects and plain dicts alike), None when absent."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _add_cached(usage: Usage, cached: int | None) -> None:
    if cached is not None:
        usage.llm_cached_input = (usage.llm_cached_input or 0) + cached


def _llm_usage(usage: Usage, u: Any, kwargs: dict) -> None:
    """OpenAI-compatible `usage`: prompt_tokens (cached ones included) and prompt_tokens_details.cached_tokens."""
    usage.llm_ran = True
    pin, pout = _count(_field(u, "prompt_tokens")), _count(_field(u, "completion_tokens"))
    if pin is not None and pout is not None:
        usage.llm_input += pin
        usage.llm_output += pout
        cached = _count(_field(_field(u, "prompt_tokens_details"), "cached_tokens"))
        _add_cached(usage, None if cached is None else min(cached, pin))


def _anthropic_usage(usage: Usage, u: Any, kwargs: dict) -> None:
    """Anthropic `usage`: input_tokens are the uncached prompt tokens; cache reads and cache writes are counted
    apart (cache_read_input_tokens, cache_creation_input_tokens). All three are prompt tokens (llm_input); the cache
    reads are the cached ones (cache writes are billed at the input rate here: the price table has no write rate)."""
    usage.llm_ran = True
    pin, pout = _count(_field(u, "input_tokens")), _count(_field(u, "output_tokens"))
    if pin is not None and pout is not None:
        read = _count(_field(u, "cache_read_input_tokens"))
        written = _count(_field(u, "cache_creation_input_tokens")) or 0
        usage.llm_input += pin + (read or 0) + written
        usage.llm_output += pout
        _add_cached(usage, read)


def hook_embedder(embedder: Any) -> None:
    """Count texts per embed/embed_batch call; tokens exactly when the model can say, else estimated."""
    if getattr(embedder, _HOOKED, False):
        return
    exact = False
    st_model = getattr(embedder, "model", None)
    if st_model is not None and hasattr(st_model, "preprocess") and hasattr(st_model, "encode"):
        exact = _hook_sentence_transformer(st_model)
    client = getattr(embedder, "client", None)
    embeddings = getattr(client, "embeddings", None) if client is not None else None
    if not exact and embeddings is not None:
        exact = _hook_openai_usage(embeddings, _embedding_usage)

    names = ["embed"]
    # mem0's default embed_batch loops over self.embed, which is counted already
    inherited = getattr(getattr(type(embedder), "embed_batch", None), "__qualname__", "") == "EmbeddingBase.embed_batch"
    if not inherited:
        names.append("embed_batch")
    for name in names:
        original = getattr(embedder, name, None)
        if original is not None:
            setattr(embedder, name, _counting(original, exact))
    setattr(embedder, _HOOKED, True)


def _counting(original: Any, exact: bool) -> Any:
    @functools.wraps(original)
    def embed(text: Any, *args: Any, **kwargs: Any) -> Any:
        usage = CURRENT.get()
        if usage is not None:
            usage.embedding_calls += _n_texts(text)
            if not exact:
                usage.embedding_tokens += estimate_tokens(text)
                usage.estimated = True
        return original(text, *args, **kwargs)

    return embed


def hook_llm(llm: Any) -> None:
    """Mark that an LLM ran and count its tokens: provider usage when seen, else an estimate from the text."""
    if llm is None or getattr(llm, _HOOKED, False):
        return
    client = getattr(llm, "client", None)
    chat = getattr(client, "chat", None) if client is not None else None
    completions = getattr(chat, "completions", None) if chat is not None else None
    if completions is not None:
        _hook_openai_usage(completions, _llm_usage)
    messages = getattr(client, "messages", None) if client is not None else None
    if completions is None and messages is not None and hasattr(messages, "create"):  # Anthropic's client
        _hook_openai_usage(messages, _anthropic_usage)
    original = getattr(llm, "generate_response", None)
    if original is None:
        return

    @functools.wraps(original)
    def generate_response(*args: Any, **kwargs: Any) -> Any:
        usage = CURRENT.get()
        if usage is None:
            return original(*args, **kwargs)
        before_in, before_out = usage.llm_input, usage.llm_output
        response = original(*args, **kwargs)
        usage.llm_ran = True
        if (usage.llm_input, usage.llm_output) == (before_in, before_out):  # the provider reported nothing
            messages = kwargs.get("messages", args[0] if args else None)
            usage.llm_input += estimate_tokens(messages)
            usage.llm_output += estimate_tokens(response if isinstance(response, str) else str(response or ""))
            usage.estimated = True
        return response

    setattr(generate_response, _HOOKED, True)
    llm.generate_response = generate_response
    setattr(llm, _HOOKED, True)


def hook_memory(memory: Any) -> None:
    """Hook an OSS Memory/AsyncMemory's embedder and LLM (idempotent); failures only cost token counts."""
    try:
        embedder = getattr(memory, "embedding_model", None)
        if embedder is not None:
            hook_embedder(embedder)
        hook_llm(getattr(memory, "llm", None))
    except Exception as exc:  # never break the user's Memory for a counter
        log.warning("memlens: could not hook embedder/LLM for token counts: %s", type(exc).__name__)


def embedding_model_of(memory: Any) -> str | None:
    """The model the embedder object was built with (falls back to the Memory's config dict)."""
    model = getattr(getattr(getattr(memory, "embedding_model", None), "config", None), "model", None)
    if model is None:
        cfg = getattr(getattr(getattr(memory, "config", None), "embedder", None), "config", None)
        model = cfg.get("model") if isinstance(cfg, Mapping) else None
    return model_name(model)


def llm_model_of(memory: Any) -> str | None:
    """The model the LLM object was built with (mem0 fills the provider default into `llm.config.model`)."""
    model = getattr(getattr(getattr(memory, "llm", None), "config", None), "model", None)
    if model is None:
        cfg = getattr(getattr(getattr(memory, "config", None), "llm", None), "config", None)
        model = cfg.get("model") if isinstance(cfg, Mapping) else None
    return model_name(model)
