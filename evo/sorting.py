"""Non-dominated sorting and crowding distance as tensor programs."""

from __future__ import annotations

import jax
import jax.numpy as jnp

MATRIX_MAX_ROWS = 256
"""`non_dominated_rank(method="auto")` builds the full `(n, n)` dominance matrix for 3+
objectives up to this many rows. Measured on a 2-core CPU: at 200 rows the matrix takes
0.4 ms against 0.7 ms tiled and 4 ms sweep; at 4,000 rows (3 objectives, 12 fronts) it
takes 0.88 s against 0.17 s tiled and 0.034 s sweep."""

SCAN_MIN_ROWS = 4096
"""With 2 objectives on CPU, `method="auto"` takes "scan" from this many rows on, "sweep"
below: at 2,000 random rows (34 fronts) both take about 0.02 s; at 20,000 (118 fronts)
"scan" takes 0.035 s and "sweep" 0.2 s."""

TILE_ELEMENTS = 1 << 23
"""Most pairs compared at once by the tiled sort: its memory is O(n + TILE_ELEMENTS)."""

TILE_ROWS = 128
"""Most dominating rows per tile: small fronts then waste little work on padding."""


def lexsort(keys) -> jax.Array:
    """`jnp.lexsort(keys)`: the stable order `(n,)` int32 of 1-D `keys`, the last key primary.

    On CPU, XLA sorts a single 32- or 64-bit integer array many times faster than anything
    with a comparator over several arrays (an `argsort` of 20,000 floats: 8 ms against
    1 ms). So with 32-bit (or bool) keys on CPU, each key is mapped to order-preserving
    int32, packed with the current position into one int64 and sorted, least significant
    key first; each pass is stable, so the result equals `jnp.lexsort`. Other backends and
    64-bit keys use `jnp.lexsort`.
    """
    keys = [jnp.asarray(key) for key in keys]
    n = keys[0].shape[0]
    if jax.default_backend() != "cpu" or any(k.dtype.itemsize > 4 for k in keys):
        return jnp.lexsort(keys).astype(jnp.int32)
    order = jnp.arange(n, dtype=jnp.int32)
    with jax.enable_x64(True):
        position = jnp.arange(n, dtype=jnp.int64)
        for key in keys:
            packed = (sortable_int32(key[order]).astype(jnp.int64) << 32) | position
            order = order[(jnp.sort(packed) & 0xFFFFFFFF).astype(jnp.int32)]
    return order


def sortable_int32(x: jax.Array) -> jax.Array:
    """int32 with the order of the 32-bit (or bool) array `x`: floats by value, -0.0 equal
    to 0.0 and every NaN after +inf, as `jnp.sort` orders them."""
    if x.dtype == bool or jnp.issubdtype(x.dtype, jnp.integer):
        return x.astype(jnp.int32)
    x = jnp.where(x == 0, 0.0, jnp.where(jnp.isnan(x), jnp.nan, x)).astype(jnp.float32)
    bits = jax.lax.bitcast_convert_type(x, jnp.int32)
    # Negative floats order backwards as integers: flipping their magnitude bits fixes it.
    return bits ^ ((bits >> 31) & 0x7FFFFFFF)


def finite_or_worst(F: jax.Array) -> jax.Array:
    """`F` `(n, m)` with every row that holds a NaN or inf replaced by +inf.

    Such a row is then dominated by every finite row and ties with the other invalid rows.
    """
    valid = jnp.all(jnp.isfinite(F), axis=1, keepdims=True)
    return jnp.where(valid, F, jnp.inf)


def constraint_violation(G: jax.Array) -> jax.Array:
    """Total violation `(n,)` of constraint values `G` `(n, c)`: sum of max(g, 0).

    Feasible rows (every g <= 0) score 0; a NaN constraint value scores inf.
    """
    violation = jnp.sum(jnp.maximum(G, 0.0), axis=1)
    return jnp.where(jnp.isnan(violation), jnp.inf, violation)


def effective_violation(F: jax.Array, violation: jax.Array | None = None) -> jax.Array:
    """Violation `(n,)` with rows of `F` `(n, m)` holding NaN or inf counted as infinitely
    infeasible, so that every ranking puts them last. `violation` defaults to zeros."""
    finite = jnp.all(jnp.isfinite(F), axis=1)
    violation = jnp.zeros(F.shape[0], F.dtype) if violation is None else violation
    return jnp.where(finite & ~jnp.isnan(violation), violation, jnp.inf)


