"""Compiled loops of the cache what-if (numba): one pass over the searches each, arrays instead of dicts.

Every id below is dense (0..count-1): key, group and service ids index plain arrays. `cache_sim` states the
rules and prepares the inputs; these are the same rules written as loops a compiler can run at C speed (10M
searches in well under a second each, against minutes for the Python loop). Compiled on first use and cached
on disk (numba `cache=True`: beside this file, or in the user's cache directory when that is read-only).
"""

from __future__ import annotations

import numpy as np
from numba import njit

NEVER = np.iinfo(np.int64).max  # expiry of an entry that never expires
_NONE = np.iinfo(np.int64).min  # "no entry" threshold: the next lookup is a miss


@njit(cache=True)
def generation_ids(key, group, service, start_ns, inv_end_ns, inv_group, inv_service, n_keys, n_groups,
                   n_services):
    """Dense id of (key, invalidations of its group and of its service returned at or before the search's
    start), in order of first appearance. Searches in start order, invalidations in end order: a key's count
    never decreases, so each (key, count) is a run of that key's searches and one id per key is kept."""
    n, m = len(key), len(inv_end_ns)
    user_gen = np.zeros(n_groups, np.int64)
    svc_gen = np.zeros(n_services, np.int64)
    last_gen = np.full(n_keys, -1, np.int64)
    last_id = np.zeros(n_keys, np.int64)
    out = np.empty(n, np.int64)
    next_id = 0
    j = 0
    for i in range(n):
        t = start_ns[i]
        while j < m and inv_end_ns[j] <= t:
            if inv_group[j] >= 0:
                user_gen[inv_group[j]] += 1
            else:
                svc_gen[inv_service[j]] += 1
            j += 1
        g = user_gen[group[i]] + svc_gen[service[i]]
        k = key[i]
        if last_gen[k] != g:
            last_gen[k] = g
            last_id[k] = next_id
            next_id += 1
        out[i] = last_id[k]
    return out


@njit(cache=True)
def stack_distances(keys, n_keys):
    """LRU stack depth of each request (1 = most recent key, 0 = first request of its key): a Fenwick tree over
    positions marks each key's latest request; the depth of a request whose key was last seen at p is the
    number of marks at positions >= p."""
    n = len(keys)
    tree = np.zeros(n + 1, np.int32)
    last = np.full(n_keys, -1, np.int32)  # positions and depths fit in 32 bits: half the memory to touch
    dist = np.zeros(n, np.int32)
    marks = 0
    for i in range(n):
        k = keys[i]
        p = last[k]
        if p >= 0:
            below = 0
            x = p
            while x > 0:
                below += tree[x]
                x -= x & -x
            dist[i] = marks - below
            x = p + 1
            while x <= n:
                tree[x] -= 1
                x += x & -x
            marks -= 1
        x = i + 1
        while x <= n:
            tree[x] += 1
            x += x & -x
        marks += 1
        last[k] = i
    return dist


@njit(cache=True)
def fixed_expiry(key, start_ns, end_ns, ok, new, cost, n_keys, ttls_ns, hit_out):
    """Unbounded cache with fixed expiry, per key: a successful miss serves the key's requests starting before
    its end + TTL; the first one starting at or after that is the next miss (after a failed miss, the next
    request is). One pass per TTL of `ttls_ns`, sharing one per-key array. Returns, per TTL, hits, hits among
    `new`, and the cost of those; fills `hit_out` (one slot per search) for a single TTL."""
    n, k_ttls = len(key), len(ttls_ns)
    until = np.empty(n_keys, np.int64)
    keep = len(hit_out) == n and k_ttls == 1
    hits = np.zeros(k_ttls, np.int64)
    new_hits = np.zeros(k_ttls, np.int64)
    saved = np.zeros(k_ttls, np.float64)
    for x in range(k_ttls):
        ttl_ns = ttls_ns[x]
        until[:] = _NONE
        for i in range(n):
            k = key[i]
            if start_ns[i] < until[k]:
                hits[x] += 1
                if new[i]:
                    new_hits[x] += 1
                    saved[x] += cost[i]
                if keep:
                    hit_out[i] = True
            else:
                until[k] = end_ns[i] + ttl_ns if ok[i] else _NONE
    return hits, new_hits, saved


# A key's row in the replay, 32 bytes: expiry, LRU neighbours, and its state: 0 = not cached, else
# (group + 1) | stamp << 32, the stamp being its group's plus its service's invalidation counts when it was stored
# (both only grow, so their sum changes when either does: a changed sum = deleted since).
_EXPIRY, _PREV, _NEXT, _STATE = range(4)
# A group's row: invalidation count, live entries, and the service stamp `live` was counted under.
_STAMP, _LIVE, _EPOCH = range(3)


@njit(cache=True)
def _unlink(rec, k, head, tail, s):
    p, q = rec[k, _PREV], rec[k, _NEXT]
    if p >= 0:
        rec[p, _NEXT] = q
    else:
        head[s] = q
    if q >= 0:
        rec[q, _PREV] = p
    else:
        tail[s] = p


@njit(cache=True)
def _append(rec, k, head, tail, s):
    t = tail[s]
    rec[k, _PREV] = t
    rec[k, _NEXT] = -1
    if t >= 0:
        rec[t, _NEXT] = k
    else:
        head[s] = k
    tail[s] = k


@njit(cache=True)
def _heap_push(h_end, h_idx, size, end, idx):
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if h_end[parent] < end or (h_end[parent] == end and h_idx[parent] < idx):
            break
        h_end[i], h_idx[i] = h_end[parent], h_idx[parent]
        i = parent
    h_end[i], h_idx[i] = end, idx


