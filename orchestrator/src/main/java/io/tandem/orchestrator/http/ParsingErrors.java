package io.tandem.orchestrator.http;

import akka.event.LoggingAdapter;
import akka.http.javadsl.model.HttpResponse;
import akka.http.scaladsl.model.ErrorInfo;
import akka.http.scaladsl.model.StatusCode;
import akka.http.scaladsl.settings.ServerSettings;

/**
 * akka-http's answer to a request it cannot even parse (a malformed request line, headers too
 * large, a body over the parser's limit), as an OpenAI error object instead of akka-http's plain
 * text. Named in {@code akka.http.server.parsing.error-handler} by the server's settings.
 */
public final class ParsingErrors extends akka.http.ParsingErrorHandler {
  @Override
  public HttpResponse handle(StatusCode status, ErrorInfo info, LoggingAdapter log, ServerSettings settings) {
    int code = status.intValue();
    String type = code >= 500 ? "server_error" : "invalid_request_error";
    return new ApiError(code, type, null, code == 413 ? "request_too_large" : "malformed_request",
        "the request could not be read: " + info.formatPretty(), 0).toResponse();
  }
}
