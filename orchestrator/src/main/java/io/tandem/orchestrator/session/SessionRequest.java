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
 * its client (the HTTP layer cuts the output there and cancels it). {@code largeAbsent}: no large
 * worker was offered to sessions when the request was admitted, and no large node was on its way
 * (a cluster member joining or up, reachable or not, whose workers are not offered now: {@link
 * RoleSupply#memberComing}); a speculative session then
 * applies {@code tandem.session.on-large-loss} at once (fails, or goes on with the small model
 * alone, degraded) instead of waiting {@code worker-wait} for one. {@code cacheSalt}: the request's
 * {@code cache_salt} (vLLM's), which keeps its cache apart from its tenant's other requests; null
 * for none.
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
    List<String> stop,
    boolean largeAbsent,
    String cacheSalt)
    implements CborSerializable {
  public SessionRequest {
    if (maxTokens < 1) throw new IllegalArgumentException("max_tokens must be >= 1, got " + maxTokens);
    if (prompt == null) throw new IllegalArgumentException("no prompt");
    if (mode == null) mode = Mode.speculative;
    if (tenant == null) tenant = "";
    stop = stop == null ? List.of() : List.copyOf(stop);
  }

  /** A request without a {@code cache_salt}. */
  public SessionRequest(String sessionId, String tenant, Prompt prompt, SamplingParams sampling, int maxTokens,
      SpeculativeConfig config, Mode mode, boolean stream, List<String> stop, boolean largeAbsent) {
    this(sessionId, tenant, prompt, sampling, maxTokens, config, mode, stream, stop, largeAbsent, null);
  }

  /** A request whose session waits up to {@code worker-wait} for a worker of each role it needs. */
  public SessionRequest(String sessionId, String tenant, Prompt prompt, SamplingParams sampling, int maxTokens,
      SpeculativeConfig config, Mode mode, boolean stream, List<String> stop) {
    this(sessionId, tenant, prompt, sampling, maxTokens, config, mode, stream, stop, false);
  }

  /** A request without stop strings. */
  public SessionRequest(String sessionId, String tenant, Prompt prompt, SamplingParams sampling, int maxTokens,
      SpeculativeConfig config, Mode mode, boolean stream) {
    this(sessionId, tenant, prompt, sampling, maxTokens, config, mode, stream, List.of());
  }
}
