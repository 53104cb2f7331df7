package io.tandem.inference.hf;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.BitSet;

/**
 * The key/value caches of every live sequence of one {@link DecoderModel}, in one array per layer
 * {@code [rows, 2, num_key_value_heads, capacity, head_dim]}: a pool of rows, preallocated as
 * Hugging Face's {@code StaticCache} preallocates a batch's cache (it keeps keys and values apart),
 * but with rows taken and given back as sequences start and end. Each {@link KvCache} owns one
 * row; its token slots are the row's {@code capacity}. A batch of decodes writes its new keys and
 * values with one indexed store per layer and attends over a view of the pool: its sequences are
 * brought to neighbouring rows first ({@link #bringTogether}), since in steady serving the worker's
 * cached sessions hold rows among the running ones. Per-sequence arrays needed a store per sequence
 * and a {@code torch.stack} copy of every cache each step: on the demo's large model at 32
 * sequences of ~400 tokens, a layer's attention with those took 1.0-1.1 ms, from a view 0.6 ms.
 *
 * <p>The trade: every row has the pool's capacity, the longest length a cache has needed (doubled
 * as needed, up to the context, HfConfig#contextLength), halved only as caches end (while the longest left
 * fills no more than 3/8 of it; a cache truncated after a rollback keeps it), so short sequences
 * beside a long one hold more memory than they use, and free rows (up to 5/8 of them) hold memory
 * too. {@link KvCache#bytes()} is each cache's
 * share of the whole pool, so the caches' bytes add up to what the pool holds and a worker's
 * {@code kv-cache-bytes} budget sees all of it. Rows taken are kept the lowest (a freed row gets the
 * highest one moved into it), so evicting caches lets the pool shrink; the arrays are freed when
 * the last sequence ends. Used from the model's thread only.
 */
final class KvPool implements AutoCloseable {

  private static final int MIN_CAPACITY = 64;
  /**
   * One row to start with, so that one sequence (a long one most of all) holds one row's memory: at
   * a 1.5B model's full context in float32 a row is 1.75 GiB, and a pool that started at four held 7.
   */
  private static final int MIN_ROWS = 1;

  private final NDManager manager;
  private final int layers;
  private final int kvHeads;
  private final int headDim;
  private final int maxLength;
  private final DataType dtype;
  private final NDArray[] kv;
  private final BitSet taken = new BitSet();
  /** Per row its cache, for the lengths the capacity may shrink to. */
  private KvCache[] owners = new KvCache[0];
  private int rows;
  private int capacity;
  /** Open caches without a row that take one at their next write: new ones, and ones dropped (preempted). */
  private int unplaced;

  /**
   * Bytes from which a pool's doubling counts as costly ({@link #growthCopiesMuch}): on the build
   * machine, doubling the demo's large model's pool from 64 to 128 rows of 512 slots (192 MiB kept,
   * 384 MiB zeroed) took 1.0-1.4 s, most of it page faults, and from 32 to 64 rows 0.3-0.5 s. At
   * 256 MiB, kept prefixes (none of which the next sessions reused) doubled that pool to 128 rows in
   * every run of `bench serve` at 8 sessions, 1.3 s of the large worker's 18; the pool holding them
   * then shrank again, 0.35 s more. Below it a pool still doubles for kept prefixes, which a
   * large-model engine needs (each takeover is a new request whose prefix is the session's previous
   * one): with 64 MiB, 24 demo sessions through an engine prefilled 9% more than in process in one CI
   * run, their prefixes having given rows to each other's requests; 48 rows of 512 slots fit under
   * 128 MiB's doubling.
   */
  static final long COSTLY_GROWTH_BYTES = 128L << 20;

  KvPool(NDManager manager, HfConfig config, DataType dtype) {
    this.manager = manager;
    this.layers = config.numHiddenLayers();
    this.kvHeads = config.numKeyValueHeads();
    this.headDim = config.headDim();
    this.maxLength = config.contextLength();
    this.dtype = dtype;
    this.kv = new NDArray[layers];
  }

