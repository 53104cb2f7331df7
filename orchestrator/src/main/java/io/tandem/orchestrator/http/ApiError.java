package io.tandem.orchestrator.http;

import akka.http.javadsl.model.ContentTypes;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.StatusCode;
import akka.http.javadsl.model.StatusCodes;
import akka.http.javadsl.model.headers.RawHeader;
import io.tandem.protocol.FailureCode;

/**
 * A request the server refuses, as OpenAI writes it: {@code {"error": {"message", "type", "param",
 * "code"}}} with an HTTP status; a {@code Retry-After} for the ones worth retrying, and {@code
 * x-should-retry: false} for a server error that sending again cannot clear (the header the OpenAI
 * SDKs read before their own rule, which retries every 5xx).
 */
public final class ApiError extends RuntimeException {
  private final int status;
  private final String type;
  private final String param;
  private final String code;
  private final int retryAfterSeconds;
  private final boolean neverClears;
  /** The {@code WWW-Authenticate} challenge of a 401, or null. */
  private final String challenge;

  /**
   * @param retryAfterSeconds the {@code Retry-After} to send, in seconds; 0 for none
   */
  public ApiError(int status, String type, String param, String code, String message, int retryAfterSeconds) {
    this(status, type, param, code, message, retryAfterSeconds, false, null);
  }

  private ApiError(int status, String type, String param, String code, String message, int retryAfterSeconds,
      boolean neverClears, String challenge) {
    super(message, null, false, false);
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
    this.neverClears = neverClears;
    this.challenge = challenge;
  }

  /**
   * 400: the request is wrong; {@code param} names the value at fault as the message does, by its
   * path in the body: a field ({@code max_tokens}), a member ({@code stream_options.include_usage})
   * or an element ({@code stop_token_ids[1]}, {@code messages[0].content}), as OpenAI's API names
   * it ({@code "param": "messages[1].content"}).
   */
  public static ApiError invalid(String param, String message) {
    return new ApiError(400, "invalid_request_error", param, null, message, 0);
  }

  /**
   * The answer to a request whose client closed its connection before it ended (logged as 499,
   * nginx's "client closed request"): nobody reads it, unless the client only shut down its sending
   * side (a TCP half-close), which counts as leaving here as with nginx and vLLM's server.
   */
  static ApiError clientClosed() {
    return new ApiError(400, "invalid_request_error", null, "client_closed_request", "the client closed the connection, or"
        + " shut down its sending side (a TCP half-close), which counts as leaving; to have the connection closed after"
        + " the answer, send Connection: close instead", 0);
  }

  /**
   * {@link #clientClosed()} for a request whose connection ended before its body did: fewer bytes
   * than its {@code Content-Length} announced, or chunks without their last (tester61b: a body 10
   * bytes short, sent with {@code Connection: close}, was told to send {@code Connection: close}).
   */
  static ApiError bodyCutShort() {
    return new ApiError(400, "invalid_request_error", null, "client_closed_request", "the connection ended (the client"
        + " closed it, or shut down its sending side) before the request's body did: fewer bytes came than its"
        + " Content-Length announced, or chunked, no last chunk came; nothing was run. Send the whole body before"
        + " closing, with a Content-Length that counts its bytes", 0);
  }

  /** 400 for a feature the server does not offer. */
  public static ApiError unsupported(String param, String message) {
    return new ApiError(400, "invalid_request_error", param, "unsupported_parameter", message, 0);
  }

  /**
   * 401 with OpenAI's {@code invalid_api_key}, and the challenge a 401 must carry (RFC 9110, section
   * 11.6.1) for a key sent as a bearer token (RFC 6750, section 3): {@code WWW-Authenticate: Bearer},
   * with {@code error="invalid_token"} when {@code tokenRefused} (a bearer token came and is no key),
   * and without an error code when none came or another scheme did (RFC 6750, section 3.1).
   */
  public static ApiError unauthorized(String message, boolean tokenRefused) {
    return new ApiError(401, "invalid_request_error", null, "invalid_api_key", message, 0, false,
        tokenRefused ? "Bearer error=\"invalid_token\"" : "Bearer");
  }

  public static ApiError notFound(String param, String code, String message) {
    return new ApiError(404, "invalid_request_error", param, code, message, 0);
  }

