package io.tandem.inference;

/**
 * The per-request state of one generation on one model: its tokens and whatever cache the model
 * keeps for them. Not thread-safe; owned by the worker that owns the model.
 */
public interface Sequence extends AutoCloseable {

  /** Number of tokens in the sequence, processed or not. */
  int length();

  /** The token id at a position. */
  int tokenAt(int position);

  /** Appends tokens; they are processed by the next {@link LanguageModel#forward}. */
  void append(int[] tokenIds);

  /** Drops every token at or after {@code length} (and its cache): the rollback of a lookahead. */
  void truncate(int length);

  /** Number of tokens whose cache is computed; the rest are fed by the next step. */
  int processedLength();

  /** Bytes of native or heap memory held by this sequence's cache. */
  long cacheBytes();

  /** Frees the cache. */
  @Override
  void close();
}
