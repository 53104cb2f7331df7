package io.tandem.orchestrator.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Structured request logs: one JSON line per request on the logger {@code tandem.http.requests}
 * ({@link ApiRoutes} says which), written when the request ends (for a stream, when the stream
 * ends). Never the prompt or the output.
 */
final class RequestLog {
  private static final Logger LOG = LoggerFactory.getLogger("tandem.http.requests");

  /** A new request's id: 32 hex digits of a random UUID. */
  static String freshId() {
    return UUID.randomUUID().toString().replace("-", "");
  }

  /** What is known of one request so far. */
  static final class Entry {
    final long startMillis = System.currentTimeMillis();
    final long startNanos = System.nanoTime();
    /** Null for a request akka-http could not parse. */
    final String method;
    /** Null for a request akka-http could not parse. */
    final String path;
    /** The client's {@code X-Request-Id} header as it came, or null. */
    final String requestId;
    /** The request's id: a fresh one, which a completion replaces with its own. */
    String id = freshId();
    /**
     * The id its session (and the worker and session logs) go by, once it has one: a completion's
     * {@link #id} unless the client named the completion, which two requests may do alike.
     */
    String sessionId;
    String tenant;
    String user;
    int status;
    String error;
    boolean stream;
    String mode;
    /** The {@code finish_reason} of a completion that ended before its session started: {@code cancelled} for a client gone. */
    String finishReason;
    /** Whether the request was admitted (past max-in-flight and its tenant's limits) and began to run; not logged. */
    volatile boolean admitted;
    private boolean written;

    Entry(String method, String path, String requestId) {
      this.method = method;
      this.path = path;
      this.requestId = requestId;
    }

    /**
     * Ends a request that ran a generation; {@code ended} is its {@code finish_reason} when the
     * generation gave none: {@code error}, {@code cancelled} (the client went away) or {@code abort}
     * (the server gave up on it at its shutdown deadline, as {@code /metrics} counts it).
     */
    synchronized void finish(Generation gen, String ended, double ttftMs, double latencyMs) {
      ObjectNode o = base(latencyMs);
      o.put("prompt_tokens", gen.promptTokens);
      if (gen.cachedTokens() >= 0) o.put("cached_tokens", gen.cachedTokens()); // as usage.prompt_tokens_details has it
      o.put("completion_tokens", gen.tokens());
      o.put("tokens_small", gen.tokensBy(io.tandem.protocol.Author.small));
      o.put("tokens_large", gen.tokensBy(io.tandem.protocol.Author.large));
      if (gen.counters() != null) o.put("takeovers", gen.counters().takeovers());
      o.put("finish_reason", gen.tandemFinishReason == null ? ended : gen.tandemFinishReason);
      o.put("degraded", gen.degraded);
      if (ttftMs >= 0) o.put("ttft_ms", Math.round(ttftMs * 10) / 10.0);
      if (gen.failed != null) o.put("error", loggedError(gen.error().getMessage()));
      write(o);
    }

    /** Ends a request that did not (an error before the session, a health check, ...). */
    synchronized void finish() {
      ObjectNode o = base((System.nanoTime() - startNanos) / 1e6);
      if (finishReason != null) o.put("finish_reason", finishReason);
      write(o);
    }

    private ObjectNode base(double latencyMs) {
      ObjectNode o = Json.object();
      o.put("ts", java.time.Instant.ofEpochMilli(startMillis).toString());
      if (method != null) o.put("method", method);
      if (path != null) o.put("path", logged(path));
      o.put("status", status);
      o.put("id", id);
      if (sessionId != null && !sessionId.equals(id)) o.put("session_id", sessionId);
      if (requestId != null && !requestId.isEmpty()) o.put("request_id", printable(requestId));
      if (tenant != null) o.put("tenant", tenant);
      if (user != null) o.put("user", user.length() > 64 ? user.substring(0, 64) : user);
      if (mode != null) o.put("mode", mode);
      if (stream) o.put("stream", true);
      o.put("latency_ms", Math.round(latencyMs * 10) / 10.0);
      if (error != null) o.put("error", loggedError(error.length() > 300 ? error.substring(0, 300) : error));
      return o;
    }

    /**
     * A request's path (or target) as the log keeps it: each part between slashes that looks like a
     * key hidden, as in an error the log keeps (tester52b: a key a client put in a path, a query or a
     * field, refused, was repeated in the log, which whoever reads the server's output reads).
     */
    /**
     * An error as the log keeps it: what looks like a key hidden, each word as a path is ({@link
     * #logged}), as an error may quote the request's path or target, clipped or whole (tester52f).
     */
    private static String loggedError(String error) {
      java.util.regex.Matcher words = java.util.regex.Pattern.compile("\\S+").matcher(error);
      StringBuilder out = new StringBuilder();
      while (words.find()) words.appendReplacement(out, java.util.regex.Matcher.quoteReplacement(logged(words.group())));
      words.appendTail(out);
      return out.toString();
    }

    static String logged(String path) {
      java.util.StringJoiner b = new java.util.StringJoiner("/");
      for (String part : path.split("/", -1)) b.add(io.tandem.protocol.text.Secrets.redact(part));
      return b.toString();
    }

    /**
     * A client's {@code X-Request-Id} as the log keeps it: each char outside printable ASCII written
     * as a backslash, {@code u} and its four hex digits, as Java writes it (a CR as {@code u000d}
     * after the backslash), so that the line shows in ASCII what came, control chars included;
     * clipped to {@link CompletionRequest#MAX_REQUEST_ID} chars, then {@code ...}.
     */
    static String printable(String value) {
      StringBuilder b = new StringBuilder();
      value.chars().forEach(c -> b.append(CompletionRequest.printableAscii(c) ? String.valueOf((char) c) : String.format("\\u%04x", c)));
      return b.length() > CompletionRequest.MAX_REQUEST_ID ? b.substring(0, CompletionRequest.MAX_REQUEST_ID) + "..." : b.toString();
    }

    private void write(ObjectNode o) {
      if (written) return;
      written = true;
      LOG.info(Json.write(o));
    }
  }

  private RequestLog() {}
}
