package io.tandem.inference;

import io.tandem.protocol.ChatMessage;
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

  /** Renders chat messages with the model's own chat template and a generation prompt, as ids. */
  int[] renderChat(List<ChatMessage> messages);

  /** Opens a new sequence (empty, no cache) that samples with the given parameters. */
  Sequence newSequence(SamplingParams sampling);

  /** A token that {@link #forward} did not sample because the sequence is still prefilling. */
  int NOT_YET = -1;

  /**
   * One forward pass over a batch: for each sequence, feeds the tokens it holds that the model has
   * not processed yet (a prefill of many tokens, or a single decode token), at most
   * {@code maxPrefillTokens} of them so that a long prompt is prefilled over several passes instead
   * of stalling the decodes batched with it; then, for each sequence with nothing left over, samples
   * the next token, appends it to the sequence (unprocessed) and returns it. A sequence with tokens
   * left over gets {@link #NOT_YET} and nothing appended. Models without a real prefill (scripted
   * ones) may ignore the limit.
   *
   * @param maxPrefillTokens at least 1; {@link Integer#MAX_VALUE} for no limit
   * @return the sampled token id (or {@link #NOT_YET}) per sequence, in batch order
   */
  int[] forward(List<Sequence> batch, int maxPrefillTokens);

  /** Bytes of cache one token occupies in a sequence of this model (0 for models without a cache). */
  long cacheBytesPerToken();

  @Override
  default void close() {}
}
