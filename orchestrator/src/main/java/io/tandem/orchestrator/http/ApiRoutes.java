package io.tandem.orchestrator.http;

import static akka.http.javadsl.server.PathMatchers.segment;
import static akka.http.javadsl.server.PathMatchers.segments;

import akka.http.javadsl.model.ContentType;
import akka.http.javadsl.model.ContentTypes;
import akka.http.javadsl.model.HttpCharsets;
import akka.http.javadsl.model.HttpEntity;
import akka.http.javadsl.model.HttpHeader;
import akka.http.javadsl.model.HttpMethod;
import akka.http.javadsl.model.HttpMethods;
import akka.http.javadsl.model.HttpRequest;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.MediaTypes;
import akka.http.javadsl.model.StatusCodes;
import akka.http.javadsl.model.Uri;
import akka.http.javadsl.model.headers.Allow;
import akka.http.javadsl.model.headers.ContentEncoding;
import akka.http.javadsl.model.headers.HttpEncoding;
import akka.http.javadsl.model.headers.HttpEncodings;
import akka.http.javadsl.model.headers.RawHeader;
import akka.http.javadsl.model.headers.RawRequestURI;
import akka.http.javadsl.server.AllDirectives;
import akka.http.javadsl.server.ExceptionHandler;
import akka.http.javadsl.server.MethodRejection;
import akka.http.javadsl.server.Rejection;
import akka.http.javadsl.server.RejectionHandler;
import akka.http.javadsl.server.Route;
import akka.http.javadsl.server.UnsupportedRequestEncodingRejection;
import akka.http.scaladsl.model.EntityStreamSizeException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.Role;
import io.tandem.protocol.TandemVersion;
import io.tandem.protocol.text.Seconds;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import scala.jdk.javaapi.DurationConverters;
import org.slf4j.LoggerFactory;

/**
 * The OpenAI-compatible API and the operator's endpoints, in akka-http's routing DSL: {@code POST
 * /v1/chat/completions}, {@code POST /v1/completions}, {@code GET /v1/models}, {@code GET
 * /v1/models/{id}}, vLLM's {@code POST /tokenize} and {@code POST /detokenize} ({@link
 * TokenizerRequest}), {@code /health/live}, {@code /health/ready}, {@code /metrics} and the playground
 * at {@code /}. Every answer is a real result or an OpenAI error object: refusals, akka-http's own
 * rejections (no such path, wrong method), exceptions and its request timeout all end as one, and
 * each writes one log line; so does each result of the API ({@code /v1}, {@code /tokenize}, {@code
 * /detokenize}), not those of health, metrics, the playground, an {@code OPTIONS} that is no CORS
 * preflight (of {@code *} or of a path) or a CORS preflight.
 */
final class ApiRoutes extends AllDirectives {
  private static final Logger LOG = LoggerFactory.getLogger(ApiRoutes.class);
  private static final String ENDPOINTS = "/v1/chat/completions, /v1/completions, /v1/models, /tokenize, /detokenize, /health/ready, /metrics, /version";
  /** Prometheus' text exposition format, version 0.0.4, as its scrapers ask for it. */
  private static final ContentType.WithCharset PROMETHEUS_TEXT =
      MediaTypes.customWithOpenCharset("text", "plain", Map.of("version", "0.0.4"), false).toContentType(HttpCharsets.UTF_8);

  private final HttpSettings settings;
  private final Tenants tenants;
  private final Metrics metrics;
  private final WorkerView workers;
  private final CompletionService completions;
  private final BooleanSupplier draining;
  /** Every request body still arriving flows through it; {@link #endBodyReads} fails them all. */
  private final akka.stream.SharedKillSwitch bodyReads = akka.stream.KillSwitches.shared("tandem-request-bodies");
  /**
   * What a body still arriving at the shutdown deadline fails with, and its client reads: the
   * server's doing, so not taken for the client's leaving when akka-http, its body cut off, then
   * closes the connection (this very instance, for {@link #exceptions}).
   */
  private final ApiError bodyReadEnded;
  /** Set by {@link #endBodyReads}: a body that could not be read since was cut off by it (decoded, it fails as corrupt). */
  private volatile boolean bodyReadsEnded;

  /**
   * Whether the server was draining when the request was received (its head read), set per
   * connection: a completion received before the shutdown began is served, one received after is a
   * 503. Read where the routes run, the flag could already be set for a request received before it
   * (a CI run under load refused one whose body was still coming), which the shutdown's line then did not count.
   * {@link OpenConnections#track} sets it just before it counts the request as in flight: read any
   * later (a CI run read it one stage downstream), a shutdown could count the request and see it refused.
   */
  static final akka.http.javadsl.model.AttributeKey<Boolean> RECEIVED_DRAINING =
      akka.http.javadsl.model.AttributeKey.create("tandem-received-draining", Boolean.class);
  private final byte[] playground;

  ApiRoutes(HttpSettings settings, Tenants tenants, Metrics metrics, WorkerView workers, CompletionService completions,
      BooleanSupplier draining) {
    this.settings = settings;
    this.tenants = tenants;
    this.metrics = metrics;
    this.workers = workers;
    this.completions = completions;
    this.draining = draining;
    this.bodyReadEnded = ApiError.forFailure(FailureCode.UNAVAILABLE, "the server is shutting down", settings.retryAfterSeconds());
    this.playground = playground(settings.demoPair());
  }

