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

  /** Number of tokens whose cache is computed; the rest are fed by the next forward pass. */
  int processedLength();

  /**
   * A new sequence holding this one's first {@code n} tokens and the cache computed for them
   * ({@code min(n, processedLength())} tokens processed), sampling with {@code sampling}; this one
   * is unchanged. Automatic prefix caching, as vLLM's: a new request whose prompt starts with
   * tokens a cached sequence holds starts from their cache instead of prefilling them again. The
   * first {@link #append} after the fork continues the prompt.
   *
   * @throws IllegalArgumentException when {@code n} is negative or beyond {@link #length()}
   */
  Sequence forkPrefix(int n, io.tandem.protocol.SamplingParams sampling);

  /**
   * Frees the cache and forgets what it held, keeping the tokens: {@link #processedLength()} becomes
   * 0 and the next {@link LanguageModel#forward} passes prefill every token again, in chunks, before
   * the sequence samples its next one. vLLM's preemption by recomputation: a worker out of cache
   * room takes a running sequence out of the batch this way and resumes it later with the same
   * tokens. A sequence without a cache of its own (a remote engine's) keeps its count.
   */
  default void dropCache() {}

  /**
   * Holds the last token back, or stops holding it: while held, {@link LanguageModel#forward} feeds
   * this sequence at most up to, not including, its last token and samples nothing for it ({@link
   * LanguageModel#NOT_YET}), so that its cache is computed ahead of the request that will sample from
   * it (a prefill ahead, {@code WorkerProtocol.Limits#prefillAhead}). A held sequence whose tokens but
   * the last are all processed has nothing to feed and must not be in a batch.
   *
   * @return whether the model holds the token back; false for models without a real prefill
   *     (scripted ones, a remote engine's), which ignore the call
   */
  default boolean holdLastToken(boolean hold) {
    return false;
  }

  /** Bytes of native or heap memory held by this sequence's cache. */
  long cacheBytes();

  /** Frees the cache. */
  @Override
  void close();
}
