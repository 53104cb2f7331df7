package io.tandem.orchestrator.http;

import akka.Done;
import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.http.javadsl.Http;
import akka.http.javadsl.ServerBinding;
import akka.http.javadsl.model.ContentTypes;
import akka.http.javadsl.model.HttpMethods;
import akka.http.javadsl.model.HttpRequest;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.StatusCodes;
import akka.http.javadsl.model.headers.Authorization;
import akka.http.scaladsl.model.EntityStreamSizeException;
import akka.stream.Materializer;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tandem.orchestrator.session.Sessions;
import io.tandem.protocol.Role;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tandem's OpenAI-compatible HTTP server: {@code /v1/chat/completions}, {@code /v1/completions},
 * {@code /v1/models}, health, metrics and the playground page, on top of the session actors.
 * Every refusal is an OpenAI-style error object; nothing reaches the client as a stack trace.
 */
public final class TandemHttpServer {
  private static final Logger LOG = LoggerFactory.getLogger(TandemHttpServer.class);
  private static final Duration BODY_READ = Duration.ofSeconds(30);

  private final ActorSystem<?> system;
  private final HttpSettings settings;
  private final Tenants tenants;
  private final Metrics metrics = new Metrics();
  private final WorkerView workers;
  private final CompletionService completions;
  private final Materializer mat;
  private final byte[] playground;
  private final long created = System.currentTimeMillis() / 1000;
  private volatile ServerBinding binding;
  private volatile boolean draining;

  private TandemHttpServer(ActorSystem<?> system, ActorRef<Sessions.Command> sessions, HttpSettings settings) {
    this.system = system;
    this.settings = settings;
    this.tenants = new Tenants(settings.tenants(), settings.maxInFlight(), settings.retryAfterSeconds(), System::nanoTime);
    this.workers = new WorkerView(system);
    this.completions = new CompletionService(system, sessions, settings, metrics);
    this.mat = Materializer.matFromSystem(system);
    this.playground = resource("playground.html");
  }

  /**
   * Binds the server (port 0: any free port) and registers its graceful shutdown with the
   * system's CoordinatedShutdown: stop accepting, let in-flight requests finish within the deadline.
   */
  public static CompletionStage<TandemHttpServer> start(ActorSystem<?> system, ActorRef<Sessions.Command> sessions,
      HttpSettings settings) {
    if (settings.open() && !isLoopback(settings.host()))
      throw new IllegalArgumentException("refusing to serve " + settings.host() + " with no API keys configured: anyone"
          + " could use the models. Configure tandem.http.api-keys (or --api-keys FILE), or bind 127.0.0.1");
    TandemHttpServer server = new TandemHttpServer(system, sessions, settings);
    Function<HttpRequest, CompletionStage<HttpResponse>> handler = server::handle;
    return Http.get(system).newServerAt(settings.host(), settings.port()).bind(handler::apply).thenApply(b -> {
      server.binding = b;
      server.registerShutdown();
      if (settings.open())
        LOG.warn("tandem serve: NO API KEYS CONFIGURED - the server is open to anyone on this machine;"
            + " it listens on {} only. Set tandem.http.api-keys or --api-keys FILE to require keys.", b.localAddress());
      else LOG.info("tandem serve: {} API keys for {} tenants", settings.tenants().size(),
          settings.tenants().stream().map(TenantSpec::tenant).distinct().count());
      LOG.info("tandem serve: listening on http://{}:{}/ (OpenAI API under /v1, playground at /)",
          b.localAddress().getHostString(), b.localAddress().getPort());
      return server;
    });
  }

  private static boolean isLoopback(String host) {
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (IOException e) {
      return false;
    }
  }

  /** The port the server listens on. */
  public int port() {
    return binding.localAddress().getPort();
  }

  public Metrics metrics() {
    return metrics;
  }

  private void registerShutdown() {
    CoordinatedShutdown cs = CoordinatedShutdown.get(system);
    cs.addTask(CoordinatedShutdown.PhaseServiceUnbind(), "tandem-http-unbind", () -> {
      draining = true;
      LOG.info("tandem serve: shutting down; {} requests in flight get up to {} s to finish",
          tenants.inFlight(), settings.shutdownDeadline().toSeconds());
      return binding.unbind().thenApply(x -> Done.getInstance());
    });
    cs.addTask(CoordinatedShutdown.PhaseServiceRequestsDone(), "tandem-http-drain", () -> drain()
        .thenCompose(x -> binding.terminate(Duration.ofSeconds(1)))
        .thenApply(x -> Done.getInstance()));
  }