def pareto_dominance(A: jax.Array, B: jax.Array) -> jax.Array:
    """`D[i, j]` is True when row i of `A` `(a, m)` Pareto-dominates row j of `B` `(b, m)`.

    Objectives are compared one at a time, so memory stays `(a, b)`. A row holding NaN
    neither dominates nor is dominated. Returns `(a, b)` bool.
    """
    no_worse = jnp.ones((A.shape[0], B.shape[0]), bool)
    better = jnp.zeros((A.shape[0], B.shape[0]), bool)
    for k in range(A.shape[1]):
        a, b = A[:, k, None], B[None, :, k]
        no_worse &= a <= b
        better |= a < b
    return no_worse & better


def dominance_matrix(F: jax.Array, violation: jax.Array | None = None) -> jax.Array:
    """`D[i, j]` is True when row i constrained-dominates row j (minimisation). `(n, n)`

    Between two feasible rows of `F` `(n, m)` this is Pareto dominance; otherwise the row
    with the smaller `violation` `(n,)` dominates (Deb, 2000). Rows holding NaN or inf count
    as infinitely infeasible: every valid row dominates them, and they tie with each other.
    """
    violation = effective_violation(F, violation)
    feasible = violation == 0
    both_feasible = feasible[:, None] & feasible[None, :]
    return jnp.where(
        both_feasible, pareto_dominance(F, F), violation[:, None] < violation[None, :]
    )


def non_dominated_rank(
    F: jax.Array,
    n_stop: int | None = None,
    violation: jax.Array | None = None,
    method: str = "auto",
) -> jax.Array:
    """Rank of every row of `F` `(n, m)`: 0 for the first front, 1 for the next, ...

    With constraint `violation` `(n,)`, feasible rows come first and infeasible ones
    follow in order of violation (equal violations share a rank); rows with NaN or inf
    come last. With `n_stop`, peeling stops once at least `n_stop` rows are ranked; the
    rest get rank `n` (what selecting `n_stop` survivors needs). Returns int32 `(n,)`.

    `method` picks how fronts are found; all give the same ranks:

    - "matrix": the `(n, n)` dominance matrix, fronts peeled by subtracting counts.
    - "tiled": dominance counted `TILE_ELEMENTS` pairs at a time; each front's dominance is
      then subtracted from the rows it dominates. O(n + TILE_ELEMENTS) memory, O(n^2 m)
      time in all plus O(n x TILE_ROWS) per front.
    - "sweep" (2 or 3 objectives): fronts peeled with running minima over a lexicographic
      sort (see `sweep_fronts`). O(n log n) memory; parallel, the choice on accelerators.
    - "scan" (2 objectives): one sequential pass in O(n log n) time and O(n) memory, the
      choice on CPU.
    - "auto": for 2 objectives "sweep", or "scan" on CPU from `SCAN_MIN_ROWS` rows; for
      more, "matrix" up to `MATRIX_MAX_ROWS` rows, then "sweep" (3) or "tiled" (4+).
    """
    n, m = F.shape
    n_stop = n if n_stop is None else min(n_stop, n)
    if method == "auto":
        method = auto_method(n, m)
    if method == "matrix":
        return matrix_rank(F, n_stop, violation)
    peel = {"tiled": tiled_fronts, "sweep": sweep_fronts, "scan": scan_fronts}.get(method)
    if peel is None:
        raise ValueError(f"method must be auto, matrix, tiled, sweep or scan, got {method!r}")
    if (method == "sweep" and m not in (2, 3)) or (method == "scan" and m != 2):
        raise ValueError(f"method={method!r} does not handle {m} objectives")
    violation = effective_violation(F, violation)
    feasible = violation == 0
    rank = peel(F, feasible, n_stop)
    rank = jnp.where(feasible, rank, infeasible_rank(violation, feasible, rank, n))
    return truncate_ranks(rank, n_stop)


def auto_method(n: int, m: int) -> str:
    """The sorting method `non_dominated_rank` uses for `n` rows and `m` objectives."""
    if m == 2:
        return "scan" if n >= SCAN_MIN_ROWS and jax.default_backend() == "cpu" else "sweep"
    if n <= MATRIX_MAX_ROWS:
        return "matrix"
    return "sweep" if m == 3 else "tiled"


