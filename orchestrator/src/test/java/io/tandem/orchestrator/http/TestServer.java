package io.tandem.orchestrator.http;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.javadsl.Behaviors;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.tandem.inference.Sequence;
import io.tandem.inference.scripted.ScriptedModel;
import io.tandem.inference.scripted.ScriptedTokenizer;
import io.tandem.inference.text.ChatTemplate;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.ChatTemplateArgs;
import io.tandem.orchestrator.session.SessionSettings;
import io.tandem.orchestrator.session.Sessions;
import io.tandem.orchestrator.session.WorkerDirectory;
import io.tandem.protocol.Role;
import io.tandem.worker.FifoQueue;
import io.tandem.worker.ModelWorker;
import io.tandem.worker.WorkerSettings;
import java.io.InputStream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A Tandem node for tests: scripted small and large workers (the example case's scripts), the
 * sessions, and the HTTP server on 127.0.0.1 at a free port. Steps of both models can be held at
 * a gate, so a test can keep requests in flight without sleeping. Registered as a JUnit extension
 * ({@code @RegisterExtension static TestServer server = TestServer.start(...)}) it drains after each
 * test and closes after the last.
 */
final class TestServer implements AutoCloseable, AfterEachCallback, AfterAllCallback {
  static final List<String> SMALL;
  static final List<String> LARGE;

  static {
    try (InputStream in = TestServer.class.getResourceAsStream("/fixtures/scripted/example.case.json")) {
      JsonNode root = new ObjectMapper().readTree(in);
      SMALL = texts(root.get("small"));
      LARGE = texts(root.get("large"));
    } catch (Exception e) {
      throw new IllegalStateException("cannot read the example case", e);
    }
  }

  private static List<String> texts(JsonNode a) {
    List<String> out = new ArrayList<>();
    a.forEach(t -> out.add(t.asText()));
    return out;
  }

  /** Between two looks at a condition that does not hold yet. */
  private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(5);

  /** Closed: model steps wait until it opens. */
  final Gate gate = new Gate();
  final ActorSystem<Void> system;
  final TandemHttpServer server;
  final String base;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  /** The roles this node has a worker of. */
  private final Set<Role> roles;

  private TestServer(ActorSystem<Void> system, TandemHttpServer server, Set<Role> roles) {
    this.system = system;
    this.server = server;
    this.base = "http://127.0.0.1:" + server.port();
    this.roles = roles;
  }

  static TestServer start(String httpConfig) {
    return start(httpConfig, 1 << 20);
  }

  /** As {@link #start(String)}, with models that take at most {@code contextLength} tokens. */
  static TestServer start(String httpConfig, int contextLength) {
    return start(httpConfig, contextLength, EnumSet.allOf(Role.class));
  }

  /** As {@link #start(String)}, with a worker of each of {@code roles} only (a node of fewer roles). */
  static TestServer start(String httpConfig, Set<Role> roles) {
    return start(httpConfig, 1 << 20, roles);
  }

  /**
   * As {@link #start(String)}, with models that render chat messages with {@code template}, one
   * token per character of the rendered text: a prompt's token count is its length, and {@code
   * /detokenize} of its ids is the text.
   */
  static TestServer start(String httpConfig, ChatTemplate template) {
    return start(httpConfig, 1 << 20, EnumSet.allOf(Role.class), template);
  }

  /** As {@link #start(String)}, its settings saying whether the models are the demo pair (as {@code tandem serve}'s do). */
  static TestServer start(String httpConfig, HttpSettings.DemoPair pair) {
    return start(httpConfig, 1 << 20, EnumSet.allOf(Role.class), null, pair);
  }

  private static TestServer start(String httpConfig, int contextLength, Set<Role> roles) {
    return start(httpConfig, contextLength, roles, null);
  }

  private static TestServer start(String httpConfig, int contextLength, Set<Role> roles, ChatTemplate template) {
    return start(httpConfig, contextLength, roles, template, HttpSettings.DemoPair.UNKNOWN);
  }

  /** As {@link #start(String)}, the small model writing {@code small} and the large {@code large} (each token a text). */
  static TestServer start(String httpConfig, List<String> small, List<String> large) {
    return start(httpConfig, 1 << 20, EnumSet.allOf(Role.class), null, HttpSettings.DemoPair.UNKNOWN, small, large);
  }

  private static TestServer start(String httpConfig, int contextLength, Set<Role> roles, ChatTemplate template,
      HttpSettings.DemoPair pair) {
    return start(httpConfig, contextLength, roles, template, pair, SMALL, LARGE);
  }

  private static TestServer start(String httpConfig, int contextLength, Set<Role> roles, ChatTemplate template,
      HttpSettings.DemoPair pair, List<String> small, List<String> large) {
    Config config = ConfigFactory.parseString(
            "akka.actor.provider = local\n"
                + "akka.loglevel = WARNING\n"
                + "akka.coordinated-shutdown.run-by-jvm-shutdown-hook = off\n"
                + "tandem.http.port = 0\n"
                + "tandem.http.reasoning-parser = think_tags\n"
                + "tandem.http.shutdown-deadline = 10s\n"
                + httpConfig)
        .withFallback(ConfigFactory.load());
    Gate gate = new Gate();
    CompletableFuture<ActorRef<Sessions.Command>> sessions = new CompletableFuture<>();
    Behavior<Void> guardian = Behaviors.setup(ctx -> {
      ActorRef<WorkerDirectory.Command> dir = ctx.spawn(WorkerDirectory.create(), "workers");
      sessions.complete(ctx.spawn(Sessions.create(dir, SessionSettings.fromConfig(config)), "sessions"));
      for (Role role : roles)
        ctx.spawn(ModelWorker.create(role, () -> new GatedModel("scripted-" + role, role == Role.small ? small : large, gate,
            contextLength, template), WorkerSettings.defaults(), () -> new FifoQueue(1024)), role + "-worker",
            DispatcherSelector.fromConfig(ModelWorker.DISPATCHER));
      return Behaviors.empty();
    });
    ActorSystem<Void> system = ActorSystem.create(guardian, "http-test", config);
    try {
      TandemHttpServer server = TandemHttpServer.start(system, sessions.get(10, TimeUnit.SECONDS),
          HttpSettings.fromConfig(config).withDemoPair(pair)).toCompletableFuture().get(10, TimeUnit.SECONDS);
      TestServer ts = new TestServer(system, server, Set.copyOf(roles));
      ts.gate.delegate = gate;
      ts.awaitReady();
      return ts;
    } catch (Exception e) {
      system.terminate();
      throw new IllegalStateException("test server did not start", e);
    }
  }

  /** Polls /health/ready until a worker of each of this node's roles is listed (a group router drops messages before that). */
  void awaitReady() throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    ObjectMapper json = new ObjectMapper();
    while (System.nanoTime() < deadline) {
      JsonNode workers = json.readTree(get("/health/ready").body()).path("workers");
      if (roles.stream().allMatch(r -> workers.path(r.name()).asInt() > 0)) return;
      java.util.concurrent.locks.LockSupport.parkNanos(POLL_NANOS);
    }
    throw new AssertionError("server never became ready");
  }

  HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(base + path)).GET().timeout(Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /**
   * {@code /metrics} now, without the {@code model_name} label the server's series of requests and
   * tokens all carry ({@code tandem}, its served model name): {@code MetricsTest} checks that label,
   * the tests reading figures name the series as if it were not there.
   */
  String scrape() throws Exception {
    return withoutModelName(get("/metrics").body());
  }

  /** {@code metrics} without the label {@code model_name="tandem"}. */
  static String withoutModelName(String metrics) {
    return metrics.replace("{model_name=\"tandem\"}", "").replace("model_name=\"tandem\",", "");
  }

  /** The value of a metric now, by its name and labels but {@code model_name} ({@link #scrape}). */
  double metric(String name) throws Exception {
    for (String line : scrape().split("\n"))
      if (line.startsWith(name + " ")) return Double.parseDouble(line.substring(name.length() + 1).trim());
    throw new AssertionError("no metric " + name);
  }

  /** Requests in flight, running and waiting together, from one scrape (the two are apart, as vLLM's). */
  double inFlight() throws Exception {
    double n = 0;
    for (String line : scrape().split("\n"))
      if (line.startsWith("tandem:num_requests_running ") || line.startsWith("tandem:num_requests_waiting "))
        n += Double.parseDouble(line.substring(line.indexOf(' ') + 1).trim());
    return n;
  }

  /** The value of a counter now: 0 before its first count, when it has no series yet. */
  double count(String name) throws Exception {
    try {
      return metric(name);
    } catch (AssertionError none) {
      return 0;
    }
  }

  /** Polls until the condition holds, failing after a deadline. */
  static void eventually(String what, java.util.concurrent.Callable<Boolean> condition) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline) {
      if (condition.call()) return;
      // A poll's interval, not a wait for anything: a condition is often a scrape of /metrics, which asks every worker
      // for its figures, and back to back they took the cores of a 2-core machine from the server under test (tester61a).
      java.util.concurrent.locks.LockSupport.parkNanos(POLL_NANOS);
    }
    throw new AssertionError("never happened: " + what);
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    drain();
  }

  @Override
  public void afterAll(ExtensionContext context) {
    close();
  }

  /** Opens the gate and waits until no request is in flight: what a test leaves behind it. */
  void drain() throws Exception {
    gate.open();
    eventually("no request in flight", () -> inFlight() == 0);
  }

  HttpResponse<String> post(String path, String body, String key) throws Exception {
    return post(path, body.getBytes(java.nio.charset.StandardCharsets.UTF_8), key);
  }

  /** A POST of {@code body} as it is, bytes a String cannot carry (another encoding than UTF-8) included. */
  HttpResponse<String> post(String path, byte[] body, String key) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body))
        .header("Content-Type", "application/json")
        .timeout(Duration.ofSeconds(60));
    if (key != null) b.header("Authorization", "Bearer " + key);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Override
  public void close() {
    gate.open();
    system.terminate();
    try {
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      // Going down anyway.
    }
  }

  /** Holds model steps while closed, except as many as {@link #allow} lets through. */
  static final class Gate {
    private final java.util.concurrent.Semaphore permits = new java.util.concurrent.Semaphore(0);
    private final java.util.concurrent.atomic.AtomicInteger held = new java.util.concurrent.atomic.AtomicInteger();
    private volatile boolean open = true;
    volatile Gate delegate;

    private Gate target() {
      return delegate == null ? this : delegate;
    }

    void close() {
      Gate t = target();
      t.open = false;
      t.permits.drainPermits();
    }

    void open() {
      Gate t = target();
      t.open = true;
      t.permits.release(1 << 20);
    }

    void allow(int steps) {
      target().permits.release(steps);
    }

    /** Steps let through by {@link #allow} that have not run yet. */
    int pending() {
      return target().permits.availablePermits();
    }

    /** Model steps waiting at the gate now. */
    int held() {
      return target().held.get();
    }

    void pass() {
      Gate t = target();
      if (t.open) return;
      t.held.incrementAndGet();
      try {
        if (!t.permits.tryAcquire(60, TimeUnit.SECONDS)) throw new IllegalStateException("gate never opened");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        t.held.decrementAndGet();
      }
    }
  }

  /** A scripted model whose steps wait at the gate, and that renders chat with a template if given one. */
  static final class GatedModel extends ScriptedModel {
    private final Gate gate;
    private final int contextLength;
    private final ChatTemplate template;

    GatedModel(String name, List<String> tokens, Gate gate, int contextLength) {
      this(name, tokens, gate, contextLength, null);
    }

    GatedModel(String name, List<String> tokens, Gate gate, int contextLength, ChatTemplate template) {
      super(name, tokens);
      this.gate = gate;
      this.contextLength = contextLength;
      this.template = template;
    }

    @Override
    public int[] renderChat(List<ChatMessage> messages, ChatTemplateArgs args) {
      if (template == null) return super.renderChat(messages, args);
      return template.render(messages, args).codePoints().map(c -> ScriptedTokenizer.idOf(Character.toString(c))).toArray();
    }

    @Override
    public int contextLength() {
      return contextLength;
    }

    @Override
    public int[] forward(List<Sequence> batch, int maxPrefillTokens) {
      gate.pass();
      return super.forward(batch, maxPrefillTokens);
    }
  }
}