  int layers() {
    return layers;
  }

  int maxLength() {
    return maxLength;
  }

  /** Token slots every row has room for. */
  int capacity() {
    return capacity;
  }

  /** Rows allocated, taken or not. */
  int rows() {
    return rows;
  }

  /** Bytes the pool's arrays hold, rows taken or not. */
  long bytes() {
    return (long) rows * capacity * bytesPerToken();
  }

  /**
   * Bytes the pool would hold for {@code caches} caches, the longest {@code longest} tokens, were
   * they its only ones: rows and capacity rounded up as {@link #acquire} and {@link
   * #ensureCapacity} grow them (powers of two from {@value #MIN_ROWS} row and {@value
   * #MIN_CAPACITY} slots, the capacity at most the context length).
   */
  long bytesFor(int caches, int longest) {
    if (caches <= 0) return 0;
    long r = MIN_ROWS;
    while (r < caches) r *= 2;
    long c = MIN_CAPACITY;
    while (c < longest) c *= 2;
    return r * Math.min(c, maxLength) * bytesPerToken();
  }

  /**
   * Shrinks the arrays to {@link #bytesFor} of the caches taken (rows and capacity the smallest
   * powers of two that hold them), copying what they hold, when they are larger: the room {@link
   * #release} keeps until the pool is mostly unused, given back when a worker's budget needs it.
   */
  void compact() {
    if (taken.isEmpty()) return;
    int newRows = MIN_ROWS;
    while (newRows < taken.length()) newRows *= 2;
    int longest = 0;
    for (int r = taken.nextSetBit(0); r >= 0; r = taken.nextSetBit(r + 1)) longest = Math.max(longest, owners[r].length());
    int newCapacity = MIN_CAPACITY;
    while (newCapacity < longest) newCapacity *= 2;
    newCapacity = Math.min(newCapacity, maxLength);
    if (newRows < rows || newCapacity < capacity) resize(Math.min(newRows, rows), Math.min(newCapacity, capacity));
  }

  /**
   * Whether taking {@code newRows} more rows, or room for {@code longest} tokens in every row,
   * needs the pool to grow (a copy of all it holds: {@link #acquire}, {@link #ensureCapacity}).
   */
  boolean growsFor(int newRows, int longest) {
    return taken() + newRows > rows || longest > capacity;
  }

  /**
   * Whether one more cache would make the pool double its rows, a copy of all it holds, and the
   * pool holds {@value #COSTLY_GROWTH_BYTES} bytes or more: every row is taken or owed to an open
   * cache without one yet (new, or dropped by preemption).
   */
  boolean growthCopiesMuch() {
    return growsFor(unplaced + 1, 0) && bytes() >= COSTLY_GROWTH_BYTES;
  }

  /** A cache without a row was opened ({@code +1}: new or dropped), took one or closed ({@code -1}). */
  void unplaced(int change) {
    unplaced += change;
  }

  /** Rows taken by live caches. */
  int taken() {
    return taken.cardinality();
  }

  /** Bytes one token occupies in a row: keys and values of every layer. */
  long bytesPerToken() {
    return KvCache.bytesPerToken(layers, kvHeads, headDim, dtype);
  }

  /** A layer's whole pool {@code [rows, 2, KV, capacity, hd]}; valid until the pool next grows or shrinks. */
  NDArray layer(int layer) {
    return kv[layer];
  }

  /** The lowest free row, now {@code owner}'s; the pool grows (doubling its rows) when none is free. */
  int acquire(KvCache owner) {
    int row = taken.nextClearBit(0);
    if (row >= rows) resize(Math.max(MIN_ROWS, rows * 2), Math.max(capacity, MIN_CAPACITY));
    taken.set(row);
    owners[row] = owner;
    return row;
  }

