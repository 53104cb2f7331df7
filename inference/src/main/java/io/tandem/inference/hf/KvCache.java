package io.tandem.inference.hf;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * The key/value cache of one sequence on one {@link DecoderModel}: per layer, keys (stored after
 * RoPE) and values as {@code [num_key_value_heads, capacity, head_dim]}. Slots
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
  private final NDArray[] keys;
  private final NDArray[] values;
  private int length;
  private int capacity;
  private boolean closed;

  KvCache(NDManager manager, HfConfig config, DataType dtype) {
    this.manager = manager;
    this.layers = config.numHiddenLayers();
    this.kvHeads = config.numKeyValueHeads();
    this.headDim = config.headDim();
    this.maxLength = config.maxPositionEmbeddings();
    this.dtype = dtype;
    this.keys = new NDArray[layers];
    this.values = new NDArray[layers];
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
    Shape shape = new Shape(kvHeads, newCapacity, headDim);
    for (int l = 0; l < layers; l++) {
      NDArray k = manager.zeros(shape, dtype);
      NDArray v = manager.zeros(shape, dtype);
      if (length > 0) {
        NDIndex valid = new NDIndex().addAllDim().addSliceDim(0, length);
        try (NDArray oldK = keys[l].get(valid);
            NDArray oldV = values[l].get(valid)) {
          k.set(valid, oldK);
          v.set(valid, oldV);
        }
      }
      if (keys[l] != null) {
        keys[l].close();
        values[l].close();
      }
      keys[l] = k;
      values[l] = v;
    }
    capacity = newCapacity;
  }

  /** Writes the new tokens' keys/values {@code [KV, n, hd]} into slots {@code [length, length + n)}. */
  void write(int layer, NDArray newKeys, NDArray newValues) {
    long n = newKeys.getShape().get(1);
    NDIndex slots = new NDIndex().addAllDim().addSliceDim(length, length + n);
    keys[layer].set(slots, newKeys);
    values[layer].set(slots, newValues);
  }

  /** The first {@code upTo} slots of a layer's keys, as a view owned by {@code step}. */
  NDArray keys(int layer, int upTo, NDManager step) {
    return keys[layer].get(step, new NDIndex().addAllDim().addSliceDim(0, upTo));
  }

  /** The first {@code upTo} slots of a layer's values, as a view owned by {@code step}. */
  NDArray values(int layer, int upTo, NDManager step) {
    return values[layer].get(step, new NDIndex().addAllDim().addSliceDim(0, upTo));
  }

  /** Marks {@code n} more slots valid once a forward pass has written them in every layer. */
  void advance(int n) {
    length += n;
  }

  boolean isClosed() {
    return closed;
  }
}
