package io.tandem.worker;

import com.typesafe.config.Config;

/**
 * A worker's limits: how many sequences run in one batch, how many requests may wait, how many
 * bytes of cache it keeps, whether it batches at all (off: one sequence per forward pass, for
 * measuring what batching buys), how many prompt tokens one sequence may prefill per pass (longer
 * prefills are chunked so that they don't stall the decodes batched with them), and how many tokens
 * one pass feeds in all ({@code max-num-batched-tokens}, vLLM's {@code max_num_batched_tokens}: the
 * decodes always, then prefill chunks in the order their requests came, while it lasts; 0 for no
 * limit).
 */
public record WorkerSettings(
    int maxBatch, int queueLimit, long kvCacheBytes, boolean batching, int prefillChunk, int prefixCacheSequences,
    int maxNumBatchedTokens) {

  /** With the default {@code max-num-batched-tokens} ({@value #DEFAULT_MAX_NUM_BATCHED_TOKENS}). */
  public WorkerSettings(int maxBatch, int queueLimit, long kvCacheBytes, boolean batching, int prefillChunk,
      int prefixCacheSequences) {
    this(maxBatch, queueLimit, kvCacheBytes, batching, prefillChunk, prefixCacheSequences, DEFAULT_MAX_NUM_BATCHED_TOKENS);
  }

  /**
   * Tokens one forward pass feeds when {@code max-num-batched-tokens} is not set: 0, no limit, every
   * running request its chunk. A limit holds later prompts' prefills behind earlier ones' (a tester:
   * a new stream's first token 7.5 s behind four 8,000-token prompts at 2,048, against 0.8 s without),
   * so it is the operator's choice, for the gaps of streams already running.
   */
  public static final int DEFAULT_MAX_NUM_BATCHED_TOKENS = 0;

  /**
   * The most {@code max-batch} a role's configuration may give: 16 times vLLM's default {@code
   * max_num_seqs} (256). More sequences than that in one forward pass fit no machine's KV cache at a
   * useful context, and a worker sizes its start line's capacity figure (sequences at the full
   * context) by counting up to it, so a figure like 10^9 (a stray zero, a missing unit elsewhere) is
   * refused rather than taken.
   */
  public static final int MAX_BATCH = 4096;

  /** Released sessions' sequences kept as prefixes when {@code prefix-cache-sequences} is not set. */
  public static final int DEFAULT_PREFIX_CACHE_SEQUENCES = 256;

  /** The settings with the default {@code prefix-cache-sequences} ({@value #DEFAULT_PREFIX_CACHE_SEQUENCES}). */
  public WorkerSettings(int maxBatch, int queueLimit, long kvCacheBytes, boolean batching, int prefillChunk) {
    this(maxBatch, queueLimit, kvCacheBytes, batching, prefillChunk, DEFAULT_PREFIX_CACHE_SEQUENCES);
  }

  /** Prompt tokens one sequence prefills per pass when {@code prefill-chunk} is not set. */
  public static final int DEFAULT_PREFILL_CHUNK = 512;

  /** The settings with the default {@code prefill-chunk} ({@value #DEFAULT_PREFILL_CHUNK} tokens). */
  public WorkerSettings(int maxBatch, int queueLimit, long kvCacheBytes, boolean batching) {
    this(maxBatch, queueLimit, kvCacheBytes, batching, DEFAULT_PREFILL_CHUNK);
  }

  /** @throws IllegalArgumentException when a count is below 1 or the byte budget negative (the message names the key) */
  public WorkerSettings {
    if (prefillChunk < 1) throw new IllegalArgumentException("prefill-chunk must be >= 1, got " + prefillChunk);
    if (maxNumBatchedTokens < 0)
      throw new IllegalArgumentException("max-num-batched-tokens must be >= 0 (0: no limit), got " + maxNumBatchedTokens);
    if (maxBatch < 1) throw new IllegalArgumentException("max-batch must be >= 1, got " + maxBatch);
    if (queueLimit < 1) throw new IllegalArgumentException("queue-limit must be >= 1, got " + queueLimit);
    if (kvCacheBytes < 0) throw new IllegalArgumentException("kv-cache-bytes must be >= 0, got " + kvCacheBytes);
    if (prefixCacheSequences < 0)
      throw new IllegalArgumentException("prefix-cache-sequences must be >= 0, got " + prefixCacheSequences);
  }

  /** 16 sequences a batch, 1024 waiting, 2 GiB of cache, batching on, chunks of 512 prompt tokens, no pass budget. */
  public static WorkerSettings defaults() {
    return new WorkerSettings(16, 1024, 2L << 30, true);
  }

  /**
   * Reads a role's section ({@code tandem.small}, {@code tandem.large}): {@code max-batch}, {@code
   * queue-limit}, {@code kv-cache-bytes}, {@code batching} and, optionally, {@code prefill-chunk},
   * {@code prefix-cache-sequences} (how many released sessions' sequences stay cached as prefixes for
   * new ones, within {@code kv-cache-bytes}; 0: none) and {@code max-num-batched-tokens}.
   *
   * @throws com.typesafe.config.ConfigException when a key is missing or of the wrong type
   * @throws IllegalArgumentException when a value is out of range ({@code max-batch} above {@link #MAX_BATCH} included)
   */
  public static WorkerSettings fromConfig(Config c) {
    int maxBatch = c.getInt("max-batch");
    if (maxBatch > MAX_BATCH)
      throw new IllegalArgumentException("max-batch must be at most " + MAX_BATCH + " (sequences in one forward pass; 16 times"
          + " vLLM's default max_num_seqs), got " + maxBatch);
    return new WorkerSettings(
        maxBatch, c.getInt("queue-limit"), c.getBytes("kv-cache-bytes"), c.getBoolean("batching"),
        c.hasPath("prefill-chunk") ? c.getInt("prefill-chunk") : DEFAULT_PREFILL_CHUNK,
        c.hasPath("prefix-cache-sequences") ? c.getInt("prefix-cache-sequences") : DEFAULT_PREFIX_CACHE_SEQUENCES,
        c.hasPath("max-num-batched-tokens") ? c.getInt("max-num-batched-tokens") : DEFAULT_MAX_NUM_BATCHED_TOKENS);
  }

  /** The most sequences one forward pass runs: {@code maxBatch}, or 1 with batching off. */
  public int effectiveBatch() {
    return batching ? maxBatch : 1;
  }
}
