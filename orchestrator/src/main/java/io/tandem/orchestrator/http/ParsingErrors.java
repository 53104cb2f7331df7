package io.tandem.orchestrator.http;

import akka.event.LoggingAdapter;
import akka.http.javadsl.model.HttpHeader;
import akka.http.javadsl.model.HttpMethod;
import akka.http.javadsl.model.HttpMethods;
import akka.http.javadsl.model.HttpRequest;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.headers.Allow;
import akka.http.javadsl.model.headers.RawHeader;
import akka.http.scaladsl.model.ErrorInfo;
import akka.http.scaladsl.model.StatusCode;
import akka.http.scaladsl.model.StatusCodes;
import akka.http.scaladsl.settings.ServerSettings;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * akka-http's answer to a request it cannot even parse (a malformed request line, headers too
 * large, a body over the parser's limit), as an OpenAI error object instead of akka-http's plain
 * text. Named in {@code akka.http.server.parsing.error-handler} by the server's settings. Every such
 * request is the client's mistake: type {@code invalid_request_error}, whatever akka-http's status.
 * The message says what was wrong in the client's terms; where akka-http's own words speak of its
 * settings or its parser's rules ({@code pchar}, {@code Some(Host)}), they are replaced. A {@code
 * CONNECT}, which akka-http refuses before any route, is a 405 as the routes' wrong methods are.
 *
 * <p>akka-http hands this handler the error alone, not the request (whose headers it may not even
 * have read), and makes it by its class name with no arguments: so each set of CORS headers an
 * answer can carry without its request is a class of its own, and {@link Cors#parsingErrors} names
 * the one of the server's settings. This class carries none. Every answer has an {@code
 * X-Request-Id} of its own, which the request log's line for it (without method and path) names.
 */
public class ParsingErrors extends akka.http.ParsingErrorHandler {

  /**
   * What to send instead of a header value that is not ASCII: Python's {@code http.client} and
   * Node's {@code fetch} both send a string's accented letters as Latin-1 bytes ({@code é} as the
   * one byte 0xE9), which are not UTF-8 (tester58a met it from Node).
   */
  private static final String SEND_UTF8 = "send header values in ASCII, or encoded as UTF-8 (Python's http.client and"
      + " Node's fetch send a string's accented letters as Latin-1 bytes: percent-encode such a value, or send its UTF-8 bytes)";

  /**
   * Tandem's {@code akka.http.server.parsing.max-method-length}: the fewest bytes akka-http may read
   * of a method it does not know. akka-http's parser (10.5.3, {@code HttpRequestParser.parseMethod})
   * matches a request line's first bytes against the methods it knows, unbounded by this setting;
   * from the first byte that leaves them (or a known method not followed by a space) it reads a
   * method of its own up to a space, taking any byte, CR and LF included, and waits for more bytes
   * until it has that space or this many. With a limit above 1, a request line shorter than the
   * limit and without a space ({@code GET\r\n\r\n}) would stay unanswered until the idle timeout;
   * with 1 it is refused as soon as its first byte that no method continues has come. The price: an
   * unknown method ({@code FOO / HTTP/1.1}) is refused the same way, without its name, where a
   * higher limit would reach its space and get a 501 naming it.
   */
  static final int METHOD_LENGTH_LIMIT = 1;

  /** The methods akka-http parses, for the client who sent something else. */
  private static final String METHODS = Stream.of(HttpMethods.CONNECT, HttpMethods.DELETE, HttpMethods.GET,
      HttpMethods.HEAD, HttpMethods.OPTIONS, HttpMethods.PATCH, HttpMethods.POST, HttpMethods.PUT, HttpMethods.TRACE)
      .map(m -> m.value()).sorted().collect(Collectors.joining(", "));

  /** The versions akka-http speaks here (its HTTP/2 is off), for a client who sent another. */
  private static final String VERSIONS = "this server speaks HTTP/1.1 and HTTP/1.0";

  /** How the message of each answer here begins. */
  private static final String UNREADABLE = "the request could not be read: ";

  /** akka-http's summary for a CONNECT request, which it refuses before any route. */
  private static final String CONNECT = "CONNECT requests are not supported";