  /**
   * The playground's page, its {@code <body>} marked with whether the models are the demo pair
   * ({@code data-demo-pair}: {@code served}, {@code not-served} or {@code unknown}), which its
   * examples and its hint for a question outside the demo task are for.
   */
  static byte[] playground(HttpSettings.DemoPair pair) {
    String page = new String(resource("playground.html"), java.nio.charset.StandardCharsets.UTF_8);
    String marked = page.replace("<body>", "<body data-demo-pair=\"" + pair.name().toLowerCase(java.util.Locale.ROOT)
        .replace('_', '-') + "\">");
    if (marked.equals(page)) throw new IllegalStateException("playground.html has no <body> to mark");
    return marked.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  /**
   * Every route, each request with its log entry, its errors as OpenAI error objects, its CORS
   * headers ({@link Cors#wrap}, preflights answered there) and its {@link #REQUEST_ID} header. A
   * HEAD is logged as HEAD and routed as GET (akka-http renders the answer to a HEAD without its body).
   */
  Route route() {
    return extractRequest(request -> {
      Optional<String> authorityForm = authorityForm(request);
      RequestLog.Entry log = new RequestLog.Entry(request.method().value(), authorityForm.orElse(target(request.getUri())),
          request.getHeader(REQUEST_ID).map(HttpHeader::value).orElse(null));
      ClientConnection client = request.getAttribute(ClientConnection.KEY).orElse(ClientConnection.NONE);
      // Pipelined behind an answer that closed the connection: akka-http writes nothing more on it (OpenConnections.Gate).
      // Should it still write it (a request whose Connection header came on two lines, which akka-http reads whole and the
      // gate sees the first of; tester54h), the client reads why, not a bare 503.
      if (request.getAttribute(OpenConnections.NOT_SERVED).isPresent())
        return complete(withRequestId(ApiError.forFailure(FailureCode.UNAVAILABLE, "this request came behind one whose"
            + " Connection header this server read as closing the connection (a Connection header on two lines is read by its"
            + " first), and was not run; send it again on a new connection", 0).toResponse()
            .addHeader(akka.http.javadsl.model.headers.Connection.create("close")), request, log));
      // A request read behind one refused for its headers, before the connection closed: its bytes may be another's body,
      // so it is not run; its answer is never sent, nor logged (tester49h: a smuggled completion ran, blind, its answer lost).
      if (client.refusingTheRest())
        return complete(ParsingErrors.malformed(400, "an earlier request on this connection could not be read; it is closed")
            .toResponse().addHeader(akka.http.javadsl.model.headers.Connection.create("close")));
      Optional<String> brokenHeader = ParsingErrors.brokenHeader(request);
      // The headers' lines ran together: what follows on the connection cannot be told apart either. Before CORS and every
      // other answer: a preflight, or a target that is no path, was answered first and the rest run (tester49h).
      if (brokenHeader.isPresent()) {
        client.refuseTheRest();
        return complete(withRequestId(error(ParsingErrors.malformed(400, brokenHeader.get()), log)
            .addHeader(akka.http.javadsl.model.headers.Connection.create("close"))
            .addHeaders(settings.cors().answerHeaders(request)), request, log));
      }
      // Inside the request id, so that CORS preflights, answered before any route, carry one too.
      return mapResponse(r -> withRequestId(r, request, log), () -> settings.cors().wrap(
          handleExceptions(exceptions(request, log), () -> handleRejections(rejections(request, log), () ->
              withRequestTimeoutResponse(r -> withRequestId(timedOut(r, log), request, log), () ->
                  authorityForm.isPresent()
                      ? complete(error(ParsingErrors.malformed(400, ParsingErrors.notAPath(authorityForm.get())), log))
                      : mapRequest(ApiRoutes::headAsGet, () -> endpoints(request, log)))))));
    });
  }

  /** {@code request}, a HEAD made a GET: every GET route takes HEAD too (RFC 9110, section 9.3.2). */
  private static HttpRequest headAsGet(HttpRequest request) {
    return request.method().equals(HttpMethods.HEAD) ? request.withMethod(HttpMethods.GET) : request;
  }

  /**
   * The header that names a request in both directions, as vLLM's {@code --enable-request-id-headers}
   * and OpenAI send it (the OpenAI SDKs show it as {@code request_id}).
   */
  static final String REQUEST_ID = "X-Request-Id";

  /**
   * {@code r} with the request's {@link #REQUEST_ID}: the client's own when it can go back as it came
   * ({@link #echoable}), else the request's id (a completion's is what its body's {@code id} says;
   * the request log has it).
   */
  private static HttpResponse withRequestId(HttpResponse r, HttpRequest request, RequestLog.Entry log) {
    String id = request.getHeader(REQUEST_ID).map(HttpHeader::value).filter(ApiRoutes::echoable).orElse(log.id);
    return r.addHeader(RawHeader.create(REQUEST_ID, id));
  }

  /**
   * Whether a client's {@link #REQUEST_ID} can be sent back as it came: printable ASCII and not
   * blank. akka-http reads a header's bytes as UTF-8 but writes a header's chars one byte each (their
   * low bytes), so any other char would come back as another byte, a CR or LF among them; such a
   * header is answered with the request's own id.
   */
  static boolean echoable(String id) {
    return !id.isBlank() && id.chars().allMatch(CompletionRequest::printableAscii);
  }

  /**
   * The host of an asterisk-form request target ({@code OPTIONS * HTTP/1.1}), which akka-http parses
   * as a URI of host {@code *} and an empty path.
   */
  static final String ASTERISK_FORM = "*";

  /**
   * The request target as the client wrote it, when it is a host without a path (authority-form,
   * RFC 9112, section 3.2.3, for {@code CONNECT} alone; {@code GET metrics HTTP/1.1}). akka-http
   * parses that form for any method, as a URI of that host and an empty path, which its routes take
   * as {@code /}; only the target as written ({@code akka.http.server.raw-request-uri-header}) tells
   * it from {@code http://host}, an absolute-form target of the same URI. Of the targets akka-http
   * lets through, authority-form and the asterisk form are those without a {@code /}.
   */
  private static Optional<String> authorityForm(HttpRequest request) {
    return request.getHeader(RawRequestURI.class).map(RawRequestURI::uri)
        .filter(t -> !t.equals(ASTERISK_FORM) && t.indexOf('/') < 0);
  }

  /** Whether {@code uri} is an asterisk-form request target ({@code OPTIONS * HTTP/1.1}, RFC 9112, section 3.2.4). */
  static boolean asteriskForm(Uri uri) {
    return uri.path().isEmpty() && uri.host().address().equals(ASTERISK_FORM);
  }

  /** The request target as the log and error messages name it: its path, or {@code *} for the asterisk form. */
  private static String target(Uri uri) {
    return asteriskForm(uri) ? ASTERISK_FORM : uri.path();
  }

  /** The methods this server serves on some endpoint. */
  static final List<HttpMethod> SERVED_METHODS = List.of(HttpMethods.GET, HttpMethods.HEAD, HttpMethods.POST, HttpMethods.OPTIONS);

  /**
   * The answer to an {@code OPTIONS} that is no CORS preflight (RFC 9110, section 9.3.7): 200 with
   * the methods of its target in {@code Allow}, and no content. Of {@code *}, the server as a whole:
   * {@link #SERVED_METHODS}. Of a path: what a health checker probes with (HAProxy's {@code option
   * httpchk} sends {@code OPTIONS / HTTP/1.0}), answered without an API key, as it says nothing of the models.
   */
  private static HttpResponse optionsAnswer(List<HttpMethod> allowed) {
    return HttpResponse.create().addHeader(Allow.create(allowed.toArray(HttpMethod[]::new)));
  }

  private Route endpoints(HttpRequest request, RequestLog.Entry log) {
    Route live = complete(json(200, Map.of("status", "live")));
    // Not to be framed by another site, which could lead a click onto the page with a stored API key (tester54a), nor read as
    // anything but HTML.
    Route page = get(() -> complete(HttpResponse.create().withEntity(ContentTypes.TEXT_HTML_UTF8, playground)
        .addHeader(RawHeader.create("X-Frame-Options", "DENY"))
        .addHeader(RawHeader.create("Content-Security-Policy", "frame-ancestors 'none'"))
        .addHeader(RawHeader.create("X-Content-Type-Options", "nosniff"))));
    return concat(
        host(ASTERISK_FORM, () -> pathEnd(() -> options(() -> complete(optionsAnswer(SERVED_METHODS))))),
        pathPrefix("v1", () -> concat(
            path(segment("chat").slash("completions"), () -> post(() -> completion(request, true, log))),
            path("completions", () -> post(() -> completion(request, false, log))),
            // The method is checked within each whole path: a string prefix also matches /v1/modelsx,
            // which is a 404, not a 405 that names GET.
            pathPrefix("models", () -> concat(
                pathEnd(() -> get(() -> authenticated(request, log, tenant ->
                    completeWithFuture(models().thenApply(m -> done(log, tenant, 200, m)))))),
                // The id is the rest of the path, slashes and all: a Hugging Face name such as
                // Qwen/Qwen2.5-1.5B is a usual served name, and the OpenAI SDKs send it unencoded.
                // An empty id (/v1/models/) is no path of the API, as /v1/models/tandem/ is not.
                path(segments(), id -> String.join("/", id).isEmpty() ? reject() : get(() -> authenticated(request, log,
                    tenant -> completeWithFuture(models().thenApply(m -> model(m, String.join("/", id), log, tenant)))))))))),
        path("tokenize", () -> post(() -> tokenizer(request, false, log))),
        path("detokenize", () -> post(() -> tokenizer(request, true, log))),
        // GET only, as vLLM's (HEAD too: route() routes it as GET).
        pathPrefix("health", () -> concat(
            pathEnd(() -> get(() -> live)),
            path("live", () -> get(() -> live)),
            path("ready", () -> get(() -> completeWithFuture(ready()))))),
        // vLLM's: the server's version, for clients and dashboards that check what they talk to.
        path("version", () -> get(() -> complete(json(200, Map.of("version", TandemVersion.NUMBER))))),
        path("metrics", () -> get(() -> completeWithFuture(
            workers.scrape().thenApply(ws -> HttpResponse.create().withEntity(PROMETHEUS_TEXT, metrics.render(ws)))))),
        pathSingleSlash(() -> page),
        path("index.html", () -> page));
  }

  // ---- completions

  /** Authenticates before the body is read, then reads it ({@link #body}). */
  private Route completion(HttpRequest request, boolean chat, RequestLog.Entry log) {
    // Named from the start, so that a refusal's line carries the id the completion would have had:
    // the client's X-Request-Id where it names one (as vLLM), else a fresh one.
    log.id = completionId(chat, request.getHeader(REQUEST_ID).map(HttpHeader::value).filter(CompletionRequest::isRequestId)
        .orElseGet(RequestLog::freshId));
    return authenticated(request, log, tenant -> {
      // A request received before the shutdown began is served, even if its turn here comes after.
      if (request.getAttribute(RECEIVED_DRAINING).orElseGet(draining::getAsBoolean))
        throw ApiError.forFailure(FailureCode.UNAVAILABLE, "the server is shutting down", settings.retryAfterSeconds());
      return body(request, entity -> completeWithFuture(run(request, chat, entity, tenant, log)));
    });
  }

  /**
   * The request's body, read whole within {@code tandem.http.max-body-size} and {@code
   * body-read-timeout}, and decoded when it came with {@code Content-Encoding: gzip} (or {@code
   * x-gzip}, which RFC 9110, section 8.4.1.3, says to take as gzip) or {@code deflate}; the limits
   * hold for the bytes sent and for what they decode to.
   *
   * @throws ApiError 415 for a body that is not sent as {@code application/json} (vLLM's
   *     {@code validate_json_request}; a {@code text/plain} or form POST is also a request a web page
   *     may send to any server without a CORS preflight); 413 for a {@code Content-Length} over the limit;
   *     415 for a body compressed more than once ({@code gzip, gzip}), where akka-http would undo
   *     only the first coding
   */
  private Route body(HttpRequest request, java.util.function.Function<HttpEntity.Strict, Route> inner) {
    requireJson(request);
    long declared = request.entity().getContentLengthOption().orElse(0);
    // A client that waits for 100 Continue has sent nothing yet: its 413 comes at once (RFC 9110, section 10.1.1).
    boolean waitsToSend = request.getHeader("Expect").map(h -> h.value().strip().equalsIgnoreCase("100-continue")).orElse(false);
    if (declared > settings.maxBodyBytes() && declared - settings.maxBodyBytes() <= DRAINED_BEFORE_413 && !waitsToSend) {
      // Read and dropped first (within body-read-timeout), as nginx's lingering close does: a connection
      // closed with the body still arriving is reset, and the client, still sending, lost the 413
      // (HostileRequestsTest's "header parser received no bytes" after its 200 KB body, in CI).
      return extractMaterializer(mat -> onComplete(request.entity().withoutSizeLimit().getDataBytes()
          .takeWithin(settings.bodyReadTimeout()).runWith(akka.stream.javadsl.Sink.ignore(), mat), drained -> {
            throw tooLarge(encoded(request));
          }));
    }
    if (declared > settings.maxBodyBytes()) throw tooLarge(encoded(request));
    // Every Content-Encoding line, as one list (RFC 9110, section 5.3); one akka-http could not parse
    // ("gzip,", "gzip;q=1") is still there, raw.
    List<String> codings = new ArrayList<>();
    for (HttpHeader h : request.getHeaders()) {
      if (!h.is("content-encoding")) continue;
      for (String e : h.value().split(",")) {
        String coding = e.strip().toLowerCase(java.util.Locale.ROOT);
        // Empty elements are allowed and mean nothing (RFC 9110, section 5.6.1), as identity does.
        if (!coding.isEmpty() && !coding.equals("identity")) codings.add(coding);
      }
    }
    if (codings.size() > 1)
      throw unsupportedEncoding("lists " + codings.size() + " codings (" + CompletionRequest.clip(String.join(", ", codings))
          + "); this server undoes one: send the body compressed once, with gzip or deflate");
    HttpEncoding coding = codings.isEmpty() ? null : switch (codings.get(0)) {
      case "gzip", "x-gzip" -> HttpEncodings.GZIP;
      case "deflate" -> HttpEncodings.DEFLATE;
      default -> throw unsupportedEncoding(CompletionRequest.clip(codings.get(0)) + " is not supported; send it"
          + " uncompressed, or with gzip (x-gzip) or deflate");
    };
    // akka-http decodes by the first coding of the first line: make the one coding left the only one.
    // A body still arriving reads through bodyReads, which the shutdown deadline ends (endBodyReads).
    return mapRequest(r -> {
          HttpRequest plain = r.removeHeader("Content-Encoding");
          if (!plain.entity().isStrict()) plain = plain.withEntity(throughBodyReads(plain.entity()));
          if (coding == null) return plain;
          // akka-http's decoder makes the body chunked and refuses that for HTTP/1.0 (a 500): within
          // the routes the request reads as HTTP/1.1; the connection answers as the client asked.
          if (plain.protocol().equals(akka.http.javadsl.model.HttpProtocols.HTTP_1_0))
            plain = plain.withProtocol(akka.http.javadsl.model.HttpProtocols.HTTP_1_1);
          return plain.addHeader(ContentEncoding.create(coding));
        },
        // akka-http's own cap on what a body decodes to (akka.http.routing.decode-max-size, 8 MiB)
        // made a body under a raised max-body-size a 413 once compressed: the cap is at least the limit.
        () -> extractSettings(routing -> withSettings(routing.withDecodeMaxSize(Math.max(settings.maxBodyBytes(),
            ((akka.http.scaladsl.settings.RoutingSettings) routing).decodeMaxSize())),
            () -> decodeRequest(() -> extractStrictEntity(DurationConverters.toScala(settings.bodyReadTimeout()),
                settings.maxBodyBytes(), inner)))));
  }

  /**
   * The entity with its bytes read through {@link #bodyReads}, its length and type as they were. A
   * chunked body that passes {@code max-body-size} is read on and dropped, up to {@link
   * #DRAINED_BEFORE_413} bytes past it, before it fails with the limit's 413, as a body declared over
   * the limit is ({@link #body}): refused mid-body, its connection was closed under a client still
   * sending, which read a broken pipe instead of the 413 (a tester's {@code http.client} sending 5-16
   * MB in chunks).
   */
  private akka.http.javadsl.model.RequestEntity throughBodyReads(akka.http.javadsl.model.RequestEntity entity) {
    if (entity.getContentLengthOption().isPresent()) {
      akka.stream.javadsl.Source<akka.util.ByteString, ?> bytes = entity.getDataBytes().via(bodyReads.<akka.util.ByteString>flow());
      return akka.http.javadsl.model.HttpEntities.create(entity.getContentType(), entity.getContentLengthOption().getAsLong(), bytes);
    }
    long limit = settings.maxBodyBytes();
    java.util.concurrent.atomic.AtomicLong read = new java.util.concurrent.atomic.AtomicLong();
    akka.stream.javadsl.Source<akka.util.ByteString, ?> bytes = entity.withoutSizeLimit().getDataBytes()
        .via(bodyReads.<akka.util.ByteString>flow())
        .map(chunk -> {
          // Past what is read before a 413, the connection is closed under the client, as before.
          if (read.addAndGet(chunk.size()) - limit > DRAINED_BEFORE_413) throw tooLarge();
          return chunk;
        })
        .filter(chunk -> read.get() <= limit)
        .concatLazy(akka.stream.javadsl.Source.lazySource(() -> read.get() > limit
            ? akka.stream.javadsl.Source.<akka.util.ByteString>failed(tooLarge()) : akka.stream.javadsl.Source.<akka.util.ByteString>empty()));
    return akka.http.javadsl.model.HttpEntities.createChunked(entity.getContentType(), bytes);
  }

  /**
   * Ends every request body still arriving, at the server's shutdown deadline: each such request
   * is answered 503 "the server is shutting down" (with {@code Retry-After}) by its route, while its
   * connection is still open, as a request still running is ended there. Left to akka-http's own
   * termination deadline, the answer raced the connection's close, and a client on a busy machine
   * read a reset instead.
   */
  void endBodyReads() {
    bodyReadsEnded = true;
    bodyReads.abort(bodyReadEnded);
  }

  /**
   * Refuses a body whose Content-Type is not {@code application/json}, with a 415. As vLLM's
   * {@code validate_json_request}, only the part before the first {@code ;} counts: parameters are
   * not read (the body is read as UTF-8 whatever charset it names, and a byte that is not UTF-8 is
   * a 400, {@link Json#text}), nor refused when akka-http cannot parse them ({@code
   * application/json;}, which it then keeps as a raw header).
   */
  private static void requireJson(HttpRequest request) {
    ContentType type = request.entity().getContentType();
    akka.http.javadsl.model.MediaType media = type.mediaType();
    if (media.mainType().equalsIgnoreCase("application") && media.subType().equalsIgnoreCase("json")) return;
    Optional<String> raw = Optional.empty();
    for (HttpHeader h : request.getHeaders())
      if (h.is("content-type") && raw.isEmpty()) raw = Optional.of(h.value());
    if (raw.isPresent() && raw.get().split(";", 2)[0].strip().equalsIgnoreCase("application/json")) return;
    // A body sent without a Content-Type reaches the routes as application/octet-stream (none/none when empty).
    String given = raw.isPresent() ? "'" + CompletionRequest.clip(raw.get()) + "'"
        : media.equals(MediaTypes.APPLICATION_OCTET_STREAM) || type.equals(ContentTypes.NO_CONTENT_TYPE)
            ? "none (or application/octet-stream)" : "'" + CompletionRequest.clip(type.toString()) + "'";
    throw new ApiError(415, "invalid_request_error", null, "unsupported_media_type", "Unsupported Media Type: only"
        + " 'application/json' is allowed, the request's Content-Type is " + given
        + "; send the JSON body with the header Content-Type: application/json", 0);
  }

  /** The 415 for a body whose Content-Encoding this server cannot undo: "the request body's Content-Encoding {@code what}". */
  private static ApiError unsupportedEncoding(String what) {
    return new ApiError(415, "invalid_request_error", null, "unsupported_content_encoding",
        "the request body's Content-Encoding " + what, 0);
  }

  /** A completion's {@code id}: {@code chatcmpl-} or {@code cmpl-} and {@code name}, as OpenAI's and vLLM's. */
  static String completionId(boolean chat, String name) {
    return (chat ? "chatcmpl-" : "cmpl-") + name;
  }

  private CompletionStage<HttpResponse> run(HttpRequest request, boolean chat, HttpEntity.Strict entity, String tenant,
      RequestLog.Entry log) {
    ObjectNode body = Json.parseObject(Json.text(entity.getData().toArray()));
    String named = request.getHeader(REQUEST_ID).map(h -> h.value()).filter(CompletionRequest::isRequestId).orElse(null);
    // A body's request_id names even a completion refused for another field (the header first, as in vLLM).
    JsonNode bodyName = body.get("request_id");
    if (named == null && bodyName != null && bodyName.isTextual() && CompletionRequest.isRequestId(bodyName.asText()))
      log.id = completionId(chat, bodyName.asText());
    CompletionRequest req = CompletionRequest.parse(body, chat, new CompletionRequest.Limits(settings.modelNames(),
        settings.maxMaxTokens(), settings.speculative(), settings.defaultMode(), settings.defaultSampling()));
    if (named != null) req = req.namedBy(named);
    log.stream = req.stream();
    log.mode = req.mode().name();
    log.user = req.user();
    Tenants.Permit permit = tenants.admit(tenant);
    ClientConnection client = request.getAttribute(ClientConnection.KEY).orElse(ClientConnection.NONE);
    return completions.run(req, permit, log, client);
  }

  /**
   * {@code /tokenize} or {@code /detokenize}: a worker of the role that reads prompts first (as
   * for a completion of the default mode) tokenizes or decodes. Each is a request of its tenant
   * while it runs, as a completion is ({@code max-concurrent}, {@code tandem.http.max-in-flight}, a
   * drain's requests in flight), and is charged no tokens: a long prompt's count takes a worker
   * seconds, which a tenant's limits are there to bound.
   */
  private Route tokenizer(HttpRequest request, boolean detokenize, RequestLog.Entry log) {
    return authenticated(request, log, tenant -> {
      return body(request, entity -> {
        TokenizerRequest req = TokenizerRequest.parse(Json.parseObject(Json.text(entity.getData().toArray())),
            detokenize, settings.modelNames());
        Role reader = settings.defaultMode() == io.tandem.orchestrator.session.Mode.large ? Role.large : Role.small;
        Tenants.Permit permit = tenants.admit(tenant);
        ClientConnection client = request.getAttribute(ClientConnection.KEY).orElse(ClientConnection.NONE);
        CompletableFuture<HttpResponse> answer = new CompletableFuture<>();
        AtomicBoolean settled = new AtomicBoolean();
        CompletableFuture<Void> gone = new CompletableFuture<>();
        // A client that leaves is logged and counted as 499 at once, its count called off if the
        // worker has not begun it, and its tenant's slot freed (a count begun runs to its end unread).
        Runnable forgetClient = client.onClose(() -> {
          gone.complete(null);
          if (settled.compareAndSet(false, true)) answer.complete(clientClosed(log));
        });
        try {
          workers.countTokens(reader, null, req.prompt(), req.tokens(), req.tokens() == null ? null : "tokens",
                  completions.retryAfter(), gone)
              .whenComplete((c, t) -> {
                permit.close();
                forgetClient.run();
                if (!settled.compareAndSet(false, true)) return;
                if (t != null) {
                  answer.completeExceptionally(t);
                  return;
                }
                try {
                  answer.complete(done(log, tenant, 200, req.answer(c)));
                } catch (RuntimeException e) { // the worker's refusal of the text (an id outside its vocabulary)
                  answer.completeExceptionally(e);
                }
              });
        } catch (RuntimeException e) {
          permit.close();
          forgetClient.run();
          throw e;
        }
        return completeWithFuture(answer);
      });
    });
  }

  /**
   * How far past {@code tandem.http.max-body-size} a body is read (and dropped) before its 413, so
   * that the client, done sending, reads the answer; a larger one is answered at once and its
   * connection closed under it. Past the limit, not in all: under a limit raised to 16 MiB or more a
   * body over it was never read first, and the client lost its 413 (a fresh tester's http.client).
   */
  static final long DRAINED_BEFORE_413 = 16L << 20;

  private ApiError tooLarge() {
    return tooLarge(false);
  }

  /**
   * The limit's 413; for a body sent with a {@code Content-Encoding} ({@code encoded}), whose few
   * bytes sent may decode to many, it says the limit holds for both.
   */
  private ApiError tooLarge(boolean encoded) {
    return new ApiError(413, "invalid_request_error", null, "request_too_large",
        "the request body" + (encoded ? ", as sent or once decoded by its Content-Encoding," : "") + " is larger than "
            + settings.maxBodyBytes() + " bytes, this server's limit (tandem.http.max-body-size);"
            + " send a shorter request, or have the server's operator raise that setting", 0);
  }

  /** Whether {@code request} came with a Content-Encoding other than identity. */
  private static boolean encoded(HttpRequest request) {
    return request.getHeader(ContentEncoding.class).filter(h -> !h.value().equalsIgnoreCase("identity")).isPresent();
  }

  // ---- models

  /**
   * The served models, with the smallest context of the workers as {@code max_model_len} (null before any reported),
   * {@code created} now, as vLLM's {@code ModelCard} is made for each answer (so two orchestrators of a cluster agree:
   * tester48a read each one's start).
   */
  private CompletionStage<OpenAi.ModelList> models() {
    // A node shutting down serves no model any more: a front node polling it as an engine (its health check asks
    // /v1/models) then withdraws its worker, as from vLLM's closed port, instead of taking it for serving on a connection
    // kept alive (tester48e: fresh workers met "shutting down" again and again through the drain).
    if (draining.getAsBoolean())
      return CompletableFuture.failedFuture(ApiError.forFailure(FailureCode.UNAVAILABLE, "the server is shutting down",
          settings.retryAfterSeconds()));
    long created = System.currentTimeMillis() / 1000;
    return workers.contextLength(EnumSet.allOf(Role.class)).thenApply(context -> new OpenAi.ModelList("list",
        settings.modelNames().stream().map(name -> new OpenAi.Model(name, "model", created, "tandem", name, null,
            context == Integer.MAX_VALUE ? null : context)).toList()));
  }

  private HttpResponse model(OpenAi.ModelList models, String id, RequestLog.Entry log, String tenant) {
    for (OpenAi.Model m : models.data()) if (m.id().equals(id)) return done(log, tenant, 200, m);
    throw ApiError.notFound("model", "model_not_found", "the model '" + CompletionRequest.clip(id)
        + "' does not exist; this server serves " + String.join(", ", settings.modelNames()) + " (see GET /v1/models)");
  }

  // ---- health

  /** Readiness's status while it serves speculative requests with no large worker ({@code on-large-loss = degrade}). */
  static final String DEGRADED = "degraded: no large worker is offered, so speculative requests get the small model's answer"
      + " alone, marked degraded (tandem.session.on-large-loss = degrade)";

  /** {@link #DEGRADED}, on a node outside a cluster without the large role: none will ever come. */
  static final String DEGRADED_FOR_GOOD = "degraded: no large worker will come (this node does not run the large role and is not"
      + " in a cluster), so speculative requests get the small model's answer alone, marked degraded (tandem.session.on-large-loss"
      + " = degrade); start it with the large role too for the method's answers";

  /**
   * Ready (200) when the roles the default mode needs have a worker each (both for speculative; a
   * node that serves one model as another's engine, {@code default-mode = small}, needs only that
   * one), the server is not shutting down, and this node is in the cluster's reach ({@code
   * NodeStanding.outOfTouch}: not downed, leaving, cut off, or just back from a pause it was most
   * likely downed for). With {@code tandem.session.on-large-loss = degrade}
   * a speculative server serves without a large worker, so it is ready with the small one alone,
   * its status {@link #DEGRADED}: a load balancer keeps sending it the requests it answers. The
   * body lists every role's workers.
   */
  private CompletionStage<HttpResponse> ready() {
    return workers.offered().thenApply(listed -> {
      Map<String, Object> body = new LinkedHashMap<>();
      Map<String, Integer> roles = new LinkedHashMap<>();
      boolean ok = !draining.getAsBoolean();
      for (Role r : Role.values()) {
        roles.put(r.name(), listed.get(r).size());
        if (needed(r) && listed.get(r).isEmpty()) ok = false;
      }
      boolean degraded = settings.defaultMode() == io.tandem.orchestrator.session.Mode.speculative && listed.get(Role.large).isEmpty();
      // Out of the cluster's reach, its workers listed or not: not ready (tester47a: back from a 15 s SIGSTOP, a node the
      // others had downed said ready for seconds and took requests it could only fail).
      String outOfTouch = !draining.getAsBoolean() ? workers.outOfTouch() : null;
      if (outOfTouch != null) ok = false;
      body.put("workers", roles);
      body.put("status", outOfTouch != null ? "out of the cluster's reach: " + outOfTouch
          : !ok ? (draining.getAsBoolean() ? "shutting down" : neverReady().orElseGet(() -> waitingFor(listed)))
          : !degraded ? "ready" : workers.neverOffered(Role.large) ? DEGRADED_FOR_GOOD
          : DEGRADED + (workers.engineProblems(Role.large) == null ? ""
              : "; this node's large engine does not serve: " + workers.engineProblems(Role.large)));
      return json(ok ? 200 : 503, body);
    });
  }

  /**
   * "waiting for workers: " and, for each role needed without a worker offered, why, as this node
   * sees it: its own remote engine not serving (what the endpoint's health poll found), its own
   * worker still starting (outside a cluster), a member of the role that offers
   * none now (joining, loading its model, unreachable), or no member of the role at all.
   */
  private String waitingFor(Map<Role, ? extends java.util.Collection<?>> listed) {
    List<String> why = new ArrayList<>();
    for (Role r : Role.values()) {
      if (!needed(r) || !listed.get(r).isEmpty()) continue;
      String coming = workers.inCluster() ? workers.comingAs(r) : null;
      // This node's engine of the role does not serve: say why, not that its worker is starting (tester45b).
      String engine = workers.engineProblems(r);
      why.add("no " + r + " worker is offered " + (engine != null ? "(this node's " + r + " engine does not serve: " + engine + ")"
          : !workers.inCluster() ? "(this node's " + r + " worker is still starting)"
          : coming != null ? "(" + coming + ")"
          : "(no " + r + " node is in the cluster: start one, or restart the one that left)"));
    }
    return "waiting for workers" + (why.isEmpty() ? "" : ": " + String.join("; ", why));
  }

  /**
   * Whether requests of the default mode need a worker of {@code role}: speculative ones need both,
   * unless they degrade to the small model alone without a large one.
   */
  private boolean needed(Role role) {
    return switch (settings.defaultMode()) {
      case speculative -> role == Role.small || !settings.degradeWithoutLarge();
      case small -> role == Role.small;
      case large -> role == Role.large;
    };
  }

  /**
   * Why this node can never be ready, when it cannot: it is outside a cluster and does not run a
   * role its default mode needs, so no worker of that role can ever come. Said by readiness, and
   * logged at startup.
   */
  Optional<String> neverReady() {
    for (Role r : Role.values())
      if (needed(r) && workers.neverOffered(r))
        return Optional.of("no " + r + " worker will come: this node does not run the " + r + " role and is not in a"
            + " cluster, so none can join it; start it with the " + r + " role too, or set"
            + " tandem.http.default-mode to the role it runs");
    return Optional.empty();
  }

  // ---- shared

  private interface TenantRoute {
    Route apply(String tenant);
  }

  private Route authenticated(HttpRequest request, RequestLog.Entry log, TenantRoute inner) {
    String tenant = tenants.authenticate(authorizations(request));
    log.tenant = tenant;
    return inner.apply(tenant);
  }

  /**
   * The 401 of a request to a {@code /v1} path without a key this server takes (with keys configured), as vLLM's
   * middleware answers every {@code /v1} path; empty when it has one (its tenant is then the log's), or the path is
   * another.
   */
  private Optional<ApiError> unauthorizedUnderV1(RequestLog.Entry log, List<String> authorization) {
    // OPTIONS passes, as vLLM's middleware lets it (tester49f: OPTIONS /v1/nope was a 401, OPTIONS /nope a 404).
    if (!log.path.equals("/v1") && !log.path.startsWith("/v1/") || log.method.equals(HttpMethods.OPTIONS.value()))
      return Optional.empty();
    try {
      log.tenant = tenants.authenticate(authorization);
      return Optional.empty();
    } catch (ApiError unauthorized) {
      return Optional.of(unauthorized);
    }
  }

  /** The values of {@code request}'s Authorization headers, in order. */
  private static List<String> authorizations(HttpRequest request) {
    List<String> authorization = new ArrayList<>();
    for (HttpHeader h : request.getHeaders()) if (h.is("authorization")) authorization.add(h.value());
    return authorization;
  }

  private HttpResponse done(RequestLog.Entry log, String tenant, int status, Object body) {
    log.status = status;
    metrics.response(tenant, status);
    log.finish();
    return json(status, body);
  }

  private static HttpResponse json(int status, Object body) {
    return HttpResponse.create().withStatus(StatusCodes.get(status)).withEntity(ContentTypes.APPLICATION_JSON, Json.write(body));
  }

  private HttpResponse error(ApiError e, RequestLog.Entry log) {
    log.status = e.status();
    log.error = e.getMessage();
    metrics.response(log.tenant == null ? Metrics.NO_TENANT : log.tenant, e.status());
    log.finish();
    return e.toResponse();
  }

  private ExceptionHandler exceptions(HttpRequest request, RequestLog.Entry log) {
    return ExceptionHandler.newBuilder()
        // The server's failure for a client that left before its answer (while its prompt was counted)
        // goes to nobody: a 499, as nginx logs it. (A connection whose body timed out counts as
        // closed too, while its client waits for the 408.)
        .match(ApiError.class, e -> complete(e.status() >= 500 && e != bodyReadEnded && gone(request) ? clientClosed(log, e)
            : error(e, log)))
        .matchAny(t -> complete(bodyCutShort(t) ? clientClosed(log, null, ApiError.bodyCutShort())
            : clientLeft(t) ? clientClosed(log) : error(fromThrowable(t, request, log), log)))
        .build();
  }

  /** Whether the client of {@code request} has gone (its connection closed). */
  private static boolean gone(HttpRequest request) {
    return request.getAttribute(ClientConnection.KEY).map(ClientConnection::isClosed).orElse(false);
  }

  /**
   * Whether {@code t} says the client went away while sending its body: its connection was reset
   * (akka's {@code StreamTcpException}) or closed before the body's {@code Content-Length} came.
   */
  private static boolean clientLeft(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof akka.stream.StreamTcpException) return true;
    }
    return bodyCutShort(t);
  }

  /**
   * Whether {@code t} says the connection ended before the body its head announced had come (akka-http's truncation),
   * a compressed body's too, which its decoder reports as a corrupt encoding (tester61f: a gzip body cut short was a
   * 400 blaming its encoding).
   */
  private static boolean bodyCutShort(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof akka.http.scaladsl.model.IllegalRequestException e
          && (e.info().summary().startsWith("Entity stream truncation") || e.info().formatPretty().contains(
              "Entity stream truncation"))) return true;
    }
    return false;
  }

  /**
   * The answer nobody reads to a client that left mid-request, counted and logged as 499 (nginx's
   * "client closed request"), as a request whose client leaves later is; not a server error.
   */
  private HttpResponse clientClosed(RequestLog.Entry log) {
    return clientClosed(log, null);
  }

  /**
   * {@link #clientClosed(RequestLog.Entry)} of a request whose answer was {@code unread}, a refusal or failure its
   * client did not wait for: the log line names it (tester60e: a 499 of a request refused at capacity read as one
   * that ran).
   */
  private HttpResponse clientClosed(RequestLog.Entry log, ApiError unread) {
    return clientClosed(log, unread, ApiError.clientClosed());
  }

  /** As {@link #clientClosed(RequestLog.Entry, ApiError)}, answering {@code e} (for a client that only half-closed). */
  private HttpResponse clientClosed(RequestLog.Entry log, ApiError unread, ApiError e) {
    log.status = 499;
    log.error = unread == null ? e.getMessage() : e.getMessage() + "; its answer, unread: " + unread.status() + " "
        + unread.getMessage();
    // A completion admitted, gone before its session started: `cancelled`, as the line of one that leaves later says,
    // and as /metrics counts it (abort). One refused (at capacity, say) whose client had left was never run: no
    // finish_reason, as no refusal has one (tester60c: 499 "cancelled" lines that request_success_total did not count).
    if (log.admitted) log.finishReason = "cancelled";
    metrics.response(log.tenant == null ? Metrics.NO_TENANT : log.tenant, 499);
    log.finish();
    return e.toResponse();
  }

  /**
   * A failure as the client sees it: an {@link ApiError} as it is, the body's limits as 413/408, a
   * body that cannot be read as 400, an actor of the server that did not answer in time as 503, else
   * a 500.
   */
  private ApiError fromThrowable(Throwable t, HttpRequest request, RequestLog.Entry log) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof ApiError e) return e;
      if (c instanceof EntityStreamSizeException) return tooLarge(encoded(request));
      if (c instanceof akka.http.scaladsl.model.IllegalRequestException e)
        return bodyReadsEnded ? bodyReadEnded : unreadableBody(e, request);
      // An ask of an actor that did not answer, or had already stopped (Akka's typed ask says so with a
      // TimeoutException: the receptionist of a node the cluster removed, while its HTTP port still answers).
      if (c instanceof java.util.concurrent.TimeoutException)
        return draining.getAsBoolean()
            ? ApiError.forFailure(FailureCode.UNAVAILABLE, "the server is shutting down", settings.retryAfterSeconds())
            : workers.unanswered(completions.retryAfter());
      // A body still being read when the server's termination deadline passed (akka-http then answers
      // its termination response, the same 503): the shutdown, not an internal error.
      if (c.getClass().getName().equals("akka.http.impl.engine.server.ServerTerminationDeadlineReached"))
        return ApiError.forFailure(FailureCode.UNAVAILABLE, "the server is shutting down", settings.retryAfterSeconds());      // A stream of the request's stopped under it (its body's, or its answer's): Akka stops a stream's actors so when
      // its connection or materializer goes, as after a pause of this process (tester51e, tester51g: a 500 "internal
      // error" for a request read across a SIGSTOP). Nothing of the request was wrong: retryable.
      if (c instanceof akka.stream.AbruptTerminationException || c instanceof akka.stream.AbruptStageTerminationException) {
        LOG.warn("tandem serve: {} {}: a stream of the request stopped before it ended ({}); answered 503", log.method, log.path,
            c.getMessage());
        return ApiError.forFailure(FailureCode.UNAVAILABLE, "the server's stream for this request stopped before it ended (as"
            + " after a pause of this process); retry the request", settings.retryAfterSeconds());
      }
    }
    LOG.error("tandem serve: internal error on {} {}", log.method, log.path, t);
    return new ApiError(500, "server_error", null, "internal_error",
        "internal server error (" + t.getClass().getSimpleName() + "); the server log has the details", 0);
  }

  /**
   * A request body akka-http could not read ({@code extractStrictEntity}, {@code decodeRequest}), as
   * what the client can act on: one that did not arrive in full within {@code
   * tandem.http.body-read-timeout} is a 408; one over {@code tandem.http.max-body-size} in chunks or
   * once decoded, the limit's 413; one whose {@code Content-Encoding} could not be undone
   * (akka-http reports every failure of an encoded body so) or whose chunks are malformed, a 400.
   */
  private ApiError unreadableBody(akka.http.scaladsl.model.IllegalRequestException e, HttpRequest request) {
    // Over the limit in chunks, or once decoded ("Request too large"), or in one chunk over
    // akka-http's parsing.max-chunk-size, which the server sets to at least the body's limit (under a
    // Content-Encoding akka-http says so after "The request's encoding is corrupt: "): the limit's
    // 413, as with a Content-Length.
    if (e.status().intValue() == StatusCodes.PAYLOAD_TOO_LARGE.intValue() || e.info().summary().startsWith("Request too large")
        || e.info().formatPretty().contains("HTTP chunk size exceeds"))
      return tooLarge(encoded(request));
    // A compressed body over the limit as sent (throughBodyReads's 413, or akka-http's own size limit
    // on the bytes it decodes): akka-http's decoder reports any failure of its input as "encoding is
    // corrupt", keeping only the cause's message.
    String detail = e.info().detail();
    if (detail.contains("tandem.http.max-body-size") || detail.contains("EntityStreamSizeException")) return tooLarge(encoded(request));
    boolean chunked = request.entity().isChunked();
    if (e.status().intValue() == StatusCodes.REQUEST_TIMEOUT.intValue())
      return new ApiError(408, "invalid_request_error", null, "request_timeout", "the request body did not arrive in full"
          + " within " + Seconds.of(settings.bodyReadTimeout()) + " s (tandem.http.body-read-timeout): "
          + (chunked ? "send every chunk and the last, empty one" : "send a body of the length its Content-Length header says"), 0);
    boolean encoded = encoded(request);
    String advice = encoded ? "send it as its Content-Encoding header says, or without one"
        : chunked ? "send it in chunks as Transfer-Encoding: chunked says (RFC 9112, section 7.1), or with a Content-Length"
        : "send it whole, of the length its Content-Length header says";
    return ApiError.invalid(null, "the request body cannot be read: " + e.info().formatPretty() + "; " + advice);
  }

  /**
   * What a client of OpenAI's Responses API is to do instead, for a path under {@code /v1/responses}:
   * the AI SDK's {@code openai(model)} sends there by default, and its user read only the list of
   * endpoints (tester58a).
   */
  static String responsesApiHint(String path) {
    if (!path.equals("/v1/responses") && !path.startsWith("/v1/responses/")) return "";
    return "; this server speaks OpenAI's Chat Completions API, not its Responses API: send the conversation to POST"
        + " /v1/chat/completions (the OpenAI SDKs' client.chat.completions.create; the Vercel AI SDK's openai.chat(model) in"
        + " place of openai(model))";
  }

  private RejectionHandler rejections(HttpRequest request, RequestLog.Entry log) {
    return RejectionHandler.newBuilder()
        .handleAll(MethodRejection.class, rs -> {
          List<HttpMethod> allowed = allowed(rs);
          List<HttpMethod> withOptions = new ArrayList<>(allowed);
          if (!withOptions.contains(HttpMethods.OPTIONS)) withOptions.add(HttpMethods.OPTIONS);
          if (log.method.equals(HttpMethods.OPTIONS.value())) return complete(optionsAnswer(withOptions));
          // With keys, a /v1 path asks for one before it says which methods it takes, as vLLM's (tester49e).
          Optional<ApiError> unauthorized = unauthorizedUnderV1(log, authorizations(request));
          if (unauthorized.isPresent()) return complete(error(unauthorized.get(), log));
          return complete(error(new ApiError(405, "invalid_request_error", null, "method_not_allowed", log.method
              + " is not allowed here; use " + allowed.stream().map(HttpMethod::name).collect(Collectors.joining(" or ")), 0), log)
              .addHeader(Allow.create(withOptions.toArray(HttpMethod[]::new))));
        })
        .handleAll(UnsupportedRequestEncodingRejection.class, rs -> complete(error(unsupportedEncoding(
            "is not supported; send it uncompressed, or with gzip (x-gzip) or deflate"), log)))
        .handleAll(Rejection.class, rs -> complete(error(ApiError.invalid(null, "the request was refused: "
            + rs.stream().map(Object::toString).collect(Collectors.joining("; "))), log)))
        // Built per request: the answer (which logs and counts the 404) only when no route matched.
        .handleNotFound(extractRequest(r -> {
          // With keys, every /v1 path needs one, as vLLM's: a path that is none is told so only to a client with a key
          // (tester49a: a 404 without one).
          Optional<ApiError> unauthorized = unauthorizedUnderV1(log, authorizations(r));
          if (unauthorized.isPresent()) return complete(error(unauthorized.get(), log));
          return complete(error(ApiError.notFound(null, "not_found", "no such endpoint: " + log.method + " "
              + CompletionRequest.clip(log.path) + " (see " + ENDPOINTS + ")" + responsesApiHint(log.path)), log));
        }))
        .build();
  }

  /**
   * The methods a path takes, for a 405's {@code Allow} header (RFC 9110, section 15.5.6), where
   * OPTIONS joins them ({@link #optionsAnswer}): those its routes asked for, with HEAD beside GET
   * ({@link #headAsGet}).
   */
  private static List<HttpMethod> allowed(List<MethodRejection> rejections) {
    List<HttpMethod> out = new ArrayList<>();
    for (MethodRejection r : rejections) {
      if (!out.contains(r.supported())) out.add(r.supported());
      if (r.supported().equals(HttpMethods.GET) && !out.contains(HttpMethods.HEAD)) out.add(HttpMethods.HEAD);
    }
    return out;
  }

  /**
   * akka-http's request timeout, which sits above every deadline of the session: a last resort,
   * that also cancels the session (no one will read what it writes). akka-http sends this answer
   * itself, past the routes and so past {@link Cors#wrap}: it gets the CORS headers here.
   */
  private HttpResponse timedOut(HttpRequest request, RequestLog.Entry log) {
    request.getAttribute(ClientConnection.KEY).ifPresent(ClientConnection::abandoned);
    return error(new ApiError(504, "server_error", null, "timeout", "the request took longer than tandem.http.request-timeout ("
        + Seconds.of(settings.requestTimeout()) + " s)", settings.retryAfterSeconds()), log)
        .addHeaders(settings.cors().answerHeaders(request));
  }

  private static byte[] resource(String name) {
    try (InputStream in = ApiRoutes.class.getResourceAsStream(name)) {
      if (in == null) throw new IllegalStateException("missing resource " + name);
      return in.readAllBytes();
    } catch (IOException e) {
      throw new IllegalStateException("cannot read resource " + name, e);
    }
  }
}
