"""Non-dominated sorting and crowding distance as tensor programs."""

from __future__ import annotations

import jax
import jax.numpy as jnp

MATRIX_MAX_ROWS = 256
"""`non_dominated_rank(method="auto")` builds the full `(n, n)` dominance matrix for 3+
objectives up to this many rows. Measured on a 2-core CPU with 3 objectives (random rows):
at 100 rows the matrix takes 0.19 ms against 0.55 ms tiled and 0.29 ms sweep, at 200 all
three take about 0.5 ms, and at 4,000 rows (33 fronts) the matrix takes 326 ms against
29 ms tiled and 12 ms sweep."""

SCAN_MIN_ROWS = 4096
"""With 2 objectives on CPU, `method="auto"` takes "scan" from this many rows on, "sweep"
below: at 2,000 random rows (34 fronts) both take about 0.02 s; at 20,000 (118 fronts)
"scan" takes 0.035 s and "sweep" 0.2 s."""

TILE_ELEMENTS = 1 << 23
"""Most pairs compared at once by the tiled sort and by `earlier_dominated`: their memory
is O(n + TILE_ELEMENTS)."""

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


def first_argmin(x: jax.Array, axis: int = -1) -> jax.Array:
    """`jnp.argmin(x, axis)` as int32: the first position of the minimum along `axis`, or
    of the first NaN where there is one (for bool `x`: the first False, else 0).

    XLA's CPU argmin reduces (value, position) pairs, at about 5-10 ns an element; a min,
    then mins over the positions that hold it and over those holding NaN, are several
    times faster (the nearest of 990 directions for each of 2,000 rows: 1.5 ms against
    9.5). Positions are counted in `x`'s float type, exact below 2^24.
    """
    x = jnp.asarray(x)
    n = x.shape[axis]
    if x.dtype == bool:
        return first_argmax(~x, axis)
    if not jnp.issubdtype(x.dtype, jnp.floating) or x.dtype.itemsize < 4 or n >= 1 << 24:
        return jnp.argmin(x, axis).astype(jnp.int32)
    shape = [1] * x.ndim
    shape[axis] = n
    position = jnp.arange(n, dtype=x.dtype).reshape(shape)

    def first(hit):
        return jnp.min(jnp.where(hit, position, jnp.inf), axis)

    # Apart: XLA's min need not propagate NaN.
    nan = first(jnp.isnan(x))
    low = first(x == jnp.min(x, axis, keepdims=True))
    return jnp.where(nan < n, nan, low).astype(jnp.int32)


def first_argmax(x: jax.Array, axis: int = -1) -> jax.Array:
    """`jnp.argmax(x, axis)` as int32 (for bool `x`: the first True, else 0), as fast as
    `first_argmin`."""
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.floating):
        return first_argmin(-x, axis)
    if x.dtype != bool:
        return jnp.argmax(x, axis).astype(jnp.int32)
    n = x.shape[axis]
    shape = [1] * x.ndim
    shape[axis] = n
    first = jnp.min(jnp.where(x, jnp.arange(n, dtype=jnp.int32).reshape(shape), n), axis)
    return jnp.where(first == n, 0, first)


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
      sort (see `sweep_fronts`). O(n) memory.
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
    With 3, `earlier_dominated` answers the same question for (f2, f3) from a grid of
    blocks, in O(n) memory.
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
        dominated = earlier_dominated(Fs[:, 1], Fs[:, 2])

        def front_of(unranked, carry):
            sources = jnp.where(unranked & first, Fs[:, 2], jnp.inf)
            return unranked & ~dominated(sources)[group_start], carry

    rank = peel_fronts(front_of, feasible[order], n_stop, None)
    return jnp.zeros_like(rank).at[order].set(rank)