def matrix_rank(F: jax.Array, n_stop: int, violation: jax.Array | None) -> jax.Array:
    """`non_dominated_rank` by peeling fronts from the full dominance matrix."""
    n = F.shape[0]
    dominates = dominance_matrix(F, violation)
    count = jnp.sum(dominates, axis=0, dtype=jnp.int32)
    rank = jnp.full(n, n, dtype=jnp.int32)

    def unfinished(carry):
        _, rank, _ = carry
        return jnp.sum(rank < n) < n_stop

    def peel(carry):
        count, rank, front_index = carry
        front = (count == 0) & (rank == n)
        rank = jnp.where(front, front_index, rank)
        count = count - jnp.sum(dominates & front[:, None], axis=0, dtype=jnp.int32)
        return count, rank, front_index + 1

    _, rank, _ = jax.lax.while_loop(unfinished, peel, (count, rank, jnp.int32(0)))
    return rank


def infeasible_rank(
    violation: jax.Array, feasible: jax.Array, rank: jax.Array, n: int
) -> jax.Array:
    """Ranks `(n,)` of infeasible rows: after the last front of the feasible `rank` `(n,)`,
    one rank per distinct `violation` `(n,)` value, smallest first (all infs share one)."""
    n_fronts = jnp.max(jnp.where(feasible & (rank < n), rank, -1)) + 1
    # Integers sort fastest on CPU (see `lexsort`); the map keeps order and equality.
    violation = sortable_int32(violation) if violation.dtype.itemsize <= 4 else violation
    levels = jnp.sort(violation)
    distinct = jnp.cumsum(jnp.concatenate([jnp.array([True]), levels[1:] != levels[:-1]])) - 1
    level = distinct[jnp.searchsorted(levels, violation)]
    # Violation 0 (the feasible rows) is the lowest distinct level when there is any.
    return (n_fronts + level - jnp.any(feasible)).astype(jnp.int32)


def truncate_ranks(rank: jax.Array, n_stop: int) -> jax.Array:
    """`rank` `(n,)` with every front after the one that brings the count of ranked rows to
    `n_stop` set to `n`, as if peeling had stopped there."""
    n = rank.shape[0]
    if n_stop >= n:
        return rank
    if n_stop <= 0:
        return jnp.full(n, n, jnp.int32)
    last = jnp.sort(rank)[n_stop - 1]
    return jnp.where(rank <= last, rank, n).astype(jnp.int32)


def peel_fronts(front_of, feasible: jax.Array, n_stop: int, carry):
    """Pareto ranks `(n,)` of the `feasible` rows, front by front, until `n_stop` rows or
    every feasible row is ranked; unranked rows get `n`.

    `front_of(unranked, carry) -> (front, carry)` returns the rows of the bool mask
    `unranked` `(n,)` that no other unranked row dominates.
    """
    n = feasible.shape[0]
    goal = jnp.minimum(n_stop, jnp.sum(feasible))

    def unfinished(state):
        _, rank, _, _ = state
        return jnp.sum(rank < n) < goal

    def peel(state):
        unranked, rank, front_index, carry = state
        front, carry = front_of(unranked, carry)
        rank = jnp.where(front, front_index, rank)
        return unranked & ~front, rank, front_index + 1, carry

    start = (feasible, jnp.full(n, n, jnp.int32), jnp.int32(0), carry)
    return jax.lax.while_loop(unfinished, peel, start)[1]


