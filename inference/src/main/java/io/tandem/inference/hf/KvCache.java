package io.tandem.inference.hf;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * The key/value cache of one sequence on one {@link DecoderModel}: per layer one array
 * {@code [2, num_key_value_heads, capacity, head_dim]}, keys (stored after RoPE) then values, so
 * that a decode step writes and reads both with one call each. Slots
 * {@code [0, length)} are valid; capacity grows by doubling, so appending is amortised O(new
 * tokens). Owned by one sequence and used from the model's thread only.
 */
public final class KvCache implements AutoCloseable {

  private static final int MIN_CAPACITY = 64;

  private final NDManager manager;
  private final int layers;
  private final int kvHeads;
  private final int headDim;
  private final int maxLength;
  private final DataType dtype;
  private final NDArray[] kv;
  private int length;
  private int capacity;
  private boolean closed;

  KvCache(NDManager manager, HfConfig config, DataType dtype) {
    this(manager, config.numHiddenLayers(), config.numKeyValueHeads(), config.headDim(), config.maxPositionEmbeddings(), dtype);
  }

  private KvCache(NDManager manager, int layers, int kvHeads, int headDim, int maxLength, DataType dtype) {
    this.manager = manager;
    this.layers = layers;
    this.kvHeads = kvHeads;
    this.headDim = headDim;
    this.maxLength = maxLength;
    this.dtype = dtype;
    this.kv = new NDArray[layers];
  }

  /** Number of tokens whose keys and values are cached (the next token's position). */
  public int length() {
    return length;
  }

  /** Token slots allocated. */
  public int capacity() {
    return capacity;
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
   * A new cache holding a copy of this one's first {@code n} slots, in a manager of its own beside
   * this one's (automatic prefix caching: a new sequence starts from a cached prefix).
   *
   * @throws IllegalArgumentException when {@code n} is negative or beyond {@link #length()}
   */
  public KvCache forkPrefix(int n) {
    if (n < 0 || n > length) throw new IllegalArgumentException("cannot fork " + n + " slots of a cache of length " + length);
    KvCache fork = new KvCache(manager.getParentManager().newSubManager(), layers, kvHeads, headDim, maxLength, dtype);
    if (n > 0) {
      fork.ensureCapacity(n);
      NDIndex valid = new NDIndex().addAllDim().addAllDim().addSliceDim(0, n);
      for (int l = 0; l < layers; l++) {
        try (NDArray prefix = kv[l].get(valid)) {
          fork.kv[l].set(valid, prefix);
        }
      }
      fork.length = n;
    }
    return fork;
  }

  /** Bytes of native memory this cache holds (allocated capacity, all layers, keys and values). */
  public long bytes() {
    return (long) capacity * bytesPerToken(layers, kvHeads, headDim, dtype);
  }

  /** Bytes one token occupies in a cache: keys and values of every layer. */
  static long bytesPerToken(int layers, int kvHeads, int headDim, DataType dtype) {
    return 2L * layers * kvHeads * headDim * dtype.getNumOfBytes();
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      manager.close();
    }
  }

  /** Makes room for {@code needed} tokens, copying the valid slots into larger arrays if needed. */
  void ensureCapacity(int needed) {
    if (closed) {
      throw new IllegalStateException("KV cache is closed");
    }
    if (needed > maxLength) {
      throw new IllegalArgumentException(
          "sequence of " + needed + " tokens exceeds max_position_embeddings " + maxLength);
    }
    if (needed <= capacity) {
      return;
    }
    int newCapacity = Math.max(MIN_CAPACITY, capacity);
    while (newCapacity < needed) {
      newCapacity *= 2;
    }
    newCapacity = Math.min(newCapacity, maxLength);
    Shape shape = new Shape(2, kvHeads, newCapacity, headDim);
    for (int l = 0; l < layers; l++) {
      NDArray grown = manager.zeros(shape, dtype);
      if (length > 0) {
        NDIndex valid = new NDIndex().addAllDim().addAllDim().addSliceDim(0, length);
        try (NDArray old = kv[l].get(valid)) {
          grown.set(valid, old);
        }
      }
      if (kv[l] != null) {
        kv[l].close();
      }
      kv[l] = grown;
    }
    capacity = newCapacity;
  }

  /** Writes the new tokens' keys/values {@code [KV, n, hd]} into slots {@code [length, length + n)}. */
  void write(int layer, NDArray newKeys, NDArray newValues) {
    long n = newKeys.getShape().get(1);
    kv[layer].set(new NDIndex().addIndices(0).addAllDim().addSliceDim(length, length + n), newKeys);
    kv[layer].set(new NDIndex().addIndices(1).addAllDim().addSliceDim(length, length + n), newValues);
  }

  /** A layer's array {@code [2, KV, capacity, hd]}, for a batched decode that writes slot {@link #length()} itself. */
  NDArray layer(int layer) {
    return kv[layer];
  }

  /** The first {@code upTo} slots of a layer's keys, as a view owned by {@code step}. */
  NDArray keys(int layer, int upTo, NDManager step) {
    return kv[layer].get(step, new NDIndex().addIndices(0).addAllDim().addSliceDim(0, upTo));
  }

  /** The first {@code upTo} slots of a layer's values, as a view owned by {@code step}. */
  NDArray values(int layer, int upTo, NDManager step) {
    return kv[layer].get(step, new NDIndex().addIndices(1).addAllDim().addSliceDim(0, upTo));
  }

  /** Marks {@code n} more slots valid once a forward pass has written them in every layer. */
  void advance(int n) {
    length += n;
  }

  boolean isClosed() {
    return closed;
  }
}
