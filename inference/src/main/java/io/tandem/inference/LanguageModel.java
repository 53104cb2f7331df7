package io.tandem.inference;

import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.ChatTemplateArgs;
import io.tandem.protocol.SamplingParams;
import java.util.List;
import java.util.Set;

/**
 * A causal language model as the workers see it: scripted, simulated or a real checkpoint.
 *
 * <p>Weights belong to the model; per-request state (tokens, KV cache, sampler RNG) belongs to a
 * {@link Sequence}, so one set of weights serves many sessions. All calls on one model must come
 * from one thread (DJL predictors and the PyTorch thread pool are not thread-safe).
 */
public interface LanguageModel extends AutoCloseable {

  /** A short name for logs and responses, e.g. the checkpoint folder name or {@code scripted:small}. */
  String name();

  /** The tokenizer of this model. */
  TextTokenizer tokenizer();

  /** Token ids that end a generation (from {@code generation_config.json} for real models). */
  Set<Integer> eosTokenIds();

  /** The longest sequence (prompt plus generated tokens) the model accepts. */
  int contextLength();

  /**
   * Token ids this model knows are {@code [0, vocabSize)} (HF's {@code vocab_size}); 0 when the
   * model has no fixed vocabulary (scripted models learn theirs), whose tokenizer then refuses ids it
   * does not know when decoding.
   */
  default int vocabSize() {
    return 0;
  }

  /**
   * Whether {@link #renderChat} can render chat messages at all: false for a checkpoint without a
   * chat template (a base model), which serves raw prompts only.
   */
  default boolean hasChatTemplate() {
    return true;
  }

  /** Renders chat messages with the model's own chat template and a generation prompt, as ids. */
  default int[] renderChat(List<ChatMessage> messages) {
    return renderChat(messages, ChatTemplateArgs.DEFAULT);
  }

  /**
   * Renders chat messages with the model's own chat template as {@code args} say, as ids.
   *
   * @throws IllegalArgumentException when the model cannot render them (no chat template, or the
   *     template refuses them)
   */
  int[] renderChat(List<ChatMessage> messages, ChatTemplateArgs args);

  /** Opens a new sequence (empty, no cache) that samples with the given parameters. */
  Sequence newSequence(SamplingParams sampling);

  /**
   * One forward pass over a batch: for each sequence, feeds at most {@code maxPrefillTokens} of the
   * tokens it holds that the model has not processed yet (a prefill of many tokens, or a single
   * decode token); a sequence whose unprocessed tokens all fit then samples its next token, which is
   * appended to it (unprocessed) and returned. A sequence with tokens left over (a long prompt
   * prefilled over several passes, so that it does not stall the decodes batched with it) gets
   * {@link #NOT_YET} and nothing appended. Models without a real prefill (scripted ones) feed
   * everything whatever the limit.
   *
   * @param batch sequences of this model (from {@link #newSequence}), each with at least one token
   * @param maxPrefillTokens the most unprocessed tokens fed per sequence in this pass, >= 1
   * @return the sampled token id (or {@link #NOT_YET}) per sequence, in batch order
   * @throws IllegalArgumentException when {@code maxPrefillTokens < 1}
   * @throws RuntimeException when the model fails (the worker fails every request of the batch)
   */
  int[] forward(List<Sequence> batch, int maxPrefillTokens);

  /**
   * Whether {@link #forward} over {@code batch} would first have to grow the storage its caches
   * share (a pool that grows by copying all it holds: on the demo's large model, a second or more
   * with many sessions), so that a worker runs that pass off the thread that answers its messages.
   * Default: false (a cache per sequence grows alone).
   *
   * @param batch as {@link #forward} would get it
   * @param maxPrefillTokens as {@link #forward} would get it
   */
  default boolean passGrowsCache(List<Sequence> batch, int maxPrefillTokens) {
    return false;
  }

  /**
   * Whether a new sequence ({@link #newSequence}) would make the storage its caches share grow by a
   * copy of all of it that costs much (a pool whose every row is taken, and large: on the demo's
   * large model, a second or two); a worker frees caches it keeps only as prefixes first. Default:
   * false (a cache per sequence grows alone).
   */
  default boolean newSequenceCopiesCaches() {
    return false;
  }

  /** A token that {@link #forward} did not sample because the sequence is still prefilling. */
  int NOT_YET = -1;

  /** Bytes of cache one token occupies in a sequence of this model (0 for models without a cache). */
  long cacheBytesPerToken();

  /**
   * Bytes of cache this model would hold for sequences whose caches hold {@code cachedTokens}
   * tokens each, were they its only ones: what a worker compares with its {@code kv-cache-bytes}
   * before a forward pass (as vLLM's scheduler asks its block manager whether the running
   * sequences can grow). Default: the tokens times {@link #cacheBytesPerToken()}; a model whose
   * caches share a pool counts the pool's layout.
   */
  default long cacheBytesFor(int[] cachedTokens) {
    long tokens = 0;
    for (int n : cachedTokens) tokens += n;
    return tokens * cacheBytesPerToken();
  }

  /**
   * Gives back the cache memory held beyond {@link #cacheBytesFor} of the live sequences (a pool
   * that grows in steps keeps its room until it is mostly unused); a worker over its {@code
   * kv-cache-bytes} calls it. May copy the caches. Default: nothing to give back.
   */
  default void trimCache() {}

  /**
   * Runs {@code frees}, which closes sequences (a worker's evictions), letting the model give their
   * memory back once at its end rather than after each (a pool that shrinks copies what it holds).
   * Default: runs it.
   */
  default void releasingCaches(Runnable frees) {
    frees.run();
  }

  @Override
  default void close() {}
}
