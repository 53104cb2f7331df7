package io.tandem.orchestrator.http;

import akka.Done;
import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.http.javadsl.Http;
import akka.http.javadsl.ServerBinding;
import akka.http.javadsl.model.HttpRequest;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.Uri;
import akka.http.javadsl.server.Route;
import akka.http.javadsl.settings.ServerSettings;
import akka.stream.javadsl.Flow;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.tandem.orchestrator.session.NodeStanding;
import io.tandem.orchestrator.session.SessionSettings;
import io.tandem.orchestrator.session.Sessions;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.text.Clipped;
import io.tandem.protocol.text.Plural;
import io.tandem.protocol.text.Seconds;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tandem's OpenAI-compatible HTTP server: {@code /v1/chat/completions}, {@code /v1/completions},
 * {@code /v1/models}, health, metrics and the playground page ({@link ApiRoutes}), on top of the
 * session actors: binding, akka-http's settings, and graceful shutdown. Every refusal is an
 * OpenAI-style error object; nothing reaches the client as a stack trace or a plain-text default.
 */
public final class TandemHttpServer {
  private static final Logger LOG = LoggerFactory.getLogger(TandemHttpServer.class);
  private final ActorSystem<?> system;
  private final HttpSettings settings;
  private final Tenants tenants;
  private final Metrics metrics;
  private final ApiRoutes routes;
  private final CompletionService completions;
  private final WorkerView workers;
  private volatile ServerBinding binding;
  private volatile boolean draining;
  private final OpenConnections connections;

  private TandemHttpServer(ActorSystem<?> system, ActorRef<Sessions.Command> sessions, HttpSettings settings) {
    this.system = system;
    this.settings = settings;
    this.tenants = new Tenants(settings.tenants(), settings.maxInFlight(), settings.retryAfterSeconds(), System::nanoTime);
    this.metrics = new Metrics(tenants.names(), settings.modelNames().get(0));
    this.connections = new OpenConnections(() -> draining, settings.keepAliveTimeout(), (delay, task) -> {
      akka.actor.Cancellable timer = system.scheduler().scheduleOnce(delay, task, system.executionContext());
      return timer::cancel;
    }, system.settings().config().getInt("akka.http.server.max-connections"));
    metrics.openConnections = connections::count;
    SessionSettings sessionSettings = SessionSettings.fromConfig(system.settings().config());
    this.workers = new WorkerView(system, sessions, sessionSettings.workerWait(), sessionSettings.stepCheckInterval(),
        settings.askTimeout(), settings.countTimeout(), settings.workerFiguresTimeout(), settings.workerFiguresMaxAge());
    this.completions = new CompletionService(system, sessions, settings, metrics, workers);
    this.routes = new ApiRoutes(settings, tenants, metrics, workers, completions, () -> draining);
  }