  /** Nonzero while {@link #releasingMany} runs: the pool shrinks once, at its end. */
  private int shrinkDeferred;

  /**
   * Runs {@code frees}, which releases caches, with the pool's shrinking held until it ends: each
   * halving copies the pool, and a worker freeing 171 caches at once halved it row by row, from 4 GiB
   * down, holding its thread (and its answers) for 2.6 s. The rows still move down as each is freed.
   */
  void releasingMany(Runnable frees) {
    shrinkDeferred++;
    try {
      frees.run();
    } finally {
      if (--shrinkDeferred == 0 && !taken.isEmpty()) shrinkIfMostlyFree();
    }
  }

  /**
   * Gives a row back; the highest row taken moves into it (its cache told), so the rows taken are
   * always the lowest. The arrays are freed when no row is taken; the rows are halved while no more
   * than 3/8 of them are taken, the capacity while the longest cache left fills no more than 3/8
   * (at the end of {@link #releasingMany}, when within it).
   */
  void release(int row) {
    if (!taken.get(row)) return; // the pool was closed (its model closed) before the sequence ended
    taken.clear(row);
    owners[row] = null;
    if (taken.isEmpty()) {
      free();
      return;
    }
    int last = taken.length() - 1;
    if (last > row) {
      // The highest row moves into the hole, so the rows taken stay [0, taken) and the pool can shrink.
      KvCache moved = owners[last];
      copy(last, row, moved.length());
      taken.clear(last);
      owners[last] = null;
      taken.set(row);
      owners[row] = moved;
      moved.movedTo(row);
    }
    if (shrinkDeferred == 0) shrinkIfMostlyFree();
  }

  private void shrinkIfMostlyFree() {
    // Halved once no more than 3/8 is used: a pool just halved is 3/4 full, so one more sequence
    // (or a little more length) does not double it again (each resize copies the whole pool), and
    // evicting idle caches (the worker's budget) frees memory well before the pool is nearly empty.
    int newRows = rows;
    while (newRows > MIN_ROWS && taken.length() * 8L <= newRows * 3L) newRows /= 2;
    int longest = 0;
    for (int r = taken.nextSetBit(0); r >= 0; r = taken.nextSetBit(r + 1)) longest = Math.max(longest, owners[r].length());
    int newCapacity = capacity;
    while (newCapacity > MIN_CAPACITY && longest * 8L <= newCapacity * 3L) newCapacity /= 2;
    if (newRows != rows || newCapacity != capacity) resize(newRows, newCapacity);
  }

  /**
   * Room for {@code needed} tokens in every row, doubling the capacity (a copy of the pool) if needed.
   *
   * @throws IllegalArgumentException if {@code needed} passes the context (HfConfig#contextLength)
   */
  void ensureCapacity(int needed) {
    if (needed > maxLength) {
      throw new IllegalArgumentException(
          "sequence of " + needed + " tokens exceeds the context length " + maxLength);
    }
    if (needed <= capacity) return;
    int grown = Math.max(MIN_CAPACITY, capacity);
    while (grown < needed) grown *= 2;
    resize(rows, Math.min(grown, maxLength));
  }

  /** Copies row {@code from}'s first {@code n} tokens into row {@code to} (a fork's prefix, a row moved down or traded). */
  void copy(int from, int to, int n) {
    if (n == 0) return;
    NDIndex source = new NDIndex().addIndices(from).addAllDim().addAllDim().addSliceDim(0, n);
    NDIndex target = new NDIndex().addIndices(to).addAllDim().addAllDim().addSliceDim(0, n);
    for (int l = 0; l < layers; l++) {
      try (NDArray prefix = kv[l].get(source)) {
        kv[l].set(target, prefix);
      }
    }
  }