  /**
   * akka-http's words (10.5.3, {@code HttpMessageParser}) when the connection ends, closed or
   * half-closed by the client or closed at the idle timeout, before a request's head is complete.
   */
  private static final String CUT_SHORT = "Illegal HTTP message start";

  /** akka-http's summary for an HTTP/1.1 request without a Host header, or with one it cannot parse. */
  private static final String NO_HOST = "Request is missing required `Host` header";

  /** akka-http's summary for an absolute-form target whose authority is not its Host header's. */
  private static final Pattern HOST_MISMATCH =
      Pattern.compile("'Host' header value of request to `(.*)` doesn't match request target authority");

  /**
   * akka-http's summary for a request target that is not a URI: its parser's error, with the
   * grammar rules it expected ({@code pchar}, {@code HEXDIG}, {@code EOI}), then the column.
   */
  private static final Pattern BAD_TARGET = Pattern.compile(
      "Illegal request-target: (?:Invalid input '(.+?)'[, ]|Unexpected end of input).* \\(line \\d+, column (\\d+)\\)");

  /**
   * Each server's metrics, by the settings it was bound with: akka-http hands the handler that
   * instance, so that its answers count in {@code tandem:http_responses_total} of the server that
   * sent them, as every other answer does (each request counts there once, by its log line's status).
   */
  private static final Map<ServerSettings, Metrics> COUNTED_IN = Collections.synchronizedMap(new IdentityHashMap<>());

  /** The CORS headers of every answer. */
  private final List<HttpHeader> cors;

  /** Answers without CORS headers (origins listed in {@code tandem.http.allowed-origins}). */
  public ParsingErrors() {
    this(List.of());
  }

  private ParsingErrors(List<HttpHeader> cors) {
    this.cors = cors;
  }

  /** Answers that every origin's page may read ({@code tandem.http.allowed-origins} has {@code *}). */
  public static final class AnyOrigin extends ParsingErrors {
    public AnyOrigin() {
      super(Cors.anyOrigin());
    }
  }

  /** Counts the answers of the server bound with {@code settings} in {@code metrics}, until {@link #forget}. */
  static void countIn(akka.http.javadsl.settings.ServerSettings settings, Metrics metrics) {
    COUNTED_IN.put((ServerSettings) settings, metrics);
  }

  /** The server bound with {@code settings} is gone. */
  static void forget(akka.http.javadsl.settings.ServerSettings settings) {
    COUNTED_IN.remove((ServerSettings) settings);
  }

  @Override
  public final HttpResponse handle(StatusCode status, ErrorInfo info, LoggingAdapter log, ServerSettings settings) {
    boolean connect = info.summary().equals(CONNECT);
    // Too many header fields is 431 (RFC 6585, section 5), as akka-http answers a header too long (tester49a: a 400).
    int code = connect ? 405 : notAMethod(info) || notAVersion(info) ? 400 : tooManyHeaders(info) ? 431 : status.intValue();
    ApiError error = connect ? new ApiError(code, "invalid_request_error", null, "method_not_allowed", "CONNECT is not"
            + " allowed: this server is no proxy and opens no tunnels; send " + ApiRoutes.SERVED_METHODS.stream()
            .map(HttpMethod::name).collect(Collectors.joining(", ")) + " to its endpoints", 0)
        : code == 413 ? new ApiError(code, "invalid_request_error", null, "request_too_large", UNREADABLE
            + describe(info, settings), 0)
        : malformed(code, describe(info, settings));
    // Its method, target and headers may be unread: the log line and the answer name it by a fresh id.
    RequestLog.Entry line = new RequestLog.Entry(null, null, null);
    line.status = code;
    line.error = error.getMessage();
    // A connection that ended mid-head sent no request: no line, no count, as uvicorn logs none. Counted, a thousand
    // slow clients cut off at the idle timeout were a thousand 400s on the dashboards (tester47b); the answer is written
    // all the same, for a client that only half-closed and reads on.
    if (!info.summary().equals(CUT_SHORT)) {
      line.finish();
      Metrics metrics = COUNTED_IN.get(settings);
      if (metrics != null) metrics.response(Metrics.NO_TENANT, code);
    }
    HttpResponse answer = error.toResponse().addHeaders(cors).addHeader(RawHeader.create(ApiRoutes.REQUEST_ID, line.id));
    return connect ? answer.addHeader(Allow.create(ApiRoutes.SERVED_METHODS.toArray(HttpMethod[]::new))) : answer;
  }