  /** The limits of a tenant a 429 names, as OpenAI's 429 error object types them. */
  public enum Limit {
    /** A cap on requests: Tandem's {@code max-concurrent}, or a large queue's {@code per-tenant-queue-limit}. */
    requests,
    /** A cap on tokens: Tandem's {@code tokens-per-minute}. */
    tokens
  }

  /**
   * 429: this tenant is over one of its limits; as OpenAI writes it, {@code type} says which kind of
   * limit ({@code "requests"} or {@code "tokens"}) and {@code code} is {@code rate_limit_exceeded}.
   */
  public static ApiError rateLimited(Limit limit, String message, int retryAfterSeconds) {
    return new ApiError(429, limit.name(), null, "rate_limit_exceeded", message, retryAfterSeconds);
  }

  /** 503: the server is at capacity; try again later. */
  public static ApiError overloaded(String message, int retryAfterSeconds) {
    return new ApiError(503, "server_overloaded", null, "server_overloaded", message, retryAfterSeconds);
  }

  public int status() {
    return status;
  }

  public String type() {
    return type;
  }

  public String code() {
    return code;
  }

  public int retryAfterSeconds() {
    return retryAfterSeconds;
  }

  /** The body: {@code {"error": {"message", "type", "param", "code"}}}. */
  public OpenAi.ErrorBody body() {
    return new OpenAi.ErrorBody(new OpenAi.Error(getMessage(), type, param, code));
  }

  /**
   * The response: the body with this error's status, {@code Retry-After} when worth retrying, {@code
   * x-should-retry: false} when sending it again cannot help, and a 401's {@code WWW-Authenticate}.
   */
  public HttpResponse toResponse() {
    HttpResponse r = HttpResponse.create()
        .withStatus(statusCode())
        .withEntity(ContentTypes.APPLICATION_JSON, Json.write(body()));
    if (retryAfterSeconds > 0) {
      r = r.addHeader(RawHeader.create(RETRY_AFTER, Integer.toString(retryAfterSeconds)));
      long millis = retryAfterMillis(retryAfterSeconds, java.util.concurrent.ThreadLocalRandom.current());
      if (millis > 0) r = r.addHeader(RawHeader.create(RETRY_AFTER_MS, Long.toString(millis)));
    }
    if (neverClears) r = r.addHeader(RawHeader.create(SHOULD_RETRY, "false"));
    if (challenge != null) r = r.addHeader(RawHeader.create("WWW-Authenticate", challenge));
    return r;
  }

  /** The header that says how many seconds to wait before sending again (RFC 9110, section 10.2.3). */
  static final String RETRY_AFTER = "Retry-After";

  /**
   * The OpenAI SDKs' finer {@code Retry-After}, in milliseconds, which they read before it
   * (openai-node from 4.25, openai-python from 1.9) and wait exactly, within {@link
   * #SDK_WAIT_LIMITS_MILLIS}.
   */
  static final String RETRY_AFTER_MS = "retry-after-ms";

  /** The most {@code retry-after-ms} adds to {@code Retry-After}: enough to part clients refused together. */
  private static final long MAX_SPREAD_MILLIS = 2_000;

  /**
   * The waits past which an SDK stops taking the server's (tester58i and tester58j read their
   * histories): 60 s for openai-node 4.25-6.25 (under it), openai-node 7.5 on and openai-python
   * 1.9-2.51 (up to it), which back off by their own rule beyond (0.5 s, then 1 s); 120 s for
   * openai-python 2.52 on, which does not retry at all beyond; openai-node 6.26-7.4 takes any.
   */
  private static final long[] SDK_WAIT_LIMITS_MILLIS = {60_000, 120_000};

  /**
   * {@code retry-after-ms} for a {@code Retry-After} of {@code seconds}: a draw from {@code seconds}
   * to half as much again, at most 2 s more, so that the clients refused together do not all come back
   * in the same millisecond (tester58a: 8 clients of a server at capacity, each waiting exactly
   * {@code Retry-After: 1}, came back within 15 ms and were refused again together), never sooner
   * than {@code Retry-After} says and never much later (a tenant's tokens-per-minute wait is
   * computed). It stays on the same side of each SDK's limit as {@code Retry-After}: under it where
   * {@code Retry-After} is under it, the limit itself where {@code Retry-After} is that (a draw past
   * 60 s made openai-python back off by its own rule instead: tester58f). 0, no header, for no
   * {@code Retry-After}.
   */
  static long retryAfterMillis(int seconds, java.util.random.RandomGenerator random) {
    if (seconds <= 0) return 0;
    long base = seconds * 1000L;
    long end = base + Math.min(base / 2, MAX_SPREAD_MILLIS);
    for (long limit : SDK_WAIT_LIMITS_MILLIS) {
      if (base == limit) return base;
      if (base < limit) {
        end = Math.min(end, limit);
        break;
      }
    }
    return random.nextLong(base, end);
  }

