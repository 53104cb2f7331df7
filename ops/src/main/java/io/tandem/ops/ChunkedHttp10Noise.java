package io.tandem.ops;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import org.slf4j.LoggerFactory;
import org.slf4j.Marker;

/**
 * Replaces akka-http's two ERRORs for an HTTP/1.0 request sent with {@code Transfer-Encoding:
 * chunked} (each with a stack trace of some 25 lines: "Error in stage [...PrepareRequests...]" and
 * "Internal server error, sending 500 response", both caused by {@code HttpRequest}'s
 * "requirement failed: HTTP/1.0 requests must not have a chunked entity") by one WARN line saying
 * what happened: HTTP/1.0 has no chunks (RFC 9112, section 6.1), so it is the client's mistake, and
 * any client could otherwise fill the log with stack traces. akka-http refuses such a request inside
 * its server, before any route sees it, so the answer stays its 500 with an empty body (the
 * README's one answer that is not an OpenAI error object). Installed from {@code logback.xml}.
 */
public final class ChunkedHttp10Noise extends TurboFilter {
  /** The message of the exception akka-http's {@code HttpRequest} throws for such a request. */
  static final String REFUSAL = "requirement failed: HTTP/1.0 requests must not have a chunked entity";
  /** The second of akka-http's two lines, after which the 500 goes out. */
  static final String ANSWERED = "Internal server error, sending 500 response";

  private static final org.slf4j.Logger LOG = LoggerFactory.getLogger("io.tandem.orchestrator.http.TandemHttpServer");

  @Override
  public FilterReply decide(Marker marker, Logger logger, Level level, String format, Object[] params, Throwable t) {
    if (level != Level.ERROR || t == null || !logger.getName().startsWith("akka")) return FilterReply.NEUTRAL;
    if (!(t instanceof IllegalArgumentException) || !REFUSAL.equals(t.getMessage())) return FilterReply.NEUTRAL;
    if (format != null && format.startsWith(ANSWERED))
      LOG.warn("an HTTP/1.0 request came with Transfer-Encoding: chunked, which HTTP/1.0 does not have (RFC 9112,"
          + " section 6.1); akka-http answered it 500 with an empty body and closed the connection: the client should"
          + " send HTTP/1.1, or a Content-Length");
    return FilterReply.DENY;
  }
}
