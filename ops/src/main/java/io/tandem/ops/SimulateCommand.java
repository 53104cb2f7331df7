package io.tandem.ops;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.Props;
import akka.actor.typed.eventstream.EventStream;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.tandem.inference.scripted.LatencyModel;
import io.tandem.inference.scripted.ScriptGenerator;
import io.tandem.ops.cluster.NodeOptions;
import io.tandem.orchestrator.session.Mode;
import io.tandem.orchestrator.session.SessionEvent;
import io.tandem.orchestrator.session.SessionRequest;
import io.tandem.orchestrator.session.SessionRunner;
import io.tandem.orchestrator.session.StepTimings;
import io.tandem.orchestrator.session.WorkerDirectory;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.config.SpeculativeConfig;
import io.tandem.protocol.text.Plural;
import io.tandem.protocol.worker.WorkerProtocol;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tandem simulate}: sizes a deployment. Runs the real session and worker actors in several
 * ActorSystems in this JVM, forming a real Akka Cluster on loopback (orchestrator nodes, one node
 * of small workers, one node per large worker), on simulated models whose step costs are the
 * paper's setting (a 1.5B small and a 32B large model on one GPU each, see
 * {@code profiles/*.json}), and measures throughput, large-worker utilization, queueing delay and
 * takeovers per second at each number of large workers.
 */
@Command(
    name = "simulate",
    mixinStandardHelpOptions = true,
    description = "Simulate a cluster at scale: sessions over simulated 1.5B/32B workers; throughput, utilization, queueing by number of large workers.")
public final class SimulateCommand implements Callable<Integer> {

  @Option(names = "--sessions", defaultValue = "2000", description = "Sessions per run. Default: ${DEFAULT-VALUE}.")
  int sessions;

  @Option(names = "--concurrency", defaultValue = "768", description = "Sessions in flight at once (closed loop). Default: ${DEFAULT-VALUE}.")
  int concurrency;

  @Option(names = "--orchestrators", defaultValue = "2", description = "Orchestrator nodes; sessions are spread over them. Default: ${DEFAULT-VALUE}.")
  int orchestrators;

  @Option(names = "--small-workers", defaultValue = "16", description = "Small-model workers (one GPU each, on one node). Default: ${DEFAULT-VALUE}.")
  int smallWorkers;

  @Option(names = "--large-workers", split = ",", defaultValue = "1,2,4", description = "Large-model workers, one node each (a list sweeps). Default: ${DEFAULT-VALUE}.")
  List<Integer> largeWorkers;

  @Option(names = "--latency", defaultValue = "h100",
      description = "Latency profile: a bundled name (h100: profiles/h100-small.json, h100-large.json) or SMALL.json,LARGE.json. Default: ${DEFAULT-VALUE}.")
  String latency;

  @Option(names = "--script-source", defaultValue = "generated:300",
      description = "The models' scripts: generated:TOKENS (reasoning-shaped, ScriptGenerator) or SMALL.json,LARGE.json ({\"tokens\": [...]}). Default: ${DEFAULT-VALUE}.")
  String scriptSource;

  @Option(names = "--seed", defaultValue = "4",
      description = "Seed of the generated scripts (the large model's is seed + 1); changes how often the large model takes over. Default: ${DEFAULT-VALUE}.")
  long seed;

  @Option(names = "--small-batch", defaultValue = "64", description = "Max sequences per small-worker step. Default: ${DEFAULT-VALUE}.")
  int smallBatch;

  @Option(names = "--large-batch", defaultValue = "64", description = "Max sequences per large-worker step. Default: ${DEFAULT-VALUE}.")
  int largeBatch;

  @Option(names = "--time-scale", defaultValue = "1.0",
      description = "Wall time per unit of modelled time (0.5: run twice as fast). Figures are reported in modelled time,"
          + " with Tandem's own work (actors, messages), which runs at its own speed, counted 1/scale times: below 1 they read"
          + " lower (on a loaded 2-core machine, 11%% fewer tokens/s at 0.5, 36%% at 0.2); compare figures of one time scale."
          + " Default: ${DEFAULT-VALUE}.")
  double timeScale;

  @Option(names = "--skip-takeover-above", defaultValue = "off",
      description = "The sessions' overload policy (tandem.session.skip-takeover-above): skip an optional takeover or verification when the large worker's queue would hold it longer than this (modelled time; a duration with its unit, e.g. 500ms or 2s); off: never. Default: ${DEFAULT-VALUE}.")
  String skipTakeoverAbove;

  @Option(names = "--json", description = "Print one JSON object instead of a table.")
  boolean json;

  private static final ObjectMapper JSON = new ObjectMapper();
  /**
   * Paragraph lengths of the generated scripts: with the paper's config about one trigger in four
   * leads to a 20-token takeover, so one session alone runs about 3x faster than the 32B model
   * writing everything on the h100 profile, which is the paper's estimate for 1.5B + 32B.
   */
  private static final int MIN_WORDS = 10, MAX_WORDS = 40;

  @Override
  public Integer call() throws Exception {
    UsageError.atLeast("--sessions", sessions, 1);
    UsageError.atLeast("--concurrency", concurrency, 1);
    // Each orchestrator and each large worker is a node of its own, an ActorSystem in this JVM (tester53a: 100 large
    // workers took 9 GB and had started 66 nodes after 150 s, without a word): bounded to what a machine runs.
    nodes("--orchestrators", orchestrators);
    // One node's worker actors, each with a simulated model (tester53f: 5,000 ran 107 s and 3 GB, then "did not start").
    if (smallWorkers < 1 || smallWorkers > MAX_SMALL_WORKERS)
      throw new UsageError("--small-workers " + smallWorkers + ": give a whole number from 1 to " + MAX_SMALL_WORKERS
          + " (the small workers are actors of one node in this one process)");
    for (int n : largeWorkers) nodes("--large-workers", n);
    UsageError.within("--small-batch", smallBatch, 1, io.tandem.worker.WorkerSettings.MAX_BATCH);
    UsageError.within("--large-batch", largeBatch, 1, io.tandem.worker.WorkerSettings.MAX_BATCH);
    // A subnormal scale made every figure Infinity or NaN (tester53f: 1e-320).
    if (!(timeScale >= MIN_TIME_SCALE && timeScale <= 1 / MIN_TIME_SCALE))
      throw new UsageError("--time-scale " + timeScale + ": give a number from " + fmt(MIN_TIME_SCALE) + " to "
          + fmt(1 / MIN_TIME_SCALE) + " (1: real time)");
    skipAboveWall = skipAboveWall();
    requireCluster(ModelOptions.baseConfig());
    // The nodes' own settings are checked before anything is printed or started, as every node is given them.
    TandemNode.Settings.of(nodeConfig(List.of("orchestrator"), 0, List.of()));
    // The models' time is scaled, Tandem's own work is not: in modelled time it weighs 1/scale times (tester46c: at 0.01,
    // 88 tokens/s against 2,228 at 1, without a word).
    if (timeScale > 1)
      System.err.printf(java.util.Locale.ROOT, "tandem simulate: --time-scale %s: the models run %s times slower than"
          + " modelled, and the run takes about as many times longer; Tandem's own work (actors, messages) does not slow,"
          + " and counts %s times less in modelled time: figures read higher than at 1; compare runs of one time scale%n",
          timeScale, fmt(timeScale), fmt(timeScale));
    if (timeScale < 1)
      System.err.printf(java.util.Locale.ROOT, "tandem simulate: --time-scale %s: the models run %s times faster, Tandem's own"
          + " work (actors, messages) does not, and counts %s times as much in modelled time: figures read lower than at 1;"
          + " compare runs of one time scale%n", timeScale, fmt(1 / timeScale), fmt(1 / timeScale));
    // Ctrl-C or SIGTERM: one line, instead of every session of the simulated cluster logging its node's stop (tester46f:
    // 400-800 INFO lines, and an "interrupted" line only by chance).
    Thread interrupted = new Thread(() -> {
      for (String logger : List.of("io.tandem", "akka"))
        ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(logger)).setLevel(ch.qos.logback.classic.Level.OFF);
      System.err.println("tandem simulate: interrupted; the rows printed above stand");
    });
    Runtime.getRuntime().addShutdownHook(interrupted);
    try (ScratchFolder scratch = ScratchFolder.create("tandem-simulate")) {
      return simulate(models(scratch.path()));
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(interrupted);
      } catch (IllegalStateException stopping) {
        // Stopping now: the hook says so.
      }
    }
  }

  /** Runs the sweep over {@code --large-workers} on the models {@code specs} (small, large) names, printing its table or JSON. */
  private int simulate(String[] specs) throws Exception {
    if (!json) {
      System.out.printf("tandem simulate: %s (%d in flight) over %s, %s; latency %s, scripts %s, time scale %.3g, skip takeovers above %s%n",
          Plural.count(sessions, "session"), Math.min(concurrency, sessions), Plural.count(orchestrators, "orchestrator"),
          Plural.count(smallWorkers, "small worker"), latency, scriptSource, timeScale, skipTakeoverAbove);
      System.out.println("figures are in modelled time (wall time / time scale); measured from 10% of sessions done to the last one started"
          + " (the saturated part); queue delay: waiting time of large-model requests in a large worker's queue");
      // Shares as percentages, as the README's table has them (tester53a: two fractions beside a percentage).
      System.out.printf("%6s %12s %8s %12s %14s %14s %14s %12s %10s %13s %9s%n", "large", "tokens/s", "speedup", "large util %",
          "queue p50 ms", "queue p99 ms", "small q p99 ms", "takeovers/s", "skipped %", "large share %", "wall s");
    }
    ArrayNode runs = JSON.createArrayNode();
    Double firstTps = null;
    for (int large : largeWorkers) {
      ObjectNode r = runOnce(specs, large);
      runs.add(r);
      if (firstTps == null) firstTps = r.get("tokens_per_s").asDouble();
      r.put("speedup_vs_first", r.get("tokens_per_s").asDouble() / firstTps);
      if (!json)
        System.out.printf("%6d %12.0f %7.2fx %11.1f%% %14.1f %14.1f %14.1f %12.2f %9.1f%% %12.1f%% %9.1f%n", large, r.get("tokens_per_s").asDouble(),
            r.get("speedup_vs_first").asDouble(), 100 * r.get("large_utilization").asDouble(), r.get("queue_delay_p50_ms").asDouble(), r.get("queue_delay_p99_ms").asDouble(),
            r.get("small_queue_delay_p99_ms").asDouble(), r.get("takeovers_per_s").asDouble(), 100 * r.get("takeovers_skipped_share").asDouble(),
            100 * r.get("large_token_share").asDouble(), r.get("wall_s").asDouble());
    }
    if (json) {
      ObjectNode root = JSON.createObjectNode();
      root.put("sessions", sessions).put("concurrency", concurrency).put("orchestrators", orchestrators)
          .put("small_workers", smallWorkers).put("latency", latency).put("script_source", scriptSource)
          .put("time_scale", timeScale).put("large_batch", largeBatch).put("small_batch", smallBatch)
          .put("skip_takeover_above", skipTakeoverAbove);
      root.set("runs", runs);
      System.out.println(JSON.writeValueAsString(root));
    }
    return 0;
  }

  /** The most small workers: actors of one node, each with its simulated model. */
  static final int MAX_SMALL_WORKERS = 512;

  /** The smallest {@code --time-scale}, and 1 over it the largest. */
  static final double MIN_TIME_SCALE = 1e-6;

  /** The most nodes of one kind a simulated cluster has: each is an ActorSystem in this JVM. */
  static final int MAX_NODES = 32;

  private static void nodes(String option, int n) {
    if (n < 1 || n > MAX_NODES)
      throw new UsageError(option + " " + n + ": give a whole number from 1 to " + MAX_NODES + " (each is a node of the"
          + " simulated cluster, an actor system in this one process)");
  }

  /** A factor in a message: 5, 2.5, 1e+09. */
  static String fmt(double x) {
    // Zeros after a decimal point only (tester53a: 100 was written 1, and 200 2).
    return String.format(java.util.Locale.ROOT, "%.3g", x).replaceAll("(\\.\\d*?)0+(e|$)", "$1$2").replaceAll("\\.(e|$)", "$1");
  }

  /** Writes the scripts and the (time-scaled) latency profiles; the model specs for small and large. */
  private String[] models(Path dir) throws Exception {
    Path small = dir.resolve("small.json"), large = dir.resolve("large.json");
    if (scriptSource.startsWith("generated:")) {
      String count = scriptSource.substring("generated:".length());
      if (!count.matches("[1-9]\\d{0,8}"))
        throw new UsageError("--script-source " + scriptSource + ": give generated:TOKENS (a whole number >= 1) or SMALL.json,LARGE.json");
      int tokens = Integer.parseInt(count);
      Files.writeString(small, JSON.writeValueAsString(Map.of("tokens", ScriptGenerator.generate(seed, tokens, MIN_WORDS, MAX_WORDS, false))));
      Files.writeString(large, JSON.writeValueAsString(Map.of("tokens", ScriptGenerator.generate(seed + 1, tokens, MIN_WORDS, MAX_WORDS, true))));
    } else {
      String[] p = scriptSource.split(",");
      if (p.length != 2) throw new UsageError("--script-source " + scriptSource + ": give generated:TOKENS or SMALL.json,LARGE.json");
      small = Path.of(p[0]);
      large = Path.of(p[1]);
    }
    LatencyModel[] lat = new LatencyModel[2];
    if (latency.contains(",")) {
      // Two files, as --script-source takes two (tester44d: "--latency ," was "Index 0 out of bounds for length 0").
      String[] p = latency.split(",", -1);
      if (p.length != 2 || p[0].isBlank() || p[1].isBlank())
        throw new UsageError("--latency " + latency + ": give h100, or SMALL.json,LARGE.json (two files)");
      for (String f : p)
        ModelOptions.requireInputFile("--latency", Path.of(f), "give h100, or SMALL.json,LARGE.json (two latency profiles)");
      lat[0] = LatencyModel.load(Path.of(p[0]));
      lat[1] = LatencyModel.load(Path.of(p[1]));
    } else {
      if (!latency.equals("h100"))
        throw new UsageError("--latency " + latency + ": no such profile; give h100 (the bundled one), or two files"
            + " SMALL.json,LARGE.json (one latency profile per role)");
      lat[0] = bundled(latency + "-small.json");
      lat[1] = bundled(latency + "-large.json");
    }
    Path ls = dir.resolve("small-latency.json"), ll = dir.resolve("large-latency.json");
    Files.writeString(ls, scaled(lat[0]));
    Files.writeString(ll, scaled(lat[1]));
    return new String[] {"simulated:" + small + "?latency=" + ls, "simulated:" + large + "?latency=" + ll};
  }

  private static LatencyModel bundled(String name) throws Exception {
    try (InputStream in = SimulateCommand.class.getResourceAsStream("/profiles/" + name)) {
      if (in == null) throw new IllegalStateException("the bundled latency profile profiles/" + name + " is missing from the jar");
      return JSON.readValue(in, LatencyModel.class);
    }
  }

  private String scaled(LatencyModel m) throws Exception {
    return JSON.writeValueAsString(Map.of("decode_ms_per_step", m.decodeMsPerStep() * timeScale,
        "prefill_ms_per_token", m.prefillMsPerToken() * timeScale, "batch_growth", m.batchGrowth()));
  }

  /** --skip-takeover-above in wall time (the simulated models run at --time-scale), or "off". */
  private String skipAboveWall;

  private String skipAboveWall() {
    if (skipTakeoverAbove.equals("off")) return "off";
    Duration d;
    try {
      d = io.tandem.protocol.config.ConfigSection.duration("--skip-takeover-above", skipTakeoverAbove);
    } catch (IllegalArgumentException e) {
      throw new UsageError(e.getMessage() + "; or give off to never skip", e);
    }
    if (d.isNegative()) throw new UsageError("--skip-takeover-above " + skipTakeoverAbove + ": give off or a duration >= 0");
    return Math.round(d.toNanos() * timeScale) + "ns";
  }

  /**
   * Refuses {@code tandem.cluster.enabled = off} set by the user: the simulator runs its nodes as one
   * cluster on loopback, placing each itself (the placement flags {@code serve} would name beside
   * it are none of simulate's).
   *
   * @throws io.tandem.protocol.config.InvalidConfigException naming the setting and what to do
   */
  private static void requireCluster(Config base) {
    String alone = new NodeOptions(List.of(), null, List.of()).aloneBy(base);
    if (alone != null)
      throw UsageError.of("tandem.cluster.enabled", alone + ": simulate runs its nodes (orchestrators, small and large"
          + " workers) as one cluster on loopback; leave the setting out, or set it on", null);
  }

  private Config nodeConfig(List<String> roles, int port, List<String> seeds) {
    Config base = ConfigFactory.parseString("tandem.session.skip-takeover-above = \"" + skipAboveWall + "\"\n" + """
        akka.loglevel = WARNING
        # Many nodes share a few cores here: a late heartbeat is not a crash.
        akka.cluster.failure-detector.acceptable-heartbeat-pause = 60s
        akka.cluster.split-brain-resolver.stable-after = 60s
        tandem.session.publish-step-timings = on
        tandem.session.step-timeout = 30m
        tandem.session.worker-wait = 60s
        tandem.large.queue-limit = 100000
        tandem.large.per-tenant-queue-limit = 100000
        tandem.small.queue-limit = 100000
        """).withFallback(ModelOptions.baseConfig());
    return new NodeOptions(roles, port, seeds).apply(base);
  }

  private ObjectNode runOnce(String[] specs, int largeCount) throws Exception {
    List<TandemNode> nodes = new ArrayList<>();
    try {
      int seedPort;
      try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
        seedPort = s.getLocalPort();
      }
      List<String> seeds = List.of("127.0.0.1:" + seedPort);
      List<TandemNode> orch = new ArrayList<>();
      for (int i = 0; i < orchestrators; i++) {
        TandemNode n = TandemNode.start("sim", nodeConfig(List.of("orchestrator"), i == 0 ? seedPort : 0, i == 0 ? List.of() : seeds),
            Map.of(), true);
        nodes.add(n);
        orch.add(n);
      }
      Config smallConfig = nodeConfig(List.of("small"), 0, seeds);
      Map<Role, RoleSpec> smallRoles = new EnumMap<>(Role.class);
      smallRoles.put(Role.small, new RoleSpec(specs[0], devices(smallWorkers),
          new io.tandem.worker.WorkerSettings(smallBatch, 100_000, 64L << 30, true), 100_000));
      nodes.add(TandemNode.start("sim", smallConfig, smallRoles, false));
      for (int i = 0; i < largeCount; i++) {
        Map<Role, RoleSpec> largeRoles = new EnumMap<>(Role.class);
        largeRoles.put(Role.large, new RoleSpec(specs[1], List.of("gpu0"),
            new io.tandem.worker.WorkerSettings(largeBatch, 100_000, 64L << 30, true), 100_000));
        nodes.add(TandemNode.start("sim", nodeConfig(List.of("large"), 0, seeds), largeRoles, false));
      }
      for (TandemNode n : nodes) n.awaitUp();
      // Every orchestrator must see every worker before the first session (no request into an empty listing).
      List<ActorRef<WorkerProtocol.Command>> largeRefs = new ArrayList<>();
      for (TandemNode o : orch) {
        awaitListed(o, Role.small, smallWorkers);
        largeRefs = awaitListed(o, Role.large, largeCount);
      }
      ConcurrentLinkedQueue<Timed> steps = new ConcurrentLinkedQueue<>();
      for (TandemNode o : orch) collect(o, steps);
      return drive(orch, largeRefs, steps, largeCount);
    } finally {
      for (int i = nodes.size() - 1; i >= 0; i--) nodes.get(i).close();
    }
  }

  private static List<String> devices(int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) out.add("gpu" + i);
    return out;
  }

  private static List<ActorRef<WorkerProtocol.Command>> awaitListed(TandemNode node, Role role, int count) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      WorkerDirectory.Workers w = AskPattern.<WorkerDirectory.Command, WorkerDirectory.Workers>ask(node.directory(),
          r -> new WorkerDirectory.GetWorkers(role, Set.of(), r), Duration.ofSeconds(60), node.system().scheduler())
          .toCompletableFuture().get(60, TimeUnit.SECONDS);
      if (w.workers().size() >= count) return new ArrayList<>(w.workers());
      if (System.nanoTime() > deadline)
        throw new IllegalStateException("only " + w.workers().size() + " of " + Plural.count(count, role + " worker")
            + " joined within 60 s");
      Thread.sleep(50); // polling the listing
    }
  }

  private static void collect(TandemNode node, ConcurrentLinkedQueue<Timed> into) {
    Behavior<StepTimings> b = Behaviors.receive(StepTimings.class).onMessage(StepTimings.class, s -> {
      into.add(new Timed(System.nanoTime(), s));
      return Behaviors.same();
    }).build();
    ActorRef<StepTimings> ref = node.system().systemActorOf(b, "simulate-steps", Props.empty());
    node.system().eventStream().tell(new EventStream.Subscribe<>(StepTimings.class, ref));
  }

  /** A step's figures and when the session had them. */
  private record Timed(long atNanos, StepTimings step) {}

  /** A session's end and when it came. */
  private record Ended(long atNanos, SessionEvent event) {}

  private ObjectNode drive(List<TandemNode> orch, List<ActorRef<WorkerProtocol.Command>> large,
      ConcurrentLinkedQueue<Timed> steps, int largeCount) throws Exception {
    SpeculativeConfig spec = SpeculativeConfig.fromHocon(ModelOptions.baseConfig());
    Semaphore slots = new Semaphore(concurrency);
    ConcurrentLinkedQueue<Ended> ended = new ConcurrentLinkedQueue<>();
    AtomicInteger done = new AtomicInteger();
    CompletableFuture<Void> all = new CompletableFuture<>();
    int warm = Math.max(1, sessions / 10);
    CompletableFuture<Long> windowStart = new CompletableFuture<>();
    AtomicLong firstFailure = new AtomicLong();
    long t0 = System.nanoTime();
    List<WorkerProtocol.WorkerStats> before = null;
    long startNanos = 0;
    for (int i = 0; i < sessions; i++) {
      slots.acquire();
      if (before == null && windowStart.isDone()) {
        before = stats(orch.get(0), large);
        startNanos = System.nanoTime();
      }
      TandemNode node = orch.get(i % orch.size());
      SessionRequest req = new SessionRequest("sim-" + i, "tenant-" + (i % 8),
          Prompt.chat(List.of(new ChatMessage("user", "Compute the sum."))), SamplingParams.GREEDY, 1_000_000, spec,
          Mode.speculative, false);
      SessionRunner.run(node.system(), node.sessions(), req, null).whenComplete((e, err) -> {
        ended.add(new Ended(System.nanoTime(), e));
        if (!(e instanceof SessionEvent.Finished)) firstFailure.compareAndSet(0, 1);
        if (done.incrementAndGet() == warm) windowStart.complete(System.nanoTime());
        slots.release();
        if (done.get() == sessions) all.complete(null);
      });
    }
    // The last session has started: the load stays saturated only until here.
    if (before == null) {
      before = stats(orch.get(0), large);
      startNanos = t0;
    }
    long endNanos = System.nanoTime();
    List<WorkerProtocol.WorkerStats> after = stats(orch.get(0), large);
    all.get(2, TimeUnit.HOURS);
    if (endNanos - startNanos < (System.nanoTime() - t0) / 4) {
      // Too few sessions for a steady state (--sessions not well above --concurrency): measure it all, and say so (tester49b:
      // the header's window was not the one used).
      System.err.printf("tandem simulate: %s for %d in flight: too few for a saturated part, so this row is of the whole"
          + " run; give --sessions well above --concurrency%n", Plural.count(sessions, "session"), concurrency);
      startNanos = t0;
      endNanos = System.nanoTime();
      before = zero(after);
      after = stats(orch.get(0), large);
    }
    double wall = (System.nanoTime() - t0) / 1e9;
    double window = (endNanos - startNanos) / 1e9;

    long tokens = 0, takeovers = 0, skipped = 0, failed = 0, inWindow = 0, largeTokens = 0;
    for (Ended e : ended) {
      if (!(e.event() instanceof SessionEvent.Finished f)) {
        failed++;
        continue;
      }
      if (e.atNanos() < startNanos || e.atNanos() > endNanos) continue;
      inWindow++;
      tokens += f.usage().completionTokens();
      takeovers += f.trace().counters().takeovers();
      skipped += f.trace().counters().takeoversSkipped();
      largeTokens += f.trace().counters().largeTokens();
    }
    if (failed > 0)
      System.err.println("tandem simulate: " + failed + " of " + Plural.count(sessions, "session") + " failed (see the log above)");
    double busy = 0, up = 0;
    for (int i = 0; i < after.size(); i++) {
      // Each worker's own clock: busy and up time come from the same snapshot.
      busy += after.get(i).busyNanos() - before.get(i).busyNanos();
      up += after.get(i).upNanos() - before.get(i).upNanos();
    }
    List<Double> largeQ = new ArrayList<>(), smallQ = new ArrayList<>();
    for (Timed t : steps) {
      if (t.atNanos() < startNanos || t.atNanos() > endNanos) continue;
      StepTimings s = t.step();
      (s.role() == Role.large ? largeQ : smallQ).add(s.queueNanos() / 1e6 / timeScale);
    }
    double modelWindow = window / timeScale;
    ObjectNode o = JSON.createObjectNode();
    o.put("large_workers", largeCount)
        .put("tokens_per_s", tokens / modelWindow)
        .put("large_utilization", up == 0 ? 0 : busy / up)
        .put("queue_delay_p50_ms", percentile(largeQ, 0.50))
        .put("queue_delay_p99_ms", percentile(largeQ, 0.99))
        .put("small_queue_delay_p99_ms", percentile(smallQ, 0.99))
        .put("takeovers_per_s", takeovers / modelWindow)
        .put("takeovers_per_session", inWindow == 0 ? 0 : takeovers / (double) inWindow)
        .put("takeovers_skipped_per_session", inWindow == 0 ? 0 : skipped / (double) inWindow)
        .put("takeovers_skipped_share", takeovers + skipped == 0 ? 0 : skipped / (double) (takeovers + skipped))
        .put("large_token_share", tokens == 0 ? 0 : largeTokens / (double) tokens)
        .put("sessions_in_window", inWindow)
        .put("failed_sessions", failed)
        .put("window_s", modelWindow)
        .put("wall_s", wall);
    return o;
  }

  private static List<WorkerProtocol.WorkerStats> stats(TandemNode node, List<ActorRef<WorkerProtocol.Command>> workers)
      throws Exception {
    return WorkerStatsCollector.ask(node, workers);
  }

  private static List<WorkerProtocol.WorkerStats> zero(List<WorkerProtocol.WorkerStats> like) {
    List<WorkerProtocol.WorkerStats> out = new ArrayList<>();
    for (WorkerProtocol.WorkerStats w : like)
      out.add(new WorkerProtocol.WorkerStats(w.worker(), w.role(), w.model(), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    return out;
  }

  static double percentile(List<Double> xs, double p) {
    if (xs.isEmpty()) return 0;
    double[] s = xs.stream().mapToDouble(Double::doubleValue).toArray();
    Arrays.sort(s);
    return s[Math.min(s.length - 1, (int) Math.ceil(p * s.length) - 1)];
  }
}