  /** Whether akka-http refused a request for its number of headers ({@code akka.http.server.parsing.max-header-count}). */
  private static boolean tooManyHeaders(ErrorInfo info) {
    return info.summary().startsWith("HTTP message contains more than the configured limit of");
  }

  /**
   * Why {@code request}'s headers cannot be trusted, if they cannot: a header whose value holds a
   * line's end (CR or LF) or another control character, which no header a client sends does (RFC 9110,
   * section 5.5) but akka-http 10.5.3's parser makes of a byte from 0xC0 to 0xF7 that is not UTF-8
   * (Latin-1's à to ÷, as Python's http.client and Node's http send a str): it reads it as the first
   * byte of a UTF-8 sequence and takes the next one to three bytes with it, the line's CR LF
   * included, so the next header line (a Content-Length) became part of this value, and a body was
   * read as a request of its own (tester49a). Refused, with the connection closed.
   */
  static Optional<String> brokenHeader(HttpRequest request) {
    for (HttpHeader h : request.getHeaders()) {
      String v = h.value();
      // akka-http takes a framing header it can read into the request's entity, and leaves one it cannot among the
      // headers, reading the request as one without a body: what was its body then ran as a request of its own
      // (tester49e: "Transfer-Encoding: chunked;q=1" smuggled a GET /version).
      if (h.is("transfer-encoding") || h.is("content-length"))
        return Optional.of("its " + h.name() + " header, '" + CompletionRequest.clip(v) + "', is not one this server can"
            + " read, so where its body ends cannot be told (RFC 9112, section 6): send 'Transfer-Encoding: chunked' alone,"
            + " or a 'Content-Length' of digits alone");
      for (int i = 0; i < v.length(); i++) {
        char c = v.charAt(i);
        if ((c < ' ' && c != '\t') || c == 0x7F) {
          // The byte that began it: akka-http gives a byte it copied as a char, 0x80 to 0xFF or, sign-extended, 0xFF80 up.
          String before = "";
          for (int j = Math.max(0, i - 3); j < i; j++)
            if ((v.charAt(j) >= 0x80 && v.charAt(j) <= 0xFF) || v.charAt(j) >= 0xFF80)
              before = String.format(" the byte 0x%02X, which is not UTF-8, and", v.charAt(j) & 0xFF);
          if (before.isEmpty())
            return Optional.of(String.format("the header %s holds the control character 0x%02X, which no header's value"
                + " may (RFC 9110, section 5.5: a tab is the only one allowed); send the header without it",
                CompletionRequest.clip(h.name()), (int) c));
          return Optional.of("the header " + CompletionRequest.clip(h.name()) + " holds" + before + " a line's end after it:"
              + " the server's HTTP parser read the byte as the start of a UTF-8 sequence that took the line's end with it,"
              + " so the headers that follow cannot be told apart; " + SEND_UTF8);
        }
      }
      // A lead byte last: what it took with it was the line's own end, trimmed off the value, and the next line (the
      // blank one that ended the head, or a header) ended this one; the head then ended further on, in the body, whose
      // lines were read as headers and the rest as a request (tester49g). akka-http gives a byte it copied sign-extended.
      char last = v.isEmpty() ? 0 : v.charAt(v.length() - 1);
      if (last >= 0xFFC0 && last <= 0xFFF7)
        return Optional.of(String.format("the header %s ends in the byte 0x%02X, which is not UTF-8: the server's HTTP"
            + " parser read it as the start of a UTF-8 sequence that took the line's end with it, so where the request's"
            + " head ends cannot be told; " + SEND_UTF8, CompletionRequest.clip(h.name()), last & 0xFF));
    }
    return Optional.empty();
  }

  private static final Pattern ILLEGAL_VALUE_CHARACTER =
      Pattern.compile("Illegal character '(.|\\\\u[0-9a-fA-F]{4}|\\\\[rnbft0])' in header value");