def grid_block(n: int) -> int:
    """Block size of `earlier_dominated` for `n` rows, a multiple of 8: about 3 n^(1/3),
    which balances the pairs compared within blocks (n x block) against the grid of
    blocks ((n / block)^2) and measured best on a 2-core CPU at 2,000, 20,000 and 100,000
    rows; but at least sqrt(n / 16), so that the grid never exceeds 16n cells (from
    about 3,000,000 rows on)."""
    block = max(3 * n ** (1 / 3), (n / 16) ** 0.5)
    return max(8, -(-int(block) // 8) * 8)


def earlier_dominated(f2: jax.Array, f3: jax.Array):
    """For rows `(n,)` listed in an order where a row's dominators come before it: a
    function of `sources` `(n,)` returning, for each row i, whether an earlier row j with
    f2[j] <= f2[i] has sources[j] <= f3[i]. `(n,)` bool. (`sources` is f3 for the rows
    allowed to dominate and inf for the others.)

    Rows are points of an n x n plane: position along one axis, stable f2 rank along the
    other, and row i asks about the rectangle below and left of it. Both axes are cut into
    blocks of `grid_block(n)`, making the rectangle three parts: the whole cells below-left
    of i's cell (a 2-D running minimum over a grid of per-cell minima), the rows of i's
    position block, and the rows of i's f2 block in earlier position blocks (these two by
    comparing all pairs within each block, `TILE_ELEMENTS` pairs at a time). Per call
    O(n x block + (n / block)^2) time (O(n^(3/2)) for large n) and O(n + TILE_ELEMENTS)
    memory; the orders are computed once.
    """
    n = f2.shape[0]
    block = grid_block(n)
    n_blocks = -(-n // block)
    size = n_blocks * block
    by_f2 = jnp.concatenate([lexsort((f2,)), jnp.arange(n, size, dtype=jnp.int32)])
    f2_rank = jnp.zeros(size, jnp.int32).at[by_f2].set(jnp.arange(size, dtype=jnp.int32))
    f3 = jnp.pad(f3, (0, size - n), constant_values=-jnp.inf)
    cell_row = jnp.arange(size, dtype=jnp.int32) // block
    cell_col = f2_rank // block
    corner_row, corner_col = cell_row - 1, cell_col - 1
    has_corner = (corner_row >= 0) & (corner_col >= 0)
    before = jnp.arange(block)[None, :] < jnp.arange(block)[:, None]  # [i, j]: j before i

    def within_blocks(values, key, limit):
        """Per block of `values`, `key`, `limit` `(n_blocks, block)`: some earlier j in i's
        block with key[j] < key[i] and values[j] <= limit[i]. `(size,)` bool"""

        def one_block(row):
            values, key, limit = row
            candidate = before & (key[None, :] < key[:, None])
            return jnp.any(candidate & (values[None, :] <= limit[:, None]), axis=1)

        chunk = max(1, TILE_ELEMENTS // block**2)
        return jax.lax.map(one_block, (values, key, limit), batch_size=chunk).reshape(size)

    f2_rank_blocks = f2_rank.reshape(n_blocks, block)
    f3_blocks = f3.reshape(n_blocks, block)
    row_of_f2_blocks = cell_row[by_f2].reshape(n_blocks, block)
    f3_of_f2_blocks = f3[by_f2].reshape(n_blocks, block)

    def dominated(sources: jax.Array) -> jax.Array:
        sources = jnp.pad(sources, (0, size - n), constant_values=jnp.inf)
        grid = jnp.full((n_blocks, n_blocks), jnp.inf, sources.dtype)
        grid = grid.at[cell_row, cell_col].min(sources)
        grid = jax.lax.cummin(jax.lax.cummin(grid, axis=0), axis=1)
        corner = has_corner & (grid[corner_row, corner_col] <= f3)
        own_row = within_blocks(sources.reshape(n_blocks, block), f2_rank_blocks, f3_blocks)
        own_col = within_blocks(
            sources[by_f2].reshape(n_blocks, block), row_of_f2_blocks, f3_of_f2_blocks
        )
        return (corner | own_row | own_col[f2_rank])[:n]

    return dominated


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