  /**
   * Binds the server (port 0: any free port) and registers its graceful shutdown with the
   * system's CoordinatedShutdown: stop accepting, let in-flight requests finish within the deadline,
   * then end those still running as API answers (see {@link #drain}).
   */
  public static CompletionStage<TandemHttpServer> start(ActorSystem<?> system, ActorRef<Sessions.Command> sessions,
      HttpSettings settings) {
    if (settings.open() && !isLoopback(settings.host()))
      throw new IllegalArgumentException("refusing to serve " + settings.host() + " with no API keys configured: anyone"
          + " could use the models. Configure tandem.http.api-keys (or --api-keys FILE), or bind 127.0.0.1");
    TandemHttpServer server = new TandemHttpServer(system, sessions, settings);
    ServerSettings serverSettings = serverSettings(system, settings);
    ParsingErrors.countIn(serverSettings, server.metrics);
    return Http.get(system).newServerAt(settings.host(), settings.port()).withSettings(serverSettings)
        .bindFlow(server.perConnection()).whenComplete((b, failed) -> {
          if (failed != null) ParsingErrors.forget(serverSettings);
          else b.whenTerminated().thenRun(() -> ParsingErrors.forget(serverSettings));
        }).thenApply(b -> {
      server.binding = b;
      server.registerShutdown();
      if (settings.open())
        // A browser on this machine reaches loopback too, for the pages of every site it opens (tester62c).
        LOG.warn("tandem serve: NO API KEYS CONFIGURED - the server is open to anyone on this machine{};"
            + " it listens on {} only. Give --api-key KEY, --api-keys FILE or tandem.http.api-keys to require keys.",
            settings.cors().allowsAnyOrigin() ? ", and to the pages of any web site its browsers open (CORS allows every origin:"
                + " --allowed-origins limits it)" : "", hostPort(b.localAddress()));
      else LOG.info("tandem serve: {} for {}", Plural.count(settings.tenants().size(), "API key"),
          Plural.count(settings.tenants().stream().map(TenantSpec::tenant).distinct().count(), "tenant"));
      for (TenantSpec t : settings.tenants())
        if (t.key().length() < TenantSpec.GUESSABLE_BELOW)
          LOG.warn("tandem serve: an API key of tenant '{}' has {} characters: a key that short can be guessed; give each"
              + " tenant {} or more random characters (openssl rand -hex 16 writes 32)", Clipped.of(t.tenant()), t.key().length(),
              TenantSpec.GUESSABLE_BELOW);
      io.tandem.protocol.SamplingParams d = settings.defaultSampling();
      LOG.info("tandem serve: listening on http://{}/ (OpenAI API under /v1, playground at /); requests that"
          + " leave them out get temperature {}, top_k {}, top_p {}, {}", hostPort(b.localAddress()), d.temperature(),
          d.topK(), d.topP(), d.seed() == null ? "no seed" : "seed " + d.seed());
      if (settings.cors().credentialsFromAnyOrigin())
        LOG.warn("tandem serve: tandem.http.allowed-origins has \"*\" and allow-credentials is on: a page of any web site"
            + " may call this server with its visitors' cookies and HTTP authentication and read the answers. List the"
            + " origins that need credentials in tandem.http.allowed-origins (--allowed-origins) instead.");
      server.routes.neverReady().ifPresent(why -> LOG.warn("tandem serve: /health/ready stays 503, as the default mode"
          + " ({}, tandem.http.default-mode) needs what this node lacks: {}", settings.defaultMode(), why));
      return server;
    });
  }

  /**
   * akka-http's server parsing setting {@code name} (a size in bytes, as the server's own, else as
   * {@code akka.http.parsing} has it), raised to {@code bytes} where it is lower; {@code infinite}
   * stays so.
   */
  private static String atLeast(Config config, String name, long bytes) {
    String server = "akka.http.server.parsing." + name;
    String path = config.hasPath(server) ? server : "akka.http.parsing." + name;
    if (config.getString(path).strip().equals("infinite")) return "infinite";
    return String.valueOf(Math.max(bytes, config.getBytes(path)));
  }

