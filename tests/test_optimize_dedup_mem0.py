"""Dedup against a real offline mem0.Memory: vectors read from its Qdrant store, a confirmed delete through Mem0."""

from __future__ import annotations

import pandas as pd
import pytest

from memlens.config import load_config
from memlens.optimize.dedup import dedup_report, delete_duplicates, vectors_from_local_model, vectors_from_qdrant

pytestmark = pytest.mark.mem0

TEXTS = ["I like green tea", "I like green tea", "I really like green tea!", "My flight to Oslo leaves on Monday"]


def test_store_vectors_find_duplicates_and_delete_removes_them(tmp_path):
    from memlens.workloads.offline_mem0 import offline_memory

    m = offline_memory(tmp_path)
    ids = [m.add(t, user_id="u1", infer=False)["results"][0]["id"] for t in TEXTS]
    vectors = vectors_from_qdrant(m)
    assert set(vectors) == set(ids) and all(v.shape == (384,) for v in vectors.values())
    memories = pd.DataFrame({"memory_id": ids, "owner": "u1", "text_bytes": [len(t) for t in TEXTS],
                             "text_hash": None, "memory_text": TEXTS,
                             "created_at": pd.date_range("2026-11-01", periods=4, freq="h")})
    rep = dedup_report(memories, load_config(), 384, vectors, "store")
    pairs = rep.pairs.set_index(["keep_id", "merge_id"])
    assert pairs.loc[(ids[0], ids[1]), "cosine"] == pytest.approx(1.0, abs=1e-5)
    assert pairs.loc[(ids[0], ids[1]), "action"] == "merge"
    assert (ids[0], ids[3]) not in pairs.index  # unrelated text stays below the review threshold
    assert ids[1] in set(rep.merge_ids["merge_id"]) and ids[3] not in set(rep.merge_ids["merge_id"])
    # The local model embeds the same texts to the same vectors the store holds.
    local = vectors_from_local_model(memories)
    for i in ids:
        assert float(local[i] @ vectors[i]) / float((local[i] ** 2).sum() ** 0.5 * (vectors[i] ** 2).sum() ** 0.5) \
            == pytest.approx(1.0, abs=1e-4)

    dry = delete_duplicates(m.delete, rep.merge_ids["merge_id"])
    assert dry.dry_run and len(m.get_all(filters={"user_id": "u1"})["results"]) == 4
    done = delete_duplicates(m.delete, rep.merge_ids["merge_id"], dry_run=False, confirm=True)
    left = {r["id"] for r in m.get_all(filters={"user_id": "u1"})["results"]}
    assert not done.failed and left == set(ids) - set(done.deleted) and ids[0] in left and ids[3] in left
