package io.tandem.inference.hf;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

/**
 * The key/value cache of one sequence on one {@link DecoderModel}: a row of the model's
 * {@link KvPool}, per layer {@code [2, num_key_value_heads, capacity, head_dim]}, keys (stored after
 * RoPE) then values. Token slots {@code [0, length)} are valid. The row is taken when the first token
 * is written and given back on {@link #close()}. Owned by one sequence and used from the model's
 * thread only.
 */
public final class KvCache implements AutoCloseable {

  private final KvPool pool;
  /** The pool row, or -1 before the first token. */
  private int row = -1;
  private int length;
  private boolean closed;

  KvCache(KvPool pool) {
    this.pool = pool;
    pool.unplaced(+1);
  }

  /** Number of tokens whose keys and values are cached (the next token's position). */
  public int length() {
    return length;
  }

  /** Token slots allocated: the pool's capacity, or 0 before the first token. */
  public int capacity() {
    return row < 0 ? 0 : pool.capacity();
  }

  /**
   * Forgets every token at or after {@code newLength}: the rollback of a discarded lookahead. The
   * memory is kept for the tokens that replace them.
   */
  public void truncate(int newLength) {
    if (newLength < 0 || newLength > length) {
      throw new IllegalArgumentException("cannot truncate a cache of length " + length + " to " + newLength);
    }
    length = newLength;
  }

  /**
   * Gives the row back and forgets every token; the cache stays usable and takes a row again at
   * its next write (preemption by recomputation, {@link io.tandem.inference.Sequence#dropCache()}).
   */
  public void drop() {
    if (closed) return;
    if (row >= 0) {
      pool.release(row);
      pool.unplaced(+1); // it takes a row again at its next write
    }
    row = -1;
    length = 0;
  }

  /**
   * A new cache holding a copy of this one's first {@code n} slots, in a row of its own (automatic
   * prefix caching: a new sequence starts from a cached prefix).
   *
   * @throws IllegalArgumentException when {@code n} is negative or beyond {@link #length()}
   */
  public KvCache forkPrefix(int n) {
    if (closed) throw new IllegalStateException("KV cache is closed");
    if (n < 0 || n > length) throw new IllegalArgumentException("cannot fork " + n + " slots of a cache of length " + length);
    KvCache fork = new KvCache(pool);
    if (n > 0) {
      fork.ensureCapacity(n);
      pool.copy(row, fork.row, n);
      fork.length = n;
    }
    return fork;
  }

  /**
   * This cache's share of the native memory its model's pool holds (the pool's bytes over the rows
   * taken: free rows and the capacity beyond this cache's length included), 0 before its first
   * token; the caches' shares add up to the pool to the byte (taken rows are the lowest, and the
   * first {@code bytes % taken} of them carry one byte of the remainder each).
   */
  public long bytes() {
    int taken = pool.taken();
    if (row < 0 || taken == 0) return 0; // none taken: the pool was closed with its model
    long all = pool.bytes();
    return all / taken + (row < all % taken ? 1 : 0);
  }

  /** Bytes one token occupies in a cache: keys and values of every layer. */
  static long bytesPerToken(int layers, int kvHeads, int headDim, DataType dtype) {
    return 2L * layers * kvHeads * headDim * dtype.getNumOfBytes();
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      if (row >= 0) pool.release(row);
      else pool.unplaced(-1);
      row = -1;
    }
  }

  /** Makes room for {@code needed} tokens: takes a row on first use, and grows the pool if needed. */
  void ensureCapacity(int needed) {
    if (closed) {
      throw new IllegalStateException("KV cache is closed");
    }
    if (needed > pool.maxLength()) {
      throw new IllegalArgumentException(
          "sequence of " + needed + " tokens exceeds the context length " + pool.maxLength());
    }
    if (row < 0) {
      row = pool.acquire(this);
      pool.unplaced(-1);
    }
    pool.ensureCapacity(needed);
  }

  /** The pool moved this cache's tokens to another row (compacting as others end). */
  void movedTo(int newRow) {
    row = newRow;
  }

  /** The pool row; only after {@link #ensureCapacity}. */
  int row() {
    return row;
  }

  /** Writes the new tokens' keys/values {@code [KV, n, hd]} into slots {@code [length, length + n)}. */
  void write(int layer, NDArray newKeys, NDArray newValues) {
    long n = newKeys.getShape().get(1);
    NDArray kv = pool.layer(layer);
    kv.set(new NDIndex().addIndices(row).addIndices(0).addAllDim().addSliceDim(length, length + n), newKeys);
    kv.set(new NDIndex().addIndices(row).addIndices(1).addAllDim().addSliceDim(length, length + n), newValues);
  }

  /**
   * A layer's row {@code [2, KV, capacity, hd]}, as a view owned by {@code step}, for a batched
   * decode that writes slot {@link #length()} itself.
   */
  NDArray layer(int layer, NDManager step) {
    return pool.layer(layer).get(step, new NDIndex().addIndices(row));
  }

  /** The first {@code upTo} slots of a layer's keys, as a view owned by {@code step}. */
  NDArray keys(int layer, int upTo, NDManager step) {
    return pool.layer(layer).get(step, new NDIndex().addIndices(row).addIndices(0).addAllDim().addSliceDim(0, upTo));
  }

  /** The first {@code upTo} slots of a layer's values, as a view owned by {@code step}. */
  NDArray values(int layer, int upTo, NDManager step) {
    return pool.layer(layer).get(step, new NDIndex().addIndices(row).addIndices(1).addAllDim().addSliceDim(0, upTo));
  }

  /** Marks {@code n} more slots valid once a forward pass has written them in every layer. */
  void advance(int n) {
    length += n;
  }

  boolean isClosed() {
    return closed;
  }
}
