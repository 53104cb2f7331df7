package io.tandem.orchestrator.session;

import io.tandem.protocol.CborSerializable;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.config.SpeculativeConfig;
import java.util.List;

/**
 * Everything a session needs to run one generation. {@code maxTokens} counts generated tokens.
 * {@code stop}: the request's stop strings; a session of one model (mode {@code small} or {@code
 * large}) ends after the token that completes the first of them, as vLLM's engine does, so that a
 * node serving as another's engine writes nothing past it; a speculative session leaves them to
 * its client (the HTTP layer cuts the output there and cancels it).
 */
public record SessionRequest(
    String sessionId,
    String tenant,
    Prompt prompt,
    SamplingParams sampling,
    int maxTokens,
    SpeculativeConfig config,
    Mode mode,
    boolean stream,
    List<String> stop)
    implements CborSerializable {
  public SessionRequest {
    if (maxTokens < 1) throw new IllegalArgumentException("max_tokens must be >= 1, got " + maxTokens);
    if (prompt == null) throw new IllegalArgumentException("no prompt");
    if (mode == null) mode = Mode.speculative;
    if (tenant == null) tenant = "";
    stop = stop == null ? List.of() : List.copyOf(stop);
  }

  /** A request without stop strings. */
  public SessionRequest(String sessionId, String tenant, Prompt prompt, SamplingParams sampling, int maxTokens,
      SpeculativeConfig config, Mode mode, boolean stream) {
    this(sessionId, tenant, prompt, sampling, maxTokens, config, mode, stream, List.of());
  }
}
