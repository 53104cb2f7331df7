package io.tandem.ops;

import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Join;
import akka.cluster.typed.Leave;
import com.typesafe.config.Config;
import io.tandem.protocol.config.ConfigSection;
import io.tandem.protocol.config.InvalidConfigException;
import io.tandem.inference.LanguageModel;
import io.tandem.inference.Models;
import io.tandem.ops.cluster.ClusterConfig;
import io.tandem.ops.cluster.DowningReason;
import io.tandem.ops.cluster.OrchestratorWatch;
import io.tandem.orchestrator.session.RoleSupply;
import io.tandem.orchestrator.session.SessionSettings;
import io.tandem.orchestrator.session.Sessions;
import io.tandem.orchestrator.session.WorkerDirectory;
import io.tandem.protocol.Role;
import io.tandem.protocol.text.Seconds;
import io.tandem.worker.EngineSettings;
import io.tandem.worker.EngineSpec;
import io.tandem.worker.ModelWorker;
import io.tandem.worker.WorkerDrain;
import io.tandem.worker.large.LargeWorker;
import io.tandem.worker.small.SmallWorker;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * One Tandem node: an ActorSystem with the session parent and worker directory (role
 * orchestrator) and one worker actor per device of each model role it plays. With
 * {@code tandem.cluster.enabled = on} the node is a member of an Akka Cluster (see
 * {@link ClusterConfig}): it joins its seed nodes, or founds a cluster of its own when it has none.
 */
public final class TandemNode implements AutoCloseable {

  private final ActorSystem<Void> system;
  private final ActorRef<Sessions.Command> sessions;
  private final ActorRef<WorkerDirectory.Command> directory;
  /** The exit line of a node the split brain resolver downed, from the membership it saw then; null until then. */
  private final AtomicReference<String> downedBecause;

  private TandemNode(ActorSystem<Void> system, ActorRef<Sessions.Command> sessions,
      ActorRef<WorkerDirectory.Command> directory, AtomicReference<String> downedBecause) {
    this.system = system;
    this.sessions = sessions;
    this.directory = directory;
    this.downedBecause = downedBecause;
  }