  /**
   * akka-http's server settings with this server's timeouts, error bodies, HEAD, Host and raw target,
   * whatever {@code akka.http.server} says (its reference.conf may come first on a classpath).
   */
  private static ServerSettings serverSettings(ActorSystem<?> system, HttpSettings settings) {
    Config own = ConfigFactory.parseMap(Map.<String, Object>of(
        "akka.http.server.request-timeout", io.tandem.protocol.config.ConfigSection.asAkkaSetting(settings.requestTimeout()),
        "akka.http.server.idle-timeout", io.tandem.protocol.config.ConfigSection.asAkkaSetting(settings.idleTimeout()),
        // akka-http's warning about a header it cannot model quotes the whole value: for these, the
        // client's credential (Bearer a b). The request still reaches the routes, which answer the 401.
        // An Origin no browser sends (a list, a path) would cost two log lines a request; Cors reads
        // it raw and names no such origin back. A User-Agent is read by no one here, and the Vercel AI
        // SDK's (ai-sdk/openai-compatible/2.0.92 ...: two slashes in a product) warned on every connection. Nor are the
        // headers proxies and browsers add: Azure's Application Gateway writes X-Forwarded-For with the client's port
        // (203.0.113.7:51234), which akka-http's model refuses, a two-line WARN for every request (tester61b).
        "akka.http.server.parsing.ignore-illegal-header-for", List.of("authorization", "proxy-authorization", "origin",
            "user-agent", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "forwarded", "referer",
            "range", "if-range", "date", "if-modified-since", "if-unmodified-since", "cookie",
            // Nor the negotiation headers clients send (Accept: json, Accept-Language: en_US: tester61f), which the API
            // ignores as vLLM's does; Expect is read raw.
            "accept", "accept-encoding", "accept-language", "accept-charset", "if-none-match", "if-match", "te", "expect"),
        "akka.http.server.parsing.error-handler", settings.cors().parsingErrors().getName(),
        "akka.http.server.parsing.max-method-length", String.valueOf(ParsingErrors.METHOD_LENGTH_LIMIT),
        // akka-http's own limits on a body (8 MiB) and on one chunk of it (1 MiB) are raised to
        // tandem.http.max-body-size where they are lower: else a body under a raised limit was a 413
        // (naming a limit it was under), and a chunk of one a 400. A chunk over it is a body over it.
        "akka.http.server.parsing.max-content-length", atLeast(system.settings().config(), "max-content-length", settings.maxBodyBytes()),
        "akka.http.server.parsing.max-chunk-size", atLeast(system.settings().config(), "max-chunk-size", settings.maxBodyBytes()),
        // HEAD reaches the routes as HEAD, so that the request log names it; they answer it as GET,
        // and akka-http renders the answer to a HEAD without its body (RFC 9110 9.3.2).
        "akka.http.server.transparent-head-requests", "off",
        // The target as the client wrote it, which alone tells a host without a path (GET metrics
        // HTTP/1.1), refused, from an absolute URI without one (GET http://host HTTP/1.1).
        "akka.http.server.raw-request-uri-header", "on",
        // A request without a Host header, as HTTP/1.0 allows and health checkers send it (GET
        // /health/live HTTP/1.0), or with an empty one, is one for this server. akka-http still
        // refuses an HTTP/1.1 request without one, as RFC 9112, section 3.2 requires.
        // With port 0 (any free port) it is the host alone: a Host header's port 0 is none.
        // A zone (::1%lo) is no part of a Host header (RFC 6874 writes it %25lo, which akka-http refuses): left out.
        "akka.http.server.default-host-header", hostPort(InetSocketAddress.createUnresolved(settings.host().replaceFirst("%.*$", ""),
            settings.port()))));
    // What akka-http itself answers a request still open when the server's termination deadline
    // passes (a head received, its body never sent): an API answer, as every other, not its bare 503.
    return ServerSettings.create(own.withFallback(system.settings().config())).withTerminationDeadlineExceededResponse(
        ApiError.forFailure(FailureCode.UNAVAILABLE, "the server is shutting down", settings.retryAfterSeconds()).toResponse());
  }

  /**
   * The routes as each connection runs them: every request carries its {@link ClientConnection},
   * whose hooks run when the client stops sending (so a request that writes nothing until its end
   * still learns that its client left), and which cancels the request timeouts of requests left
   * unanswered when the connection ends ({@link ClientConnection#answersEnded}).
   */
  private Flow<HttpRequest, HttpResponse, ?> perConnection() {
    Route route = routes.route();
    return Flow.fromMaterializer((mat, attributes) -> {
      ClientConnection client = new ClientConnection();
      return connections.track(Flow.<HttpRequest>create()
          .map(r -> {
            client.requested(r);
            return withPath(r).addAttribute(ClientConnection.KEY, client);
          })
          .watchTermination((m, done) -> {
            done.whenComplete((d, t) -> client.requestsEnded(t));
            return m;
          })
          .via(route.flow(system))
          .map(response -> {
            client.answered();
            return response;
          })
          .watchTermination((m, done) -> {
            done.whenComplete((d, t) -> client.answersEnded());
            return m;
          }));
    });
  }

