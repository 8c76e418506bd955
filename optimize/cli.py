"""`memlens advise`: ranked recommendations with projected savings, and the dedup export / confirmed delete."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from memlens import backend
from memlens.config import Config, ConfigError, load_config
from memlens.safetext import to_csv as safe_csv


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    a = sub.add_parser(
        "advise", parents=[common], help="ranked optimizations with savings projected from your own logs",
        description="Replay the search log through a what-if cache (every TTL, every LRU size), price every "
        "recommendation from the op log and the memory snapshots, and print them ranked by the share of the bill "
        "or of the total wait they remove. Read-only unless --delete-duplicates --yes.")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.add_argument("--details", action="store_true", help="also print each recommendation's formula")
    a.add_argument("--mem0-config", help="JSON/YAML mem0 config: read near-duplicate vectors from its Qdrant store")
    a.add_argument("--local-model", action="store_true",
                   help="embed snapshot texts with the bundled MiniLM model for near-duplicates (offline)")
    a.add_argument("--export-merge-ids", metavar="CSV", help="write owner,keep_id,merge_id of duplicates to merge")
    a.add_argument("--delete-duplicates", action="store_true",
                   help="delete the memories to merge through Mem0 (needs --mem0-config); a dry run without --yes")
    a.add_argument("--yes", action="store_true", help="confirm --delete-duplicates")
    a.add_argument("--has-postgres", action="store_true", help="a Postgres already runs (vector store advice)")
    a.add_argument("--cache-code", choices=["lru", "redis"], help="print code for a cache with the simulated TTL")
    a.set_defaults(func=cmd_advise)


def _memory(path: str) -> Any:
    os.environ.setdefault("MEM0_TELEMETRY", "False")
    text = Path(path).read_text(encoding="utf-8")
    try:
        conf = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid JSON/YAML: {exc}") from exc
    if not isinstance(conf, dict):
        raise ConfigError(f"{path}: a mem0 config must be a mapping, got {type(conf).__name__}")
    from mem0 import Memory

    return Memory.from_config(conf)


def _vectors(args: argparse.Namespace, con: Any, memory: Any) -> tuple[dict | None, str]:
    from memlens.optimize.dedup import vectors_from_local_model, vectors_from_qdrant
    from memlens.optimize.inventory import load_memories

    if memory is not None:
        if getattr(memory.config.vector_store, "provider", None) == "qdrant":
            return vectors_from_qdrant(memory), "store"
        print("memlens: the store is not Qdrant; vectors cannot be read from it", file=sys.stderr)
    if args.local_model:
        return vectors_from_local_model(load_memories(con)), "local-model"
    return None, "none"


def _money(x: float) -> str:
    return f"${x:,.4f}" if abs(x) < 1 else f"${x:,.2f}"


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "n/a"
    if isinstance(v, float):
        return f"{v:.1%}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def print_advice(advice: Any, cfg: Config, details: bool) -> None:
    print(f"Recommendations (log covers {advice.period_days:.1f} days; per month = x 30 / days):")
    for row in advice.table().itertuples():
        print(f"{row.rank:>3}. {row.recommendation:<45} {_money(row.usd_per_month):>12}/month "
              f"({row.bill_share:6.1%} of bill)  {row.latency_saved_s_per_month:>10,.1f} s wait/month "
              f"({row.wait_share:6.1%})  n={row.calls_or_memories:,}")
        if row.note:
            print(f"      {row.note}")
        if details:
            print(f"      formula: {row.formula}")
    c = advice.cache
    print(f"\nCache what-if: {c.requests:,} cacheable searches ({c.distinct_keys:,} keys after {c.writes:,} "
          f"invalidations); target {c.target_hit_rate:.0%}:")
    for row in c.story().itertuples(index=False):
        print("  " + "; ".join(f"{name} {_cell(v)}" for name, v in zip(c.story().columns, row, strict=True)))
    ttl = f"{c.ttl_for_target_s:g} s" if c.ttl_for_target_s is not None else "not on the grid"
    size = f"{c.lru_size_for_target:,}" if c.lru_size_for_target is not None else "not reachable"
    print(f"  TTL for the target (no size bound) {ttl}; LRU size for it (no expiry) {size}")
    f = advice.forecast
    if f.month is not None:
        interval = (f", {f.interval:.0%} interval {_money(f.low_usd)}-{_money(f.high_usd)}"
                    if f.low_usd is not None else "")
        print(f"\nMonth-end cost {f.month:%Y-%m}: {_money(f.projected_usd)} (spent {_money(f.spent_usd)} over "
              f"{f.days_observed} observed days, day {f.days_elapsed} of {f.days_in_month}{interval}; "
              f"budget {_money(f.budget_usd)})")
    s = advice.store
    print(f"\nVector store: {s.store} — " + "; ".join(s.reasons))


def _cache_json(c: Any) -> dict[str, Any]:
    return {"cacheable_searches": c.requests, "through_cache": c.through_cache, "measured_hits": c.measured_hits,
            "measured_hit_rate": c.measured_hit_rate, "could_be_served": c.could_be_served,
            "could_be_served_rate": c.could_be_served_rate, "settings": {
                "ttl_s": c.settings_ttl_s, "max_entries": c.settings_max_entries, "hits": c.settings_hits,
                "hit_rate": c.settings_hit_rate, "hits_through_cache": c.settings_hits_through_cache,
                "new_hits": c.settings_new_hits},
            "ttl_for_target_s": c.ttl_for_target_s, "lru_size_for_target": c.lru_size_for_target}


def cmd_advise(args: argparse.Namespace) -> int:
    from memlens.kept import report_to
    from memlens.optimize.advise import build_advice
    from memlens.optimize.dedup import delete_duplicates
    from memlens.optimize.stored_advice import current_advice
    from memlens.optimize.vector_store import cache_config_code
    from memlens.warehouse import open_warehouse

    cfg = load_config(args.config)
    if args.delete_duplicates and not args.mem0_config:
        print("memlens: --delete-duplicates needs --mem0-config (the Mem0 instance to delete from)", file=sys.stderr)
        return 2
    warehouse = backend.chosen(args.warehouse, cfg)
    memory = _memory(args.mem0_config) if args.mem0_config else None
    progress = None if args.json else report_to(sys.stderr, "advice")
    with open_warehouse(warehouse, cfg, read_only=True) as con:
        vectors, source = _vectors(args, con, memory)
        if vectors is None and not args.has_postgres:  # the default advice: kept per collection (stored_advice)
            advice = current_advice(con, cfg, warehouse, progress)
        else:
            advice = build_advice(con, cfg, vectors, source, args.has_postgres, progress=progress)
    if args.export_merge_ids:
        safe_csv(advice.dedup.merge_ids, args.export_merge_ids)
    if args.json:
        out = {"recommendations": advice.table().to_dict(orient="records"),
               "cache": _cache_json(advice.cache),
               "forecast": {"projected_usd": advice.forecast.projected_usd, "low_usd": advice.forecast.low_usd,
                            "high_usd": advice.forecast.high_usd},
               "vector_store": {"store": advice.store.store, "reasons": advice.store.reasons}}
        json.dump(out, sys.stdout, indent=2, default=str)
        print()
    else:
        print_advice(advice, cfg, args.details)
    if args.export_merge_ids:
        print(f"wrote {len(advice.dedup.merge_ids)} ids to merge to {args.export_merge_ids}", file=sys.stderr)
    if args.cache_code:
        c = advice.cache
        ttl = c.ttl_for_target_s or c.settings_ttl_s
        size = c.lru_size_for_target or max(cfg.optimize.cache.lru_sizes)
        print(cache_config_code(args.cache_code, ttl, size))
    if args.delete_duplicates:
        ids = list(advice.dedup.merge_ids["merge_id"])
        outcome = delete_duplicates(memory.delete, ids, dry_run=not args.yes, confirm=args.yes)
        if outcome.dry_run:
            print(f"dry run: would delete {len(outcome.planned)} duplicate memories; re-run with --yes to delete",
                  file=sys.stderr)
        else:
            print(f"deleted {len(outcome.deleted)}, failed {len(outcome.failed)}", file=sys.stderr)
            for mid, err in outcome.failed:
                print(f"  {mid}: {err}", file=sys.stderr)
            return 1 if outcome.failed else 0
    return 0