  /** Completes when no request is in flight, or at the shutdown deadline. */
  private CompletionStage<Done> drain() {
    CompletableFuture<Done> done = new CompletableFuture<>();
    long deadline = System.nanoTime() + settings.shutdownDeadline().toNanos();
    Runnable[] check = new Runnable[1];
    check[0] = () -> {
      if (tenants.inFlight() == 0 || System.nanoTime() > deadline) {
        if (tenants.inFlight() > 0) LOG.warn("tandem serve: {} requests still running at the shutdown deadline", tenants.inFlight());
        done.complete(Done.getInstance());
      } else {
        system.scheduler().scheduleOnce(Duration.ofMillis(50), check[0], system.executionContext());
      }
    };
    check[0].run();
    return done;
  }

  /** Unbinds and waits for in-flight requests (as CoordinatedShutdown would, without stopping the system). */
  public CompletionStage<Done> stop() {
    draining = true;
    return binding.unbind().thenCompose(x -> drain()).thenCompose(x -> binding.terminate(Duration.ofSeconds(1)))
        .thenApply(x -> Done.getInstance());
  }

  // ---- routing

  private CompletionStage<HttpResponse> handle(HttpRequest request) {
    String path = request.getUri().path();
    RequestLog.Entry log = new RequestLog.Entry(request.method().value(), path);
    CompletionStage<HttpResponse> response;
    try {
      response = route(request, path, log);
    } catch (ApiError e) {
      request.discardEntityBytes(mat);
      response = CompletableFuture.completedFuture(error(e, log));
    } catch (RuntimeException e) {
      request.discardEntityBytes(mat);
      response = CompletableFuture.completedFuture(internal(e, log));
    }
    return response.exceptionally(t -> {
      Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
      if (c instanceof ApiError e) return error(e, log);
      return internal(c, log);
    });
  }

  private CompletionStage<HttpResponse> route(HttpRequest request, String path, RequestLog.Entry log) {
    boolean get = request.method() == HttpMethods.GET || request.method() == HttpMethods.HEAD;
    boolean post = request.method() == HttpMethods.POST;
    switch (path) {
      case "/v1/chat/completions":
      case "/v1/completions":
        if (!post) throw methodNotAllowed(request, "POST");
        return completion(request, path.equals("/v1/chat/completions"), log);
      case "/v1/models":
        if (!get) throw methodNotAllowed(request, "GET");
        log.tenant = tenants.authenticate(authorization(request));
        return done(ok(ContentTypes.APPLICATION_JSON, Json.write(models())), log);
      case "/health/live":
      case "/health":
        request.discardEntityBytes(mat);
        return CompletableFuture.completedFuture(ok(ContentTypes.APPLICATION_JSON, "{\"status\":\"live\"}"));
      case "/health/ready":
        request.discardEntityBytes(mat);
        return ready();
      case "/metrics":
        request.discardEntityBytes(mat);
        return workers.stats().thenApply(ws -> ok(ContentTypes.TEXT_PLAIN_UTF8, metrics.render(ws)));
      case "/":
      case "/index.html":
        if (!get) throw methodNotAllowed(request, "GET");
        request.discardEntityBytes(mat);
        return CompletableFuture.completedFuture(ok(ContentTypes.TEXT_HTML_UTF8, playground));
      default:
        request.discardEntityBytes(mat);
        throw ApiError.notFound(null, "not_found", "no such endpoint: " + request.method().value() + " "
            + CompletionRequest.clip(path) + " (see /v1/chat/completions, /v1/completions, /v1/models, /health/ready, /metrics)");
    }
  }

  private static ApiError methodNotAllowed(HttpRequest request, String allowed) {
    return new ApiError(405, "invalid_request_error", null, "method_not_allowed",
        request.method().value() + " is not allowed here; use " + allowed, 0);
  }

  private static Optional<String> authorization(HttpRequest request) {
    return request.getHeader(Authorization.class).map(a -> a.value())
        .or(() -> request.getHeader("Authorization").map(h -> h.value()));
  }

