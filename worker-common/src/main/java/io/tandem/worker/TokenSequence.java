package io.tandem.worker;

import io.tandem.inference.Sequence;
import java.util.Arrays;

/**
 * A sequence of token ids with no cache of its own: a session's tokens on a worker whose engine
 * keeps the cache (its prefix cache). {@link #processedLength} counts the tokens the engine has
 * seen in this sequence's requests, so that a step's unseen part is measured as on an in-process
 * worker.
 */
final class TokenSequence implements Sequence {
  private int[] ids = new int[256];
  private int length;
  private int processed;

  @Override
  public int length() {
    return length;
  }

  @Override
  public int tokenAt(int position) {
    if (position < 0 || position >= length) throw new IndexOutOfBoundsException(position + " of " + length);
    return ids[position];
  }

  @Override
  public void append(int[] tokenIds) {
    if (length + tokenIds.length > ids.length) ids = Arrays.copyOf(ids, Math.max(length + tokenIds.length, ids.length * 2));
    System.arraycopy(tokenIds, 0, ids, length, tokenIds.length);
    length += tokenIds.length;
  }

  @Override
  public void truncate(int newLength) {
    if (newLength < length) length = Math.max(0, newLength);
    processed = Math.min(processed, length);
  }

  @Override
  public Sequence forkPrefix(int n, io.tandem.protocol.SamplingParams sampling) {
    if (n < 0 || n > length) throw new IllegalArgumentException("cannot fork " + n + " of " + length + " tokens");
    TokenSequence fork = new TokenSequence();
    fork.append(Arrays.copyOf(ids, n));
    fork.processed = Math.min(processed, n);
    return fork;
  }

  @Override
  public int processedLength() {
    return processed;
  }

  /** Every token held but the last {@code unfed} has been through the engine (a request over them completed). */
  void markProcessed(int unfed) {
    processed = Math.max(0, length - unfed);
  }

  /** The ids held, in order. */
  int[] ids() {
    return Arrays.copyOf(ids, length);
  }

  @Override
  public long cacheBytes() {
    return 0;
  }

  @Override
  public void close() {}
}