  /** The header the OpenAI SDKs obey before their own retry rule (which retries every 408, 409, 429 and 5xx). */
  static final String SHOULD_RETRY = "x-should-retry";

  /**
   * What a failed generation means to its client, decided by the code alone: the client's fault
   * is a 400, a missed deadline a 504, a lack of capacity a 503 and a tenant's share of a queue
   * met a 429 (each with {@code Retry-After}),
   * a fault of the server a 500. A role this node can never be offered ({@link
   * FailureCode#ROLE_NOT_SERVED}) is a 503 too, the server's lack, but one that never clears: no
   * {@code Retry-After}, and {@code x-should-retry: false}.
   *
   * @param retryAfterSeconds the {@code Retry-After} of a retryable failure ({@link RetryAfter#forCode}); 0 for none
   */
  /**
   * The advice a refusal ends with: {@code retry in 120 s}, the wait its {@code Retry-After} gives, or
   * {@code retry shortly} where it gives none (tester58k: "retry shortly" beside a Retry-After of 120 s).
   */
  static String retryIn(int retryAfterSeconds) {
    return retryAfterSeconds > 0 ? "retry in " + retryAfterSeconds + " s" : "retry shortly";
  }

  public static ApiError forFailure(FailureCode code, String message, int retryAfterSeconds) {
    return forFailure(code, message, retryAfterSeconds, "messages");
  }

  /**
   * {@link #forFailure(FailureCode, String, int)} of a request whose prompt is {@code promptParam}:
   * {@code messages} on chat, {@code prompt} on {@code /v1/completions}, named as the {@code param} of a
   * context error (tester56c: an engine's context error on {@code /v1/completions} named "messages").
   */
  public static ApiError forFailure(FailureCode code, String message, int retryAfterSeconds, String promptParam) {
    int retry = retryAfterSeconds;
    return switch (code) {
      case ROLE_NOT_SERVED -> new ApiError(503, "server_error", null, "service_unavailable",
          "the server cannot serve this request: " + message, 0, true, null);
      case INVALID_REQUEST -> new ApiError(400, "invalid_request_error", null, "invalid_request", message, 0);
      case CONTEXT_LENGTH_EXCEEDED -> new ApiError(400, "invalid_request_error", promptParam, "context_length_exceeded", message, 0);
      case QUEUE_FULL -> overloaded("the server is at capacity: " + message, retry);
      case TENANT_QUEUE_FULL -> rateLimited(Limit.requests, message + "; " + retryIn(retry), retry);
      case NO_WORKER, WORKER_LOST, UNAVAILABLE -> new ApiError(503, "server_error", null, "service_unavailable",
          "the server cannot serve this request now: " + message, retry);
      case TIMEOUT -> new ApiError(504, "server_error", null, "timeout", "the generation timed out: " + message, retry);
      case MODEL_ERROR -> new ApiError(500, "server_error", null, "model_error", "the model failed: " + message, 0);
      case INTERNAL -> new ApiError(500, "server_error", null, "generation_failed", "the generation failed: " + message, 0);
    };
  }

  private StatusCode statusCode() {
    return switch (status) {
      case 400 -> StatusCodes.BAD_REQUEST;
      case 401 -> StatusCodes.UNAUTHORIZED;
      case 404 -> StatusCodes.NOT_FOUND;
      case 405 -> StatusCodes.METHOD_NOT_ALLOWED;
      case 413 -> StatusCodes.PAYLOAD_TOO_LARGE;
      case 415 -> StatusCodes.UNSUPPORTED_MEDIA_TYPE;
      case 429 -> StatusCodes.TOO_MANY_REQUESTS;
      case 503 -> StatusCodes.SERVICE_UNAVAILABLE;
      case 504 -> StatusCodes.GATEWAY_TIMEOUT;
      default -> StatusCodes.get(status);
    };
  }
}
