package io.tandem.orchestrator.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Structured request logs: one JSON line per request on the logger {@code tandem.http.requests},
 * written when the request ends (for a stream, when the stream ends). Never the prompt or the output.
 */
final class RequestLog {
  private static final Logger LOG = LoggerFactory.getLogger("tandem.http.requests");

  /** What is known of one request so far. */
  static final class Entry {
    final long startMillis = System.currentTimeMillis();
    final long startNanos = System.nanoTime();
    final String method;
    final String path;
    String id;
    String tenant;
    String user;
    int status;
    String error;
    boolean stream;
    String mode;
    private boolean written;

    Entry(String method, String path) {
      this.method = method;
      this.path = path;
    }

    /** Ends a request that ran a generation. */
    synchronized void finish(Generation gen, double ttftMs, double latencyMs) {
      ObjectNode o = base(latencyMs);
      o.put("prompt_tokens", gen.promptTokens);
      o.put("completion_tokens", gen.tokens());
      o.put("tokens_small", gen.tokensBy(io.tandem.protocol.Author.small));
      o.put("tokens_large", gen.tokensBy(io.tandem.protocol.Author.large));
      if (gen.counters() != null) o.put("takeovers", gen.counters().takeovers());
      o.put("finish_reason", gen.tandemFinishReason == null ? (gen.failed != null ? "error" : "cancelled") : gen.tandemFinishReason);
      o.put("degraded", gen.degraded);
      if (ttftMs >= 0) o.put("ttft_ms", Math.round(ttftMs * 10) / 10.0);
      if (gen.failed != null) o.put("error", gen.failed.message());
      write(o);
    }

    /** Ends a request that did not (an error before the session, a health check, ...). */
    synchronized void finish() {
      write(base((System.nanoTime() - startNanos) / 1e6));
    }

    private ObjectNode base(double latencyMs) {
      ObjectNode o = Json.object();
      o.put("ts", java.time.Instant.ofEpochMilli(startMillis).toString());
      o.put("method", method);
      o.put("path", path);
      o.put("status", status);
      if (id != null) o.put("id", id);
      if (tenant != null) o.put("tenant", tenant);
      if (user != null) o.put("user", user.length() > 64 ? user.substring(0, 64) : user);
      if (mode != null) o.put("mode", mode);
      if (stream) o.put("stream", true);
      o.put("latency_ms", Math.round(latencyMs * 10) / 10.0);
      if (error != null) o.put("error", error.length() > 300 ? error.substring(0, 300) : error);
      return o;
    }

    private void write(ObjectNode o) {
      if (written) return;
      written = true;
      LOG.info(Json.write(o));
    }
  }

  private RequestLog() {}
}