def lexicographic_groups(F: jax.Array, feasible: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Feasible rows of `F` `(n, m)` first, in lexicographic order, and for each sorted row
    the sorted index of the first row of its group of duplicates. Both `(n,)` int.

    In this order every dominator of a row comes before it.
    """
    n, m = F.shape
    order = lexsort((*(F[:, k] for k in reversed(range(m))), ~feasible))
    Fs = F[order]
    new = jnp.concatenate([jnp.array([True]), jnp.any(Fs[1:] != Fs[:-1], axis=1)])
    return order, jax.lax.cummax(jnp.where(new, jnp.arange(n), 0))


def prefix_min(x: jax.Array) -> jax.Array:
    """Running minimum of `x` `(n,)` (an associative scan: twice as fast as `lax.cummin`
    on CPU)."""
    return jax.lax.associative_scan(jnp.minimum, x)


def scan_fronts(F: jax.Array, feasible: jax.Array, n_stop: int) -> jax.Array:
    """Pareto ranks of all `feasible` rows of `F` `(n, 2)` in one pass (`n_stop` unused).

    Rows are visited in lexicographic order, keeping the smallest f2 of each front so far;
    these minima rise with the front index, and a row joins the first front whose minimum
    exceeds its f2 (a binary search), like patience sorting. Duplicates take the rank of
    the first of their group. O(n log n) time, but sequential in n.
    """
    del n_stop
    n = F.shape[0]
    order, group_start = lexicographic_groups(F, feasible)
    f2 = F[order, 1]

    def visit(carry, row):
        front_min, rank = carry
        j, start = row
        rank = jnp.where(
            j == start, jnp.searchsorted(front_min, f2[j], side="right").astype(jnp.int32), rank
        )
        return (front_min.at[rank].min(f2[j]), rank), rank

    n_feasible = jnp.sum(feasible)
    start = (jnp.full(n, jnp.inf, F.dtype), jnp.int32(0))
    rank = jax.lax.scan(visit, start, (jnp.arange(n), group_start))[1]
    rank = jnp.where(jnp.arange(n) < n_feasible, rank, n)
    return jnp.zeros_like(rank).at[order].set(rank)


def sweep_fronts(F: jax.Array, feasible: jax.Array, n_stop: int) -> jax.Array:
    """Pareto ranks of the `feasible` rows of `F` `(n, 2)` or `(n, 3)` (see `peel_fronts`).

    In lexicographic order every dominator of a row comes before it, and among the rows
    before it (other than its own duplicates) the ones that dominate it are those no worse
    in the remaining objectives. With 2 objectives a row is in the next front when the
    running minimum of f2 over the unranked rows before its group is above its own f2.
    With 3, the sorted rows are split in halves recursively, as in merge sort: at each
    level every row of a right half looks up, among the unranked rows of its left half
    with f2 no larger, the smallest f3 (a running minimum in f2 order). That is
    O(n log^2 n) time per front, after as much to build the merge sort's runs once, and
    O(n log n) memory.
    """
    n, m = F.shape
    order, group_start = lexicographic_groups(F, feasible)
    Fs = F[order]
    first = group_start == jnp.arange(n)

    if m == 2:

        def front_of(unranked, carry):
            running = prefix_min(jnp.where(unranked, Fs[:, 1], jnp.inf))
            before = jnp.concatenate([jnp.array([jnp.inf], F.dtype), running[:-1]])
            return unranked & (before[group_start] > Fs[:, 1]), carry

    else:
        levels = max(1, (n - 1).bit_length())
        padded = 1 << levels
        f3 = jnp.pad(Fs[:, 2], (0, padded - n))
        f2_rank = jnp.zeros(padded, jnp.int32).at[lexsort((Fs[:, 1],))].set(
            jnp.arange(n, dtype=jnp.int32)
        )
        orders, places = blockwise_orders(
            f2_rank.at[n:].set(jnp.arange(n, padded, dtype=jnp.int32))
        )

        def front_of(unranked, carry):
            sources = jnp.where(unranked & first, Fs[:, 2], jnp.inf)
            sources = jnp.pad(sources, (0, padded - n), constant_values=jnp.inf)

            def level(index, dominated):
                order = orders[index]
                left = (order >> index) % 2 == 0
                best = segmented_min(jnp.where(left, sources[order], jnp.inf), index + 1)
                return dominated | (~left & (best <= f3[order]))[places[index]]

            dominated = jax.lax.fori_loop(0, levels, level, jnp.zeros(padded, bool))[:n]
            return unranked & ~dominated[group_start], carry

    rank = peel_fronts(front_of, feasible[order], n_stop, None)
    return jnp.zeros_like(rank).at[order].set(rank)


def segmented_min(x: jax.Array, log_size: jax.Array) -> jax.Array:
    """Running minimum of `x` `(n,)` restarted at every block of `2**log_size` entries,
    by doubling: O(n log_size) work, and small to compile (a loop, not an unrolled scan)."""
    n = x.shape[0]
    in_block = jnp.arange(n) % (1 << log_size)

    def double(step, x):
        shift = 1 << step
        earlier = jnp.concatenate([jnp.full_like(x, jnp.inf), x])
        earlier = jax.lax.dynamic_slice(earlier, (n - shift,), (n,))
        return jnp.where(in_block >= shift, jnp.minimum(x, earlier), x)

    return jax.lax.fori_loop(0, log_size, double, x)


def blockwise_orders(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Merge sort's runs: row l lists, block after block of `2 << l` positions, the
    positions of each block by increasing `key` `(2**levels,)` (distinct values).
    Returns those orders and their inverses (where each position sits in row l), both
    `(levels, 2**levels)` int32. Each level merges the runs of the previous one by binary
    search (a run's entry lands at its own index plus the count of smaller keys in the
    other run), with no sort."""
    size = key.shape[0]
    levels = size.bit_length() - 1
    position = jnp.arange(size, dtype=jnp.int32)

    def merge(level, carry):
        run_key, run_position, place, orders, places = carry
        half = 1 << level
        offset = position % half
        other = position - offset + jnp.where((position >> level) % 2 == 0, half, -half)

        def search(i, smaller):
            step = smaller + (half >> i)
            probe = run_key[other + jnp.minimum(step, half) - 1]
            return jnp.where((step <= half) & (probe < run_key), step, smaller)

        smaller = jax.lax.fori_loop(0, level + 1, search, jnp.zeros(size, jnp.int32))
        merged = position - (position >> level) % 2 * half + smaller
        run_key = run_key.at[merged].set(run_key)
        run_position = run_position.at[merged].set(run_position)
        place = merged[place]
        return (
            run_key, run_position, place,
            orders.at[level].set(run_position), places.at[level].set(place),
        )

    rows = jnp.zeros((levels, size), jnp.int32)
    start = (key, position, position, rows, rows)
    return jax.lax.fori_loop(0, levels, merge, start)[3:]


def tiled_fronts(F: jax.Array, feasible: jax.Array, n_stop: int) -> jax.Array:
    """Pareto ranks of the `feasible` rows of `F` `(n, m)` (see `peel_fronts`), with
    dominance counted over tiles of at most `TILE_ELEMENTS` pairs."""
    n = F.shape[0]
    tile = max(1, min(n, TILE_ROWS, TILE_ELEMENTS // n))

    def count_dominators(sources: jax.Array) -> jax.Array:
        """How many rows of the mask `sources` `(n,)` dominate each row. `(n,)` int32"""
        n_sources = jnp.sum(sources)
        index = jnp.nonzero(sources, size=-(-n // tile) * tile, fill_value=n)[0]

        def add_tile(state):
            start, count = state
            rows = jax.lax.dynamic_slice(index, (start,), (tile,))
            A = jnp.take(F, rows, axis=0, mode="fill", fill_value=jnp.nan)
            return start + tile, count + jnp.sum(pareto_dominance(A, F), axis=0, dtype=jnp.int32)

        start = (jnp.int32(0), jnp.zeros(n, jnp.int32))
        return jax.lax.while_loop(lambda s: s[0] < n_sources, add_tile, start)[1]

    def front_of(unranked, count):
        front = unranked & (count == 0)
        return front, count - count_dominators(front)

    return peel_fronts(front_of, feasible, n_stop, count_dominators(feasible))


def crowding_distance(F: jax.Array, rank: jax.Array) -> jax.Array:
    """NSGA-II crowding distance of every row of `F` `(n, m)` within its own front.

    For each objective the rows of a front are sorted; an inner row scores the gap between
    its neighbours divided by the front's range, and the two extremes score inf. Scores
    are summed over objectives. Rows in fronts of size <= 2 score inf. Returns `(n,)`.
    """
    F = finite_or_worst(F)
    n = F.shape[0]

    def along(f: jax.Array) -> jax.Array:
        order = lexsort((f, rank))
        f_sorted, rank_sorted = f[order], rank[order]
        same_prev = jnp.concatenate([jnp.array([False]), rank_sorted[1:] == rank_sorted[:-1]])
        same_next = jnp.concatenate([rank_sorted[1:] == rank_sorted[:-1], jnp.array([False])])
        prev = jnp.concatenate([f_sorted[:1], f_sorted[:-1]])
        next_ = jnp.concatenate([f_sorted[1:], f_sorted[-1:]])
        lo = jax.ops.segment_min(f, rank, num_segments=n + 1)[rank_sorted]
        hi = jax.ops.segment_max(f, rank, num_segments=n + 1)[rank_sorted]
        span = hi - lo
        gap = jnp.where(span > 0, (next_ - prev) / jnp.where(span > 0, span, 1.0), 0.0)
        gap = jnp.where(same_prev & same_next, gap, jnp.inf)
        return jnp.zeros(n, F.dtype).at[order].set(gap)

    return jnp.sum(jax.vmap(along, in_axes=1, out_axes=1)(F), axis=1)
