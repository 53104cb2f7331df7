package io.tandem.orchestrator.http;

import akka.event.LoggingAdapter;
import akka.http.javadsl.model.HttpMethods;
import akka.http.javadsl.model.HttpResponse;
import akka.http.scaladsl.model.ErrorInfo;
import akka.http.scaladsl.model.StatusCode;
import akka.http.scaladsl.settings.ServerSettings;
import java.util.stream.Stream;

/**
 * akka-http's answer to a request it cannot even parse (a malformed request line, headers too
 * large, a body over the parser's limit), as an OpenAI error object instead of akka-http's plain
 * text. Named in {@code akka.http.server.parsing.error-handler} by the server's settings.
 */
public final class ParsingErrors extends akka.http.ParsingErrorHandler {

  /**
   * Tandem's {@code akka.http.server.parsing.max-method-length}: the longest method of HTTP (OPTIONS,
   * CONNECT) and the space after it. akka-http's parser reads a request line's method up to its first
   * space, waiting for more bytes until it has one or has read this many; so a line without a space
   * ({@code GARBAGE\r\n\r\n}) is refused with a 400 as soon as this many bytes have come, where
   * akka-http's default of 16 would leave a shorter one waiting until the idle timeout. A method of
   * at most 7 letters that akka-http does not know still reaches its space and gets a 501.
   */
  static final int METHOD_LENGTH_LIMIT = Stream.of(HttpMethods.CONNECT, HttpMethods.DELETE, HttpMethods.GET,
      HttpMethods.HEAD, HttpMethods.OPTIONS, HttpMethods.PATCH, HttpMethods.POST, HttpMethods.PUT, HttpMethods.TRACE)
      .mapToInt(m -> m.value().length()).max().orElseThrow() + 1;

  @Override
  public HttpResponse handle(StatusCode status, ErrorInfo info, LoggingAdapter log, ServerSettings settings) {
    int code = status.intValue();
    String type = code >= 500 ? "server_error" : "invalid_request_error";
    return new ApiError(code, type, null, code == 413 ? "request_too_large" : "malformed_request",
        "the request could not be read: " + describe(code, info), 0).toResponse();
  }

  /**
   * What was wrong, for the client. akka-http calls a request line with no space in its first
   * {@link #METHOD_LENGTH_LIMIT} bytes a method "too long", quotes its bytes and advises raising its
   * setting: advice for the server's operator about what is the client's malformed request line.
   */
  private static String describe(int code, ErrorInfo info) {
    if (code == 400 && info.summary().equals("Unsupported HTTP method") && info.detail().startsWith("HTTP method too long"))
      return "the request line is not METHOD TARGET HTTP/1.1 (no space after a method of at most "
          + (METHOD_LENGTH_LIMIT - 1) + " letters); send e.g. POST /v1/chat/completions HTTP/1.1";
    return info.formatPretty();
  }
}