  /**
   * The control character akka-http's "Illegal character ... in header value" names (as itself or
   * escaped as a backslash, u and four hex digits), or -1 for none: such a byte is ASCII, and the
   * advice about Latin-1 and UTF-8 given for other bytes misled (tester58d: a User-Agent with 0x01).
   */
  static int controlCharacter(String summary) {
    Matcher m = ILLEGAL_VALUE_CHARACTER.matcher(summary);
    if (!m.matches()) return -1;
    String c = m.group(1);
    // akka-http writes a CR as \r, the two characters (tester58g), as Scala escapes a few.
    int code = c.length() == 1 ? c.charAt(0) : c.length() == 2 ? "\r\n\b\f\t\0".charAt("rnbft0".indexOf(c.charAt(1)))
        : Integer.parseInt(c.substring(2), 16);
    return (code < 0x20 && code != '\t') || code == 0x7F ? code : -1;
  }

  /** A request that could not be read, {@code what} saying why: status {@code status}, code {@code malformed_request}. */
  static ApiError malformed(int status, String what) {
    return new ApiError(status, "invalid_request_error", null, "malformed_request", UNREADABLE + what, 0);
  }

  /**
   * Why a request target that does not begin with {@code /} (nor is {@code *} or a URI with a
   * scheme) names no endpoint: a request names one by its path, from the leading {@code /}
   * (origin-form, RFC 9112, section 3.2.1). Such a target is a relative reference, which no
   * server resolves, or a host alone (authority-form), which is for {@code CONNECT} only.
   */
  static String notAPath(String target) {
    return "the request target " + CompletionRequest.clip(target) + " does not begin with /; send the endpoint's path"
        + " from its leading / (RFC 9112, section 3.2.1), e.g. GET /v1/models HTTP/1.1";
  }

  /**
   * Whether akka-http found no method it knows at the start of the request line: a method "too
   * long" for {@link #METHOD_LENGTH_LIMIT} (a 400), or an empty one (a line beginning with its
   * space, a 501). vLLM's server (uvicorn with httptools) answers an unknown method with a 400; so
   * does Tandem, which cannot tell the two apart at this limit. akka-http's other method error,
   * a TLS handshake sent to this plain-HTTP port, keeps its own words.
   */
  private static boolean notAMethod(ErrorInfo info) {
    return info.summary().equals("Unsupported HTTP method")
        && (info.detail().isEmpty() || info.detail().startsWith("HTTP method too long"));
  }

  /**
   * Whether akka-http found no {@code HTTP/1.1} or {@code HTTP/1.0} after the request target, which
   * it calls an unsupported version (505). It says nothing of what it found there, and the target
   * ends at its first space: so a target with a raw space in it ({@code GET /v1/mo dels HTTP/1.1})
   * comes here as well as a version it does not speak ({@code HTTP/2.0}). Both are a request line
   * that is not {@code METHOD TARGET HTTP/1.1}: a 400, as RFC 9112 (section 3) asks for an invalid
   * request line and as vLLM's server (uvicorn) answers either.
   */
  private static boolean notAVersion(ErrorInfo info) {
    return info.summary().equals(StatusCodes.HTTPVersionNotSupported().defaultMessage());
  }