  /**
   * Moves the caches in {@code rows} (distinct rows taken) into neighbouring rows, so that a batch of
   * decodes reads them as a view of the pool instead of gathering them at every step: each one
   * outside the chosen block trades rows with a cache inside it that is not among them (both caches
   * told). The block is the one already holding most of them, so a batch that changed by one
   * sequence since its last step costs one trade, two rows' tokens copied, where a gather copied
   * every row of the batch over the longest one's slots at every step (on the demo's large model at
   * 20 sequences of 400 tokens, a step took 4.4-5.6 ms from a view and 5.9-8.2 ms gathered).
   *
   * @param rows per sequence its row; rewritten with the rows they hold now
   * @return the block's first row: the sequences hold {@code [first, first + rows.length)}
   */
  int bringTogether(long[] rows) {
    int n = rows.length;
    long[] sorted = rows.clone();
    java.util.Arrays.sort(sorted);
    int taken = taken();
    int first = 0;
    int most = -1;
    for (int i = 0, j = 0; i < n; i++) {
      // A block starting at a row the batch holds, moved down where it would pass the rows taken.
      long start = Math.min(sorted[i], taken - n);
      while (j < n && sorted[j] < start + n) j++;
      int low = java.util.Arrays.binarySearch(sorted, start);
      int inside = j - (low >= 0 ? low : -low - 1);
      if (inside > most) {
        most = inside;
        first = (int) start;
      }
    }
    BitSet inBatch = new BitSet();
    for (long r : rows) inBatch.set((int) r);
    int free = first;
    for (int b = 0; b < n; b++) {
      if (rows[b] >= first && rows[b] < first + n) continue;
      while (inBatch.get(free)) free++;
      trade((int) rows[b], free);
      inBatch.set(free);
      rows[b] = free;
    }
    return first;
  }

  /** Exchanges the tokens and the owners of two rows taken (each cache told of its new row). */
  private void trade(int a, int b) {
    KvCache atA = owners[a];
    KvCache atB = owners[b];
    int na = atA.length();
    NDArray[] fromA = new NDArray[layers];
    NDIndex aSlots = new NDIndex().addIndices(a).addAllDim().addAllDim().addSliceDim(0, na);
    NDIndex aToB = new NDIndex().addIndices(b).addAllDim().addAllDim().addSliceDim(0, na);
    try {
      for (int l = 0; na > 0 && l < layers; l++) {
        try (NDArray view = kv[l].get(aSlots)) {
          fromA[l] = view.duplicate();
        }
      }
      copy(b, a, atB.length());
      for (int l = 0; na > 0 && l < layers; l++) kv[l].set(aToB, fromA[l]);
    } finally {
      for (NDArray x : fromA) if (x != null) x.close();
    }
    owners[a] = atB;
    owners[b] = atA;
    atA.movedTo(b);
    atB.movedTo(a);
  }

  private void resize(int newRows, int newCapacity) {
    Shape shape = new Shape(newRows, 2, kvHeads, newCapacity, headDim);
    int keptRows = Math.min(rows, newRows);
    NDIndex kept = new NDIndex().addSliceDim(0, keptRows).addAllDim().addAllDim().addSliceDim(0, Math.min(capacity, newCapacity));
    for (int l = 0; l < layers; l++) {
      NDArray resized = manager.zeros(shape, dtype);
      if (kv[l] != null) {
        if (keptRows > 0 && capacity > 0 && newCapacity > 0) {
          try (NDArray old = kv[l].get(kept)) {
            resized.set(kept, old);
          }
        }
        kv[l].close();
      }
      kv[l] = resized;
    }
    owners = java.util.Arrays.copyOf(owners, newRows);
    rows = newRows;
    capacity = newCapacity;
  }

  private void free() {
    for (int l = 0; l < layers; l++) {
      if (kv[l] != null) kv[l].close();
      kv[l] = null;
    }
    owners = new KvCache[0];
    rows = 0;
    capacity = 0;
  }

  @Override
  public void close() {
    free();
    taken.clear();
    manager.close();
  }
}