  /**
   * Starts a node named {@code name} with {@code config}; {@code roles} maps each model role this
   * node hosts to its spec (an empty map: a node of sessions only).
   */
  public static TandemNode start(String name, Config config, Map<Role, RoleSpec> roles, boolean orchestrator) {
    boolean clustered = config.hasPath("tandem.cluster.enabled") && config.getBoolean("tandem.cluster.enabled");
    // Members of one cluster must share a system name; {@code name} then only labels the node.
    if (clustered) name = ClusterConfig.systemName(config);
    config = withDrainTime(ClusterConfig.resolve(config));
    CompletableFuture<ActorRef<Sessions.Command>> sessionsRef = new CompletableFuture<>();
    CompletableFuture<ActorRef<WorkerDirectory.Command>> directoryRef = new CompletableFuture<>();
    java.util.List<CompletableFuture<String>> loads = new java.util.concurrent.CopyOnWriteArrayList<>();
    // Completed at the end of the guardian's setup, once every worker (and its load future) exists.
    CompletableFuture<Void> spawned = new CompletableFuture<>();
    Settings settings = Settings.of(config);
    SessionSettings sessionSettings = settings.session();
    Duration loadPoll = settings.loadPoll();
    EngineSettings engineSettings = settings.engine();
    int cpuWorkers = cpuWorkers(roles);
    AtomicReference<String> downedBecause = new AtomicReference<>();
    Duration noOrchestratorWarning = clustered ? config.getDuration("tandem.cluster.no-orchestrator-warning-after") : null;
    Behavior<Void> guardian = Behaviors.setup(ctx -> {
      if (clustered) ctx.spawn(DowningReason.recorder(downedBecause), "downing-reason");
      if (orchestrator) {
        ActorRef<WorkerDirectory.Command> dir = ctx.spawn(WorkerDirectory.create(loadPoll), "workers");
        directoryRef.complete(dir);
        sessionsRef.complete(ctx.spawn(Sessions.create(dir, sessionSettings), "sessions"));
      } else {
        directoryRef.complete(null);
        sessionsRef.complete(null);
        if (clustered) ctx.spawn(OrchestratorWatch.create(noOrchestratorWarning), "orchestrator-watch");
      }
      String oversubscribed = oversubscription(roles, cpuWorkers, Runtime.getRuntime().availableProcessors());
      if (oversubscribed != null) ctx.getLog().warn(oversubscribed);
      for (Map.Entry<Role, RoleSpec> e : roles.entrySet()) {
        Role role = e.getKey();
        RoleSpec spec = e.getValue();
        for (int i = 0; i < spec.devices().size(); i++) {
          String device = spec.devices().get(i);
          CompletableFuture<String> loaded = new CompletableFuture<>();
          loads.add(loaded);
          // A remote engine may be named as the role's model or as one of its devices (one worker per endpoint).
          String engineSpec = EngineSpec.isEngine(device) ? device : spec.model();
          if (EngineSpec.isEngine(engineSpec)) {
            spawnEngine(ctx, role, spec, engineSpec, i, engineSettings, loaded);
            continue;
          }
          int threads = intraOpThreads(spec.threads(), cpuWorkers, Runtime.getRuntime().availableProcessors());
          Supplier<LanguageModel> model = () -> Models.open(spec.model(), device, spec.precision(), threads);
          ctx.spawn(
              role == Role.large
                  ? LargeWorker.create(model, spec.settings(), spec.perTenantQueueLimit(), loaded)
                  : SmallWorker.create(model, spec.settings(), loaded),
              // Two replicas may share a device (e.g. [cpu, cpu]): the index keeps names unique.
              role + "-worker-" + i + "-" + device,
              DispatcherSelector.fromConfig(ModelWorker.DISPATCHER));
        }
      }
      spawned.complete(null);
      return Behaviors.empty();
    });
    ActorSystem<Void> system = ActorSystem.create(guardian, name, config);
    if (clustered && config.getStringList("akka.cluster.seed-nodes").isEmpty()) {
      Cluster cluster = Cluster.get(system);
      cluster.manager().tell(Join.create(cluster.selfMember().address()));
    }
    try {
      TandemNode node = new TandemNode(system, sessionsRef.get(60, TimeUnit.SECONDS), directoryRef.get(60, TimeUnit.SECONDS),
          downedBecause);
      // Every worker opens its model before the node counts as started; the first failure is the node's.
      spawned.get(60, TimeUnit.SECONDS);
      for (CompletableFuture<String> l : loads) l.get(2, TimeUnit.HOURS);
      return node;
    } catch (java.util.concurrent.ExecutionException e) {
      system.terminate();
      Throwable cause = e.getCause();
      throw new IllegalStateException(cause.getMessage(), cause);
    } catch (Exception e) {
      system.terminate();
      throw new IllegalStateException("node " + name + " did not start: " + e.getMessage(), e);
    }
  }

  /** Akka's timeout for the shutdown phase the HTTP server's and the workers' drains run in. */
  static final String DRAIN_PHASE_TIMEOUT = "akka.coordinated-shutdown.phases.service-requests-done.timeout";

  /**
   * {@code config} with {@value #DRAIN_PHASE_TIMEOUT} long enough for the drains that run in that
   * phase: Akka ends the phase at its timeout whatever its tasks are doing, so a {@code
   * tandem.worker.shutdown-deadline}, or a {@code tandem.http.shutdown-deadline} plus {@code
   * shutdown-grace}, set past it would be cut short without a word (requests cut off instead of
   * answered). The timeout becomes the longer drain plus 5 s when it is shorter; a value that cannot
   * be read is left to the settings that report it.
   */
  /** How long a node's drain lasts at most from its first SIGTERM, and the setting (or settings) that say so. */
  /**
   * @param workers whether the node runs model workers, each of which, stopping, waits for its forward pass in flight
   *     (up to {@link io.tandem.worker.ModelWorker#STOP_WAIT_SECONDS}) after the drain
   */
  record DrainLimit(Duration duration, String setBy, boolean workers) {
    DrainLimit(Duration duration, String setBy) {
      this(duration, setBy, false);
    }
  }

