package io.tandem.orchestrator.http;

import akka.event.LoggingAdapter;
import akka.http.javadsl.model.HttpMethods;
import akka.http.javadsl.model.HttpResponse;
import akka.http.scaladsl.model.ErrorInfo;
import akka.http.scaladsl.model.StatusCode;
import akka.http.scaladsl.settings.ServerSettings;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * akka-http's answer to a request it cannot even parse (a malformed request line, headers too
 * large, a body over the parser's limit), as an OpenAI error object instead of akka-http's plain
 * text. Named in {@code akka.http.server.parsing.error-handler} by the server's settings. Every such
 * request is the client's mistake: type {@code invalid_request_error}, whatever akka-http's status.
 */
public final class ParsingErrors extends akka.http.ParsingErrorHandler {

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

  @Override
  public HttpResponse handle(StatusCode status, ErrorInfo info, LoggingAdapter log, ServerSettings settings) {
    int code = notAMethod(info) ? 400 : status.intValue();
    return new ApiError(code, "invalid_request_error", null, code == 413 ? "request_too_large" : "malformed_request",
        "the request could not be read: " + describe(info), 0).toResponse();
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
   * What was wrong, for the client. akka-http calls a request line that leaves its methods a method
   * "too long", quotes its first byte and advises raising its setting: advice for the server's
   * operator about what is the client's malformed request line.
   */
  private static String describe(ErrorInfo info) {
    if (notAMethod(info))
      return "the request line is not METHOD TARGET HTTP/1.1 with METHOD one of " + METHODS
          + "; send e.g. POST /v1/chat/completions HTTP/1.1";
    return info.formatPretty();
  }
}