  private CompletionStage<HttpResponse> completion(HttpRequest request, boolean chat, RequestLog.Entry log) {
    String tenant = tenants.authenticate(authorization(request));
    log.tenant = tenant;
    if (draining) throw ApiError.overloaded("the server is shutting down", settings.retryAfterSeconds());
    Optional<Long> declared = request.entity().getContentLengthOption().isPresent()
        ? Optional.of(request.entity().getContentLengthOption().getAsLong()) : Optional.empty();
    if (declared.isPresent() && declared.get() > settings.maxBodyBytes()) throw tooLarge();
    return request.entity().withSizeLimit(settings.maxBodyBytes()).toStrict(BODY_READ.toMillis(), mat)
        .exceptionally(t -> {
          Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
          while (c.getCause() != null && !(c instanceof EntityStreamSizeException)) c = c.getCause();
          if (c instanceof EntityStreamSizeException) throw tooLarge();
          throw ApiError.invalid(null, "could not read the request body: " + c.getMessage());
        })
        .thenCompose(strict -> {
          String body = strict.getData().decodeString(StandardCharsets.UTF_8);
          ObjectNode json = Json.parseObject(body);
          CompletionRequest req = CompletionRequest.parse(json, chat, new CompletionRequest.Limits(settings.modelNames(),
              workers.contextLength(), settings.defaultMaxTokens(), settings.maxMaxTokens(), settings.charsPerToken(),
              settings.speculative()));
          log.stream = req.stream();
          log.mode = req.mode().name();
          log.user = req.user();
          Tenants.Permit permit = tenants.admit(tenant);
          try {
            return completions.run(req, permit, log);
          } catch (RuntimeException e) {
            permit.close();
            throw e;
          }
        });
  }

  private ApiError tooLarge() {
    return new ApiError(413, "invalid_request_error", null, "request_too_large",
        "the request body is larger than " + settings.maxBodyBytes() + " bytes", 0);
  }

  private ObjectNode models() {
    ObjectNode root = Json.object();
    root.put("object", "list");
    ArrayNode data = root.putArray("data");
    for (String name : settings.modelNames()) {
      ObjectNode m = data.addObject();
      m.put("id", name);
      m.put("object", "model");
      m.put("created", created);
      m.put("owned_by", "tandem");
      m.put("root", name);
      m.putNull("parent");
      m.putNull("max_model_len");
    }
    return root;
  }

  private CompletionStage<HttpResponse> ready() {
    return workers.listing().thenApply(listed -> {
      ObjectNode o = Json.object();
      boolean ok = !draining;
      ObjectNode roles = o.putObject("workers");
      for (Role r : Role.values()) {
        int n = listed.get(r).size();
        roles.put(r.name(), n);
        if (n == 0) ok = false;
      }
      o.put("status", ok ? "ready" : draining ? "shutting down" : "waiting for workers");
      return HttpResponse.create().withStatus(ok ? StatusCodes.OK : StatusCodes.SERVICE_UNAVAILABLE)
          .withEntity(ContentTypes.APPLICATION_JSON, Json.write(o));
    });
  }

  private CompletionStage<HttpResponse> done(HttpResponse r, RequestLog.Entry log) {
    log.status = r.status().intValue();
    metrics.response(log.status);
    log.finish();
    return CompletableFuture.completedFuture(r);
  }

  private static HttpResponse ok(akka.http.javadsl.model.ContentType.NonBinary type, String body) {
    return HttpResponse.create().withEntity(type, body);
  }

  private static HttpResponse ok(akka.http.javadsl.model.ContentType.NonBinary type, byte[] body) {
    return HttpResponse.create().withEntity(type, body);
  }

  private HttpResponse error(ApiError e, RequestLog.Entry log) {
    log.status = e.status();
    log.error = e.getMessage();
    metrics.response(e.status());
    log.finish();
    return e.toResponse();
  }

  private HttpResponse internal(Throwable t, RequestLog.Entry log) {
    LOG.error("tandem serve: internal error on {} {}", log.method, log.path, t);
    return error(new ApiError(500, "server_error", null, "internal_error",
        "internal server error (" + t.getClass().getSimpleName() + "); the server log has the details", 0), log);
  }

  private static byte[] resource(String name) {
    try (InputStream in = TandemHttpServer.class.getResourceAsStream(name)) {
      if (in == null) throw new IllegalStateException("missing resource " + name);
      return in.readAllBytes();
    } catch (IOException e) {
      throw new IllegalStateException("cannot read resource " + name, e);
    }
  }

  /** Names of settings for messages. */
  static List<String> endpoints() {
    return List.of("/v1/chat/completions", "/v1/completions", "/v1/models", "/health/live", "/health/ready", "/metrics", "/");
  }
}