  /**
   * This node's {@link DrainLimit}: the longer of the drains it runs, an orchestrator's ({@code
   * tandem.http.shutdown-deadline} plus {@code shutdown-grace}) and, on a cluster member, its workers'
   * ({@value WorkerDrain#DEADLINE_KEY}), within the {@value #DRAIN_PHASE_TIMEOUT} Akka ends them at
   * (a tester's serve with an 8 s deadline was said to drain within 39 s, the phase's timeout).
   *
   * @param config the node's config, {@link #withDrainTime} applied
   */
  static DrainLimit drainLimit(Config config, boolean orchestrator, boolean workers) {
    Duration phase = config.getDuration(DRAIN_PHASE_TIMEOUT);
    Duration longest = null;
    String setBy = null;
    if (orchestrator) {
      longest = config.getDuration("tandem.http.shutdown-deadline").plus(config.getDuration("tandem.http.shutdown-grace"));
      setBy = "tandem.http.shutdown-deadline plus shutdown-grace";
    }
    boolean clustered = config.hasPath("tandem.cluster.enabled") && config.getBoolean("tandem.cluster.enabled");
    if (workers && clustered) {
      Duration w = WorkerDrain.deadline(config);
      if (longest == null || w.compareTo(longest) > 0) {
        longest = w;
        setBy = WorkerDrain.DEADLINE_KEY;
      }
    }
    return longest == null || longest.compareTo(phase) >= 0 ? new DrainLimit(phase, DRAIN_PHASE_TIMEOUT, workers)
        : new DrainLimit(longest, setBy, workers);
  }

  static Config withDrainTime(Config config) {
    Duration configured = config.hasPath(DRAIN_PHASE_TIMEOUT) ? config.getDuration(DRAIN_PHASE_TIMEOUT)
        : config.getDuration("akka.coordinated-shutdown.default-phase-timeout");
    Duration drains = Duration.ZERO;
    try {
      if (config.hasPath(WorkerDrain.DEADLINE_KEY)) drains = WorkerDrain.deadline(config);
      if (config.hasPath("tandem.http.shutdown-deadline")) {
        Duration http = config.getDuration("tandem.http.shutdown-deadline").plus(config.getDuration("tandem.http.shutdown-grace"));
        if (http.compareTo(drains) > 0) drains = http;
      }
    } catch (RuntimeException unreadable) {
      return config;
    }
    Duration needed = drains.plusSeconds(5);
    if (configured.compareTo(needed) >= 0) return config;
    return config.withValue(DRAIN_PHASE_TIMEOUT, com.typesafe.config.ConfigValueFactory.fromAnyRef(needed.toMillis() + "ms"));
  }

  /**
   * The intra-op threads of a worker's forward passes: a role's {@code threads} when set, else
   * (0) the cores divided among the model workers this node runs on the CPU, at least one each, so
   * that workers whose passes overlap (the two roles of a speculative session pipeline, replicas)
   * do not oversubscribe the cores, as vLLM's CPU backend gives each worker cores of its own.
   */
  static int intraOpThreads(int configured, int cpuWorkers, int cores) {
    if (configured > 0) return configured;
    return Math.max(1, cores / Math.max(1, cpuWorkers));
  }

  /**
   * The warning for intra-op threads set so that the node's CPU workers together run more of them
   * than it has cores, or null (also when no role sets {@code threads}: the default never gives a
   * worker more than its share). More threads than cores only makes each forward pass wait for its
   * own threads (one {@code generate} of the demo pair took 22 s on 2 cores with 1,024).
   */
  static String oversubscription(Map<Role, RoleSpec> roles, int cpuWorkers, int cores) {
    int total = 0;
    boolean set = false;
    StringBuilder settings = new StringBuilder();
    for (Map.Entry<Role, RoleSpec> e : roles.entrySet()) {
      RoleSpec spec = e.getValue();
      int workers = cpuWorkers(Map.of(e.getKey(), spec));
      if (workers == 0) continue;
      set |= spec.threads() > 0;
      total += workers * intraOpThreads(spec.threads(), cpuWorkers, cores);
      settings.append(settings.length() == 0 ? "" : ", ").append("tandem.").append(e.getKey()).append(".threads = ").append(spec.threads());
    }
    if (!set || total <= cores) return null;
    return total + " intra-op threads across " + cpuWorkers + " CPU worker(s) (" + settings + ") on " + cores
        + " cores: forward passes oversubscribe the cores and run slower; 0 (the default) divides the cores among the workers";
  }

  /** How many model workers the roles run in this process on the CPU (engines and GPUs not counted). */
  static int cpuWorkers(Map<Role, RoleSpec> roles) {
    int n = 0;
    for (RoleSpec spec : roles.values()) {
      if (EngineSpec.isEngine(spec.model()) || spec.model().startsWith("scripted:") || spec.model().startsWith("simulated:"))
        continue;
      for (String device : spec.devices()) {
        if (!EngineSpec.isEngine(device) && device.startsWith("cpu")) n++;
      }
    }
    return n;
  }

