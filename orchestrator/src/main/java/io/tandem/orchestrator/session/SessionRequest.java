package io.tandem.orchestrator.session;

import io.tandem.protocol.CborSerializable;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.config.SpeculativeConfig;

/** Everything a session needs to run one generation. {@code maxTokens} counts generated tokens. */
public record SessionRequest(
    String sessionId,
    String tenant,
    Prompt prompt,
    SamplingParams sampling,
    int maxTokens,
    SpeculativeConfig config,
    Mode mode,
    boolean stream)
    implements CborSerializable {
  public SessionRequest {
    if (maxTokens < 1) throw new IllegalArgumentException("max_tokens must be >= 1, got " + maxTokens);
    if (prompt == null) throw new IllegalArgumentException("no prompt");
    if (mode == null) mode = Mode.speculative;
    if (tenant == null) tenant = "";
  }
}