@njit(cache=True)
def _heap_pop(h_end, h_idx, size):
    """Removes the smallest (end, idx) of a heap of `size` items (read it at [0] before the call)."""
    size -= 1
    end, idx = h_end[size], h_idx[size]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and (h_end[c + 1] < h_end[c] or (h_end[c + 1] == h_end[c] and h_idx[c + 1] < h_idx[c])):
            c += 1
        if end < h_end[c] or (end == h_end[c] and idx < h_idx[c]):
            break
        h_end[i], h_idx[i] = h_end[c], h_idx[c]
        i = c
    h_end[i], h_idx[i] = end, idx


@njit(cache=True)
def _live(rec, k, grp, s_stamp, s):
    """Whether cached key k was not deleted since it was stored (its state is not 0)."""
    state = rec[k, _STATE]
    g = (state & 0xFFFFFFFF) - 1
    return (state >> 32) == grp[g, _STAMP] + s_stamp[s]


@njit(cache=True)
def replay(start_ns, end_ns, key, group, service, ok, inv_end_ns, inv_group, inv_service, n_keys, n_groups,
           n_services, ttl_ns, max_entries, rec):
    """The SearchCache replay of `cache_sim.replay` (its docstring has the rules). Invalidations in end order;
    ttl_ns < 0: never expires; max_entries < 0: unbounded; `rec`: an (n_keys, 4) int64 array of zeros.

    Per service an LRU list of the cached keys, a heap of the stores still pending. An invalidation deletes
    lazily: it bumps its group's (or service's) stamp and takes the group's live entries off the service's
    size at once (so slots free up as in the real cache); an entry whose stamp is stale is dead: never a hit,
    not counted, unlinked when met (looked up, stored again, or reached by eviction)."""
    n, m = len(start_ns), len(inv_end_ns)
    hit = np.zeros(n, np.bool_)
    grp = np.zeros((n_groups, 4), np.int64)
    s_stamp = np.zeros(n_services, np.int64)
    head = np.full(n_services, -1, np.int64)  # oldest
    tail = np.full(n_services, -1, np.int64)  # most recent
    size = np.zeros(n_services, np.int64)  # live entries
    cap = 1024
    h_end = np.empty(cap, np.int64)
    h_idx = np.empty(cap, np.int64)
    pending = 0
    i = 0
    j = 0
    while i < n or j < m:
        is_lookup = j >= m or (i < n and start_ns[i] < inv_end_ns[j])  # an invalidation first at one instant
        t = start_ns[i] if is_lookup else inv_end_ns[j]
        while pending > 0 and (h_end[0] < t or (h_end[0] == t and is_lookup)):
            x = h_idx[0]
            _heap_pop(h_end, h_idx, pending)
            pending -= 1
            # store: set() puts the key at the most recent end, expiring TTL after the miss returned
            k, s, g = key[x], service[x], group[x]
            live = False
            if rec[k, _STATE] != 0:
                live = _live(rec, k, grp, s_stamp, s)
                _unlink(rec, k, head, tail, s)
            if not live:
                rec[k, _STATE] = (g + 1) | ((grp[g, _STAMP] + s_stamp[s]) << 32)
                if grp[g, _EPOCH] != s_stamp[s]:
                    grp[g, _EPOCH], grp[g, _LIVE] = s_stamp[s], 0
                grp[g, _LIVE] += 1
                size[s] += 1
            _append(rec, k, head, tail, s)
            rec[k, _EXPIRY] = end_ns[x] + ttl_ns if ttl_ns >= 0 else NEVER
            while max_entries >= 0 and size[s] > max_entries:
                old = head[s]
                was_live = _live(rec, old, grp, s_stamp, s)
                _unlink(rec, old, head, tail, s)
                if was_live:
                    size[s] -= 1
                    grp[(rec[old, _STATE] & 0xFFFFFFFF) - 1, _LIVE] -= 1
                rec[old, _STATE] = 0
        if not is_lookup:
            g, s = inv_group[j], inv_service[j]
            j += 1
            if g >= 0:  # a user's write deletes that user's entries
                if grp[g, _EPOCH] == s_stamp[s]:
                    size[s] -= grp[g, _LIVE]
                grp[g, _LIVE] = 0
                grp[g, _STAMP] += 1
            else:  # delete_all: the whole service's
                s_stamp[s] += 1
                size[s] = 0
            continue
        k, s, g = key[i], service[i], group[i]
        if rec[k, _STATE] != 0:
            if not _live(rec, k, grp, s_stamp, s):  # deleted
                _unlink(rec, k, head, tail, s)
                rec[k, _STATE] = 0
            elif rec[k, _EXPIRY] > t:
                hit[i] = True
                _unlink(rec, k, head, tail, s)
                _append(rec, k, head, tail, s)
            else:  # expired: get() drops it and its slot frees up
                _unlink(rec, k, head, tail, s)
                rec[k, _STATE] = 0
                size[s] -= 1
                grp[g, _LIVE] -= 1
        if not hit[i] and ok[i]:
            if pending == cap:
                cap *= 2
                h_end = np.concatenate((h_end, np.empty(cap - pending, np.int64)))
                h_idx = np.concatenate((h_idx, np.empty(cap - pending, np.int64)))
            _heap_push(h_end, h_idx, pending, end_ns[i], i)
            pending += 1
        i += 1
    return hit