  private static void spawnEngine(ActorContext<Void> ctx, Role role, RoleSpec spec, String engineSpec, int index,
      EngineSettings engine, CompletableFuture<String> loaded) {
    EngineSpec es;
    try {
      es = EngineSpec.parse(engineSpec);
    } catch (IllegalArgumentException e) {
      loaded.completeExceptionally(e);
      return;
    }
    ctx.spawn(role == Role.large
            ? LargeWorker.engine(es, spec.settings(), spec.perTenantQueueLimit(), engine, loaded)
            : SmallWorker.engine(es, spec.settings(), engine, loaded),
        role + "-engine-" + index + "-" + es.endpoint().replace(':', '-'),
        DispatcherSelector.fromConfig(ModelWorker.DISPATCHER));
  }

  /**
   * The node-wide settings {@link #start} reads besides the roles': the sessions' ({@code
   * tandem.session}, {@code tandem.routing}), how often worker loads are polled ({@code
   * tandem.routing.load-poll-interval}; zero: never), how remote engines are talked to ({@code
   * tandem.engine}) and how long a stopping node's workers drain ({@code tandem.worker.shutdown-deadline}). Commands read them before any model loads, so that a bad value comes alone.
   */
  record Settings(SessionSettings session, Duration loadPoll, EngineSettings engine) {

    /** @throws IllegalArgumentException naming the full key of a value that cannot be used */
    static Settings of(Config config) {
      Duration loadPoll = config.hasPath("tandem.routing.load-poll-interval") ? ConfigSection.read(config, "tandem.routing",
          r -> ConfigSection.notNegative("tandem.routing.load-poll-interval", r.getDuration("load-poll-interval"), "never")) : Duration.ZERO;
      if (config.hasPath(WorkerDrain.DEADLINE_KEY)) WorkerDrain.deadline(config);
      return new Settings(SessionSettings.fromConfig(config), loadPoll, EngineSettings.fromConfig(config));
    }
  }

  /** The roles a node may play: sessions and the HTTP API, and the two model roles. */
  public static final List<String> ROLES = List.of("orchestrator", Role.small.name(), Role.large.name());

  /**
   * The roles this node plays, {@code tandem.roles}, read before anything else decides on them (a
   * role missing from this list is one the node does not play).
   *
   * @throws InvalidConfigException {@code tandem.roles: unknown role
   *     'fooo'; give one or more of orchestrator, small, large}, or {@code tandem.roles must be a
   *     list, ...} for a value that is no list (with the {@code -D} options that give one)
   */
  public static List<String> roles(Config config) {
    List<String> roles = ConfigSection.read(config, "tandem", c -> c.getStringList("roles"));
    for (String r : roles)
      if (!ROLES.contains(r)) {
        // Named as --roles names a role misspelt (tester58d: the setting gave no "did you mean" where the flag did).
        String meant = r.strip().equalsIgnoreCase("all") ? String.join(", ", ROLES)
            : io.tandem.protocol.config.KeySuggestions.nearest(r.strip(), ROLES);
        throw InvalidConfigException.setting("tandem.roles", "tandem.roles: unknown role '" + r + "'"
            + (meant != null ? " (did you mean " + meant + "?)" : "") + "; give one or more of " + String.join(", ", ROLES), null);
      }
    return roles;
  }

  /** The model roles configured for this node, from {@code tandem.small} and {@code tandem.large}. */
  public static Map<Role, RoleSpec> rolesFromConfig(Config config) {
    Map<Role, RoleSpec> out = new EnumMap<>(Role.class);
    for (String r : roles(config)) {
      if (!r.equals("orchestrator")) out.put(Role.valueOf(r), RoleSpec.fromConfig(config, Role.valueOf(r)));
    }
    return out;
  }

  public ActorSystem<Void> system() {
    return system;
  }

  public ActorRef<Sessions.Command> sessions() {
    return sessions;
  }

  public ActorRef<WorkerDirectory.Command> directory() {
    return directory;
  }

  /** Whether this node is a cluster member (provider cluster) rather than a lone local node. */
  public boolean clustered() {
    return RoleSupply.get(system).clustered();
  }

  /** This node's cluster address ({@code akka://tandem@127.0.0.1:25520}); the local address when not clustered. */
  public String address() {
    return clustered() ? Cluster.get(system).selfMember().address().toString() : system.address().toString();
  }