  /**
   * What was wrong, for the client. akka-http calls a request line that leaves its methods a method
   * "too long", quotes its first byte and advises raising its setting: advice for the server's
   * operator about what is the client's malformed request line. Its words for a missing Host
   * header, a Host header that is not the target's authority and a target that is not a URI name
   * its own parser's workings; its other words (a header too large, a Content-Length that is not a
   * number, a TLS handshake on this plain-HTTP port) are plain, and kept.
   */
  private static String describe(ErrorInfo info, ServerSettings settings) {
    String summary = info.summary();
    if (notAMethod(info))
      return "the request line is not METHOD TARGET HTTP/1.1 with METHOD one of " + METHODS
          + "; send e.g. POST /v1/chat/completions HTTP/1.1 (" + VERSIONS + ", not HTTP/2)";
    if (notAVersion(info))
      return "the request line is not METHOD TARGET HTTP/1.1: the target ends at its first space, and what follows it"
          + " is not HTTP/1.1 or HTTP/1.0 (the versions this server speaks); percent-encode a space within the target as"
          + " %20 (RFC 3986)";
    if (summary.equals(CUT_SHORT))
      return "the connection ended before the request's head was complete (its request line and headers, up to an empty"
          + " line); send the whole request before closing or half-closing the connection";
    if (summary.equals(NO_HOST))
      return "an HTTP/1.1 request must have a Host header naming the server as host or host:port (RFC 9112, section"
          + " 3.2), and this one has none or one that is not so (or a header line before it ended in a byte that is not"
          + " UTF-8, which took the Host line with it); send e.g. Host: " + settings.defaultHostHeader().value()
          + ", and header values in ASCII or encoded as UTF-8";
    Matcher host = HOST_MISMATCH.matcher(summary);
    if (host.matches())
      return "the request target " + CompletionRequest.clip(host.group(1)) + " does not name the host and port its"
          + " Host header names; send the same in both, or the target as a path alone (e.g. /v1/models)";
    // akka-http's words for a header (a key typed with a non-ASCII letter, a cookie grown too large)
    // say what it met, not what a header may hold (tester45a).
    int control = controlCharacter(summary);
    if (control >= 0)
      return String.format("a header's value holds the control character 0x%02X, which no header's value may (RFC 9110,"
          + " section 5.5: a tab is the only one allowed); send the header without it", control);
    if (summary.startsWith("Illegal character") && summary.endsWith("in header value"))
      return summary + ": this server reads a header's value as ASCII or UTF-8 only (RFC 9110, section 5.5, leaves other"
          + " bytes to the server); " + SEND_UTF8 + ", and check the API key sent in Authorization";
    // A body read as a header line: the header before it ended in a byte that took its line's end (see brokenHeader).
    // A space: one before a colon, or a line folded onto the one before (obs-fold), neither of which HTTP/1.1 takes.
    if (summary.equals("Illegal character ' ' in header name") || summary.equals("Illegal character '\t' in header name"))
      return summary + ": a header's name is a token (RFC 9110, section 5.1), with no space before its colon, and a line"
          + " that begins with a space continues none before it (RFC 9112, section 5.2); send each header as Name: value"
          + " on a line of its own (where the line is the request's body, or a request behind it, the header before it"
          + " ended in a byte that is not UTF-8, Latin-1's é as Python's http.client sends a str, which this server's HTTP"
          + " parser read with its line's end: send header values in ASCII, or encoded as UTF-8)";
    if (summary.startsWith("Illegal character") && summary.endsWith("in header name"))
      return summary + ": a header's name is a token (RFC 9110, section 5.1); where the line it is in is the request's body"
          + " or a header's value, the header before it ended in a byte that is not UTF-8 (Latin-1's é, as Python's"
          + " http.client sends a str), which this server's HTTP parser read with its line's end; send header values in"
          + " ASCII, or encoded as UTF-8";
    // akka-http's words for a Transfer-Encoding it does not take (tester49f: nothing said what to send).
    if (summary.equals("Multiple Transfer-Encoding entries not supported") || summary.startsWith("Unsupported Transfer-Encoding"))
      return summary + ": this server reads a body sent with 'Transfer-Encoding: chunked' alone (RFC 9112, section 6.1) or"
          + " with a 'Content-Length' of digits alone; send one of them";
    if (summary.startsWith("HTTP header value exceeds the configured limit"))
      return summary + "; send shorter headers (an API key, a cookie)";
    Matcher target = BAD_TARGET.matcher(summary);
    String written = info.detail().lines().findFirst().orElse("");
    // akka-http reads a target without a leading / as a host, and so finds the first / misplaced.
    if (target.matches() && !written.startsWith("/") && !written.contains("://")) return notAPath(written);
    if (target.matches()) {
      String where = target.group(1) == null ? "it ends where more was expected"
          : "'" + target.group(1) + "' at character " + target.group(2) + " is not allowed there";
      return "the request target " + CompletionRequest.clip(written)
          + " is not a URI (RFC 3986): " + where + "; percent-encode such characters (a space as %20, % itself as %25)";
    }
    return info.formatPretty();
  }
}