  /**
   * {@code request}, whose target had no path ({@code GET http://127.0.0.1:8080 HTTP/1.1}), with the
   * path {@code /} that an empty one means (RFC 9110, section 4.2.3), as akka-http leaves it empty;
   * an asterisk-form target ({@code OPTIONS *}) keeps its own ({@link ApiRoutes#asteriskForm}).
   */
  private static HttpRequest withPath(HttpRequest request) {
    Uri uri = request.getUri();
    return uri.path().isEmpty() && !ApiRoutes.asteriskForm(uri) ? request.withUri(uri.path("/")) : request;
  }

  /**
   * {@code host:port} of {@code address} as a URL's authority writes it ({@code 127.0.0.1:8080},
   * {@code [::1]:8080}), where {@link InetSocketAddress#toString} would write {@code /127.0.0.1:8080}; an IPv6
   * address in its canonical text form (RFC 5952), not Java's {@code 0:0:0:0:0:0:0:1}.
   */
  static String hostPort(InetSocketAddress address) {
    String host = address.getHostString();
    return (host.indexOf(':') >= 0 ? "[" + rfc5952(host) + "]" : host) + ":" + address.getPort();
  }

  /**
   * {@code host}, an IPv6 address as {@link java.net.Inet6Address#getHostAddress} writes it (eight groups in hex,
   * maybe a {@code %scope}), in RFC 5952's form: leading zeros dropped and the longest run of two or more zero
   * groups (the first of equals) written {@code ::}. Anything else is returned as it is.
   */
  static String rfc5952(String host) {
    int scopeAt = host.indexOf('%');
    String scope = scopeAt < 0 ? "" : host.substring(scopeAt);
    String[] groups = (scopeAt < 0 ? host : host.substring(0, scopeAt)).split(":", -1);
    if (groups.length != 8) return host;
    int bestStart = -1, bestLength = 1;
    for (int i = 0; i < 8; i++) {
      int j = i;
      while (j < 8 && groups[j].matches("0+")) j++;
      if (j - i > bestLength) {
        bestStart = i;
        bestLength = j - i;
      }
    }
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        out.append("::");
        i += bestLength - 1;
        continue;
      }
      if (out.length() > 0 && out.charAt(out.length() - 1) != ':') out.append(':');
      out.append(groups[i].replaceFirst("^0+(?=.)", "").toLowerCase(java.util.Locale.ROOT));
    }
    return out + scope;
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

  /** Requests received whose response is not yet wholly handed over, admitted or not (see {@link OpenConnections#requestsInFlight}). */
  int requestsInFlight() {
    return connections.requestsInFlight();
  }

  /** The server's metrics (what {@code /metrics} renders). */
  public Metrics metrics() {
    return metrics;
  }

  private void registerShutdown() {
    CoordinatedShutdown cs = CoordinatedShutdown.get(system);
    cs.addTask(CoordinatedShutdown.PhaseServiceUnbind(), "tandem-http-unbind", () -> {
      draining = true;
      // Downed, this node's requests in flight cannot finish (their workers are out of its reach, and its receptionist
      // answers no more): each ends now, saying why, rather than at an ask's timeout as "shutting down" (tester48a).
      if (cs.getShutdownReason().filter(r -> r == CoordinatedShutdown.clusterDowningReason()).isPresent()) {
        String why = NodeStanding.DOWNED + "; it is shutting down: retry the request on another node";
        int inFlight = running();
        LOG.warn("tandem serve: this node was downed; {} in flight {} now with a 503 saying so",
            Plural.count(inFlight, "request"), inFlight == 1 ? "ends" : "end");
        workers.cutOff(ApiError.forFailure(FailureCode.UNAVAILABLE, why, settings.retryAfterSeconds()));
        completions.endAll(why);
      }
      // Counted once the port is closed: a request accepted just before still counts, and so does one
      // received but not yet admitted (its body still coming, or parsed on a cold server).
      return binding.unbind().thenApply(x -> {
        int inFlight = running();
        if (inFlight == 0) LOG.info("tandem serve: shutting down; no request in flight");
        else LOG.info("tandem serve: shutting down; {} in flight, given up to {} s to finish",
            Plural.count(inFlight, "request"), Seconds.of(settings.shutdownDeadline()));
        return Done.getInstance();
      });
    });
    cs.addTask(CoordinatedShutdown.PhaseServiceRequestsDone(), "tandem-http-drain", () -> drain()
        .thenCompose(x -> binding.terminate(Duration.ofSeconds(1)))
        .thenApply(x -> Done.getInstance()));
  }

  /**
   * Completes when no request is in flight and every connection has closed after writing its last
   * response (see {@link OpenConnections}). Requests still running at {@code shutdown-deadline} are
   * ended there ({@link CompletionService#endAll}: a stream's error event and {@code [DONE]}, or a
   * 503), and get {@code shutdown-grace} more to be written; then it completes regardless.
   */
  private CompletionStage<Done> drain() {
    CompletableFuture<Done> done = new CompletableFuture<>();
    long deadline = System.nanoTime() + settings.shutdownDeadline().toNanos();
    long cut = deadline + settings.shutdownGrace().toNanos();
    AtomicBoolean ended = new AtomicBoolean();
    long started = System.nanoTime();
    boolean waits = tenants.inFlight() > 0 || connections.requestsInFlight() > 0;
    Runnable[] check = new Runnable[1];
    check[0] = () -> {
      long now = System.nanoTime();
      if (tenants.inFlight() == 0 && connections.closeIdle()) {
        if (waits && !ended.get())
          LOG.info("tandem serve: drained in {} s: every request in flight has ended", Seconds.of(Duration.ofMillis((now - started) / 1_000_000)));
        done.complete(Done.getInstance());
        return;
      }
      if (now > deadline && ended.compareAndSet(false, true)) {
        LOG.warn("tandem serve: {} still running at the shutdown deadline; each ends with"
            + " \"the server is shutting down\" (a stream: an error event and [DONE])",
            Plural.count(running(), "request"));
        completions.endAll("the server is shutting down");
        routes.endBodyReads();
      }
      if (now > cut) {
        // What clients lose is an answer not wholly handed over: a session that still runs after its
        // answer was ended (tenants' count) costs no client anything.
        int unwritten = connections.requestsInFlight();
        if (unwritten == 0)
          LOG.info("tandem serve: {} still open {} ms after the shutdown deadline, every answer written; closing",
              Plural.count(connections.count(), "connection"), settings.shutdownGrace().toMillis());
        else
          LOG.warn("tandem serve: {} not yet wholly written {} ms after the shutdown deadline; closing their connections,"
              + " which their clients read as a reset (with many requests on few cores, raise tandem.http.shutdown-grace)",
              Plural.count(unwritten, "answer"), settings.shutdownGrace().toMillis());
        done.complete(Done.getInstance());
      } else {
        system.scheduler().scheduleOnce(Duration.ofMillis(50), check[0], system.executionContext());
      }
    };
    check[0].run();
    return done;
  }

  /**
   * The requests not yet answered: those the routes have, bodies still arriving included, or those
   * admitted to generate (one whose client has gone may still be generating), whichever is more.
   */
  private int running() {
    return Math.max(tenants.inFlight(), connections.requestsInFlight());
  }

  /** Unbinds and waits for in-flight requests (as CoordinatedShutdown would, without stopping the system). */
  public CompletionStage<Done> stop() {
    draining = true;
    return binding.unbind().thenCompose(x -> drain()).thenCompose(x -> binding.terminate(Duration.ofSeconds(1)))
        .thenApply(x -> Done.getInstance());
  }
}