  /** The port this node's cluster transport listens on; 0 when not clustered. */
  public int port() {
    return clustered() ? (Integer) Cluster.get(system).selfMember().address().getPort().get() : 0;
  }

  /** Akka's time a node tries to join through its seed nodes before it shuts down; {@code off}: as long as it takes. */
  public static final String JOIN_DEADLINE = "akka.cluster.shutdown-after-unsuccessful-join-seed-nodes";

  /**
   * Waits until this node is Up in its cluster (at once when not clustered), or its actor system
   * has stopped. A node that joins through seed nodes gives up after {@value #JOIN_DEADLINE}
   * (Tandem's 60 s, so that a supervisor restarts it; {@code off}, Akka's default, waits as long as
   * it takes, as {@code ops/cluster/local.sh} runs its nodes). Past {@code
   * tandem.cluster.join-warning-after} without joining, one WARN line names the other seed nodes
   * and what to do: Akka's own retries say it only in multi-line warnings about handshakes. The first
   * seed node does not warn: it founds the cluster itself after {@code akka.cluster.seed-node-timeout}.
   *
   * @return true once Up; false when the node was stopped as asked (SIGTERM) before it joined
   * @throws IllegalStateException when it gave up joining, or the cluster removed it, saying why
   */
  public boolean awaitUp() throws InterruptedException, java.util.concurrent.ExecutionException {
    if (!clustered()) return true;
    CompletableFuture<Void> up = new CompletableFuture<>();
    akka.cluster.Cluster.get(akka.actor.typed.javadsl.Adapter.toClassic(system))
        .registerOnMemberUp(() -> up.complete(null));
    Config config = system.settings().config();
    Duration warnAfter = config.getDuration("tandem.cluster.join-warning-after");
    String self = address();
    List<String> others = config.getStringList("akka.cluster.seed-nodes").stream().filter(s -> !s.equals(self)).toList();
    boolean firstSeed = config.getStringList("akka.cluster.seed-nodes").indexOf(self) == 0;
    // Its HTTP port stays closed meanwhile: said, or a newcomer sees 15-23 s of silence (tester57c).
    if (!others.isEmpty() && firstSeed)
      org.slf4j.LoggerFactory.getLogger(TandemNode.class).info("node {} is the first seed node: it joins a running cluster"
          + " through the others ({}), or founds the cluster as soon as each of them answers that it is not yet in one,"
          + " else after {} s (akka.cluster.seed-node-timeout)", self, String.join(", ", others),
          Seconds.of(config.getDuration("akka.cluster.seed-node-timeout")));
    if (!others.isEmpty() && !firstSeed) {
      String deadline = config.getString(JOIN_DEADLINE).equalsIgnoreCase("off") ? "it keeps trying (" + JOIN_DEADLINE + " = off)"
          : "it gives up after " + Seconds.of(config.getDuration(JOIN_DEADLINE)) + " s (" + JOIN_DEADLINE + ")";
      up.copy().orTimeout(warnAfter.toMillis(), TimeUnit.MILLISECONDS).exceptionally(notYet -> {
        org.slf4j.LoggerFactory.getLogger(TandemNode.class).warn("node {} has not joined the cluster after {} s: none of its"
              + " seed nodes ({}) has let it in yet; {}{}; {}", self, Seconds.of(warnAfter), String.join(", ", others),
            joinRemedy(config), seedHints(config, others), deadline);
        return null;
      });
    }
    CompletableFuture.anyOf(up, system.getWhenTerminated().toCompletableFuture()).get();
    if (!up.isDone()) {
      awaitTermination(); // throws why, unless the stop was asked for
      return false;
    }
    org.slf4j.LoggerFactory.getLogger(TandemNode.class).info("node {} is up in the cluster (roles {})", self,
        config.getStringList("akka.cluster.roles"));
    return true;
  }

  /**
   * Blocks while this node serves, until its actor system has terminated. A stop that was asked for
   * (SIGTERM or Ctrl-C, which run CoordinatedShutdown) returns normally. A node the cluster shut
   * down does not: downed by the split brain resolver (the others could not reach it, or it could not
   * reach them, for {@code akka.cluster.split-brain-resolver.stable-after}: a long GC pause, a stopped
   * process, a cut network; or its side was half the cluster and lost keep-majority's tie,
   * {@link DowningReason}), or unable to join through its seed nodes, it throws, so that the
   * process says why and exits with status 1, and a supervisor that restarts failed services
   * (systemd's {@code Restart=on-failure}, Kubernetes) starts it again.
   *
   * @throws IllegalStateException naming this node, why the cluster removed it and what to do
   */
  public void awaitTermination() throws InterruptedException, java.util.concurrent.ExecutionException {
    CoordinatedShutdown shutdown = CoordinatedShutdown.get(system);
    String self = address();
    system.getWhenTerminated().toCompletableFuture().get();
    CoordinatedShutdown.Reason reason = shutdown.getShutdownReason().orElse(null);
    if (reason == CoordinatedShutdown.clusterDowningReason()) {
      Config c = system.settings().config();
      String because = downedBecause.get();
      throw new IllegalStateException(because != null ? because : DowningReason.message(self, List.of(), java.util.Set.of(),
          c.getString("akka.cluster.split-brain-resolver.active-strategy"),
          c.getDuration("akka.cluster.split-brain-resolver.stable-after")));
    }
    if (reason == CoordinatedShutdown.clusterJoinUnsuccessfulReason()) {
      Config c = system.settings().config();
      List<String> others = c.getStringList("akka.cluster.seed-nodes").stream().filter(s -> !s.equals(self)).toList();
      // The first seed founds the cluster only after its seed-node-timeout when another seed it lists does not run: a node
      // that waited for a first seed started late may give up before (tester57c), so the line says that timeout: the one
      // set, or the first seed's own default.
      boolean set = !"reference.conf".equals(c.getValue("akka.cluster.seed-node-timeout").origin().resource());
      String firstSeedWait = set ? Seconds.of(c.getDuration("akka.cluster.seed-node-timeout")) + " s"
          : ClusterConfig.FIRST_SEED_TIMEOUT.replace("s", " s");
      throw new IllegalStateException("node " + self + " could not join the cluster through its seed nodes "
          + c.getStringList("akka.cluster.seed-nodes") + " within " + Seconds.of(c.getDuration(JOIN_DEADLINE)) + " s ("
          + JOIN_DEADLINE + "): " + joinRemedy(c) + "; then start this node again" + seedHints(c, others) + " (a first seed node"
          + " founds the cluster as soon as every other seed node answers, else after akka.cluster.seed-node-timeout, "
          + firstSeedWait + ": a node that waited for one started late may give up first)");
    }
  }

  /**
   * What an orchestrator started by {@code serve} says when it is its own only seed node (or has
   * none) and lacks a model role: restarted, it founds a new, empty cluster beside its running
   * workers, and only their WARN said so (tester57c: 35 s and more of 503s, its own log silent).
   * Empty for other nodes, and for a node of every role, a cluster by itself. Not said by the
   * commands that form their own clusters ({@code simulate}: tester57f).
   */
  public java.util.Optional<String> ownOnlySeedWarning() {
    if (!clustered()) return java.util.Optional.empty();
    Config config = system.settings().config();
    String self = address();
    List<String> roles = config.getStringList("akka.cluster.roles");
    boolean alone = config.getStringList("akka.cluster.seed-nodes").stream().allMatch(s -> s.equals(self));
    if (!alone || !roles.contains("orchestrator") || roles.contains("small") && roles.contains("large"))
      return java.util.Optional.empty();
    return java.util.Optional.of("node " + self + " has no seed node but itself: it founds a cluster of its own, which"
        + " workers join through it; restarted, it founds a new, empty one beside the workers still running in the old one,"
        + " which do not join it. Give every node the same --seed-nodes, every long-lived node listed, this one first (as"
        + " ops/cluster/local.sh does)");
  }

  /**
   * What to do when the seed nodes do not let this node in: start them (an orchestrator listed after
   * others, as local.sh restarts one beside running nodes, joins them and founds no cluster), or
   * give the seed nodes of a running cluster.
   */
  private static String joinRemedy(Config config) {
    return config.getStringList("akka.cluster.roles").contains("orchestrator")
        ? "it joins a running cluster through them and founds none itself, as it is not its first seed node: start them if"
            + " they are down, or, if no node of the cluster runs, start this node with itself first in --seed-nodes"
        : "start the orchestrator (the first seed node) if it is down, or give this node the --seed-nodes of a running cluster";
  }

  /**
   * What each of {@code seeds} ({@code akka://SYSTEM@host:port}) shows when this node has not been
   * let in, found by connecting to it (a second each at most): nothing runs there (its port refuses
   * connections); an HTTP port, another node's, which Akka says only as "Unexpected incoming bytes"
   * (it answers {@code GET /health/live}: tester57c), or this node's own, closed until it joins
   * (tester57e); or a port that takes connections and says nothing, as a cluster port does: a node
   * runs there and has not let this one in, which it does for a join sent to another spelling of its
   * host than its own {@code --cluster-host}, saying so only in its own log (tester57e), or while it
   * is not in a cluster itself. An empty string when there is nothing to say.
   */
  static String seedHints(Config config, List<String> seeds) {
    List<String> refused = new java.util.ArrayList<>(), http = new java.util.ArrayList<>(), ownHttp = new java.util.ArrayList<>(),
        quiet = new java.util.ArrayList<>();
    boolean orchestrator = config.hasPath("tandem.http.port") && config.getStringList("akka.cluster.roles").contains("orchestrator");
    for (String seed : seeds) {
      String hostPort = seed.substring(seed.indexOf('@') + 1);
      int colon = hostPort.lastIndexOf(':');
      String host = hostPort.substring(0, colon).replace("[", "").replace("]", "");
      int port = Integer.parseInt(hostPort.substring(colon + 1));
      if (orchestrator && port == config.getInt("tandem.http.port") && sameMachine(host, config.getString("tandem.http.host"))) {
        ownHttp.add(hostPort);
        continue;
      }
      try (java.net.Socket socket = new java.net.Socket()) {
        socket.connect(new java.net.InetSocketAddress(host, port), 1000);
        socket.setSoTimeout(1000);
        socket.getOutputStream().write(("GET /health/live HTTP/1.1\r\nHost: " + hostPort + "\r\nConnection: close\r\n\r\n")
            .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        byte[] head = socket.getInputStream().readNBytes(5);
        (new String(head, java.nio.charset.StandardCharsets.US_ASCII).equals("HTTP/") ? http : quiet).add(hostPort);
      } catch (java.net.ConnectException notThere) {
        refused.add(hostPort);
      } catch (java.io.IOException | RuntimeException other) {
        quiet.add(hostPort);
      }
    }
    StringBuilder hints = new StringBuilder();
    if (!refused.isEmpty()) hints.append("; ").append(String.join(", ", refused)).append(refused.size() == 1 ? " refuses" : " refuse")
        .append(" connections: no node runs there");
    if (!http.isEmpty()) hints.append("; ").append(String.join(", ", http)).append(http.size() == 1 ? " answers" : " answer")
        .append(" HTTP: an HTTP port (--port), not a cluster port; give the seed node's --cluster-port (25520 by default)");
    for (String own : ownHttp) hints.append("; ").append(own).append(" is this node's own HTTP port (--port), not a cluster port");
    if (!quiet.isEmpty()) hints.append("; ").append(String.join(", ", quiet)).append(quiet.size() == 1 ? " takes" : " take")
        .append(" connections, so a node may run there: it drops a join sent to another spelling of its host than its own"
            + " --cluster-host, letter case included (127.0.0.1, localhost and a name are three addresses to Akka), which only"
            + " its own log says (\"Dropping Handshake Request ... addressed to unknown local address\"), and lets no one in"
            + " while it is not in a cluster itself");
    return hints.toString();
  }

  /** Whether {@code a} and {@code b} name this machine alike: the same string, or both loopback addresses. */
  private static boolean sameMachine(String a, String b) {
    if (a.equalsIgnoreCase(b)) return true;
    try {
      return java.net.InetAddress.getByName(a).isLoopbackAddress() && java.net.InetAddress.getByName(b).isLoopbackAddress();
    } catch (java.io.IOException unknown) {
      return false;
    }
  }

  /** Leaves the cluster gracefully (sessions elsewhere see its workers go at once), then stops. */
  public void leave(Duration timeout) {
    if (clustered()) {
      CompletableFuture<Void> removed = new CompletableFuture<>();
      akka.cluster.Cluster.get(akka.actor.typed.javadsl.Adapter.toClassic(system))
          .registerOnMemberRemoved(() -> removed.complete(null));
      Cluster.get(system).manager().tell(Leave.create(Cluster.get(system).selfMember().address()));
      try {
        removed.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        // Stopping anyway; the others' split brain resolver downs what is left.
      }
    }
    close();
  }

  @Override
  public void close() {
    system.terminate();
    try {
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      // Shutting down anyway.
    }
  }
}
