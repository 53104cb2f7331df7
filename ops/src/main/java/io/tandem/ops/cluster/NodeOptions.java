package io.tandem.ops.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import io.tandem.ops.UsageError;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The options that place a node in a cluster, as a picocli mixin ({@code @Mixin NodeOptions node})
 * for {@code serve}: which roles it plays, where its cluster transport listens, which seed nodes it
 * joins. Each flag overrides its {@code tandem.*} config key; {@link #apply} yields the config to
 * start the node with. ({@code --port} and {@code --host} stay the HTTP API's.)
 *
 * <p>A node with all three roles and no cluster flag runs alone on Akka's local provider: nothing
 * could join it, and it starts without remoting. Any of {@code --cluster}, {@code --cluster-port},
 * {@code --cluster-host}, {@code --seed-nodes} (or the setting of one), or fewer roles makes it a
 * cluster member; {@code --no-cluster} or {@code tandem.cluster.enabled = off} forces local.
 */
public final class NodeOptions {

  @Option(names = "--roles", split = ",",
      description = "Roles of this node: orchestrator, small, large (tandem.roles). Default: all three.")
  List<String> roles;

  @Option(names = "--cluster-port", description = "Cluster (Artery TCP) port (tandem.cluster.port, default 25520; 0: any free port).")
  Integer port;

  @Option(names = "--cluster-host", description = "Cluster address of this node (tandem.cluster.hostname, default 127.0.0.1).")
  String hostname;

  @Option(names = "--cluster", description = "Be a cluster member even with all three roles and no seed nodes (others may join).")
  boolean cluster;

  @Option(names = "--seed-nodes", split = ",",
      description = "host:port of seed nodes to join (tandem.cluster.seed-nodes). None: this node founds the cluster.")
  List<String> seedNodes;

  @Option(names = "--no-cluster", description = "Run alone on Akka's local provider (no remoting).")
  boolean noCluster;

  public NodeOptions() {}

  /** For callers outside picocli (tests, the simulator). */
  public NodeOptions(List<String> roles, Integer port, List<String> seedNodes) {
    this.roles = roles;
    this.port = port;
    this.seedNodes = seedNodes;
  }

  /**
   * {@code base} with this node's roles and cluster placement, and {@code tandem.cluster.enabled}
   * decided: off when {@link #aloneBy} says so; otherwise on with {@code --cluster}, any placement
   * ({@link #placedBy}: a flag or its setting) or fewer than three roles (README, "a cluster").
   *
   * @throws UsageError for a flag that cannot be used, or a placement beside what runs the node alone
   * @throws io.tandem.protocol.config.InvalidConfigException for a {@code tandem.cluster} setting that cannot be used
   */
  public Config apply(Config base) {
    requireNoClusterAlone(base);
    Config c = base;
    if (roles != null && !roles.isEmpty()) {
      // Spaces around the commas are taken, as --seed-nodes takes them ('small, large').
      List<String> given = roles.stream().map(String::strip).toList();
      for (String r : given) {
        if (r.isEmpty())
          throw new UsageError("--roles '" + String.join(",", roles) + "' lists an empty role; give one or more"
              + " of orchestrator, small, large (comma-separated)");
        if (!List.of("orchestrator", "small", "large").contains(r)) {
          // A role misspelt (smal) is named as an option misspelt is (tester57c).
          String meant = r.equalsIgnoreCase("all") ? "orchestrator,small,large"
              : io.tandem.protocol.config.KeySuggestions.nearest(r, List.of("orchestrator", "small", "large"));
          throw new UsageError("--roles " + String.join(",", roles) + ": unknown role '" + r + "'"
              + (meant != null ? " (did you mean " + meant + "?)" : "")
              + "; give one or more of orchestrator, small, large (comma-separated)");
        }
      }
      c = c.withValue("tandem.roles", ConfigValueFactory.fromIterable(given));
    }
    requirePort("--cluster-port", port);
    if (port != null) c = c.withValue("tandem.cluster.port", ConfigValueFactory.fromAnyRef(port));
    if (hostname != null) {
      // Checked as --host is, before any model loads: an address of another machine failed as a taken port, an empty one
      // made the node's address hostless (tester56d).
      String why = io.tandem.ops.ServeCommand.whyNotLocal(hostname);
      // Akka's canonical address is the one the others send to: a wildcard is none (tester56f: a node at 0.0.0.0 dropped
      // every handshake addressed to 127.0.0.1, and no node could join it).
      if (why == null && anyLocal(hostname)) why = "the wildcard address, which no other node can send to";
      if (why != null)
        throw new UsageError("--cluster-host " + (hostname.isBlank() ? "'" + hostname + "'" : hostname) + ": " + why + "; give"
            + " an address of this machine that the other nodes can reach: 127.0.0.1 (the default: every node on this"
            + " machine) or one of its own addresses");
      c = c.withValue("tandem.cluster.hostname", ConfigValueFactory.fromAnyRef(hostname));
    }
    if (seedNodes != null) c = c.withValue("tandem.cluster.seed-nodes", ConfigValueFactory.fromIterable(seedNodes));
    // Malformed seed nodes fail now, from the flag or the setting alike, not as Akka's retries after loading.
    String seedsBy = seedNodes != null ? "--seed-nodes" : "tandem.cluster.seed-nodes";
    for (String s : c.getStringList("tandem.cluster.seed-nodes")) {
      // Named as --roles names one (tester58g: "seed node ' ' is not host:port").
      if (s.isBlank() && seedNodes != null)
        throw new UsageError("--seed-nodes '" + String.join(",", seedNodes) + "' lists an empty seed node; give one or more"
            + " host:port, comma-separated (e.g. 127.0.0.1:25520)");
      try {
        ClusterConfig.address(ClusterConfig.systemName(c), s);
      } catch (IllegalArgumentException e) {
        throw UsageError.of(seedsBy, seedsBy + ": " + e.getMessage(), e);
      }
    }
    ClusterConfig.port(c.getInt("tandem.cluster.port")); // from the config when not from --cluster-port
    boolean all = io.tandem.ops.TandemNode.roles(c).containsAll(io.tandem.ops.TandemNode.ROLES);
    boolean enabled = aloneBy(base) == null && (cluster || Boolean.TRUE.equals(enabledSetting(base)) || !placedBy(base).isEmpty() || !all);
    return c.withValue("tandem.cluster.enabled", ConfigValueFactory.fromAnyRef(enabled));
  }

  /**
   * What runs this node alone, as a message names it: {@code --no-cluster}, or {@code
   * tandem.cluster.enabled = off} set by the user (a {@code -D}, a {@code -Dconfig.file}) without
   * {@code --cluster} (a flag overrides its setting). Null when neither does (application.conf's
   * {@code off} is no choice: a node with fewer roles or a placement still joins a cluster).
   */
  public String aloneBy(Config base) {
    if (noCluster) return "--no-cluster";
    if (!cluster && Boolean.FALSE.equals(enabledSetting(base))) return "tandem.cluster.enabled = off";
    return null;
  }

  /**
   * What places this node in a cluster, each by the flag or else the setting that gives it: {@code
   * --cluster}, {@code --seed-nodes} or a non-empty {@code tandem.cluster.seed-nodes}, {@code
   * --cluster-port} or {@code tandem.cluster.port}, {@code --cluster-host} or {@code
   * tandem.cluster.hostname} (a setting only when the user set it). Empty when nothing does.
   */
  private List<String> placedBy(Config base) {
    List<String> placing = new java.util.ArrayList<>();
    if (cluster) placing.add("--cluster");
    if (seedNodes != null) placing.add("--seed-nodes");
    else if (userSet(base, "tandem.cluster.seed-nodes") && !base.getStringList("tandem.cluster.seed-nodes").isEmpty())
      placing.add("tandem.cluster.seed-nodes");
    if (port != null) placing.add("--cluster-port");
    else if (userSet(base, "tandem.cluster.port")) placing.add("tandem.cluster.port");
    if (hostname != null) placing.add("--cluster-host");
    else if (userSet(base, "tandem.cluster.hostname")) placing.add("tandem.cluster.hostname");
    return placing;
  }

  /** Whether {@code host} is a wildcard address (0.0.0.0, ::). */
  private static boolean anyLocal(String host) {
    try {
      return java.net.InetAddress.getByName(host).isAnyLocalAddress();
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }

  /** {@code tandem.cluster.enabled} when the user set it, null when it is application.conf's default. */
  private static Boolean enabledSetting(Config base) {
    return userSet(base, "tandem.cluster.enabled") ? base.getBoolean("tandem.cluster.enabled") : null;
  }

  /**
   * Whether the user set {@code key} (a {@code -D}: "system properties"; a file of one's own: its
   * name) rather than leaving the default, whose origin is Tandem's application.conf (also through a
   * {@code -Dconfig.file} that includes it).
   */
  private static boolean userSet(Config base, String key) {
    return base.hasPath(key) && !"application.conf".equals(base.getValue(key).origin().resource());
  }

  /**
   * Refuses what runs this node alone ({@link #aloneBy}) beside what places it in a cluster
   * ({@link #placedBy}), from flags and settings alike: one of the two would be ignored without a word.
   *
   * @throws UsageError {@code --no-cluster and --seed-nodes contradict each other: ...}
   */
  private void requireNoClusterAlone(Config base) {
    String alone = aloneBy(base);
    if (alone == null) return;
    List<String> placing = placedBy(base);
    if (placing.isEmpty()) return;
    String them = String.join(", ", placing);
    throw new UsageError(alone + " and " + them + " contradict each other: " + alone + " runs this node alone (Akka's"
        + " local provider: no cluster to join, no port to listen on); leave out " + alone + " to make it a cluster member,"
        + " or leave out " + them + " to run it alone");
  }

  /**
   * Refuses a port number outside 0-65535 (null: not given) in one line naming the option, before
   * anything binds it (the JDK's own message, {@code port out of range:70000}, names neither).
   *
   * @throws UsageError {@code FLAG PORT: out of range, ...}
   */
  public static void requirePort(String flag, Integer port) {
    if (port != null && (port < 0 || port > 65535))
      throw new UsageError(flag + " " + port + ": out of range, use 1-65535 (0 picks a free one)");
  }

  /** Whether this node hosts sessions (the HTTP API goes with them). */
  public static boolean isOrchestrator(Config config) {
    return config.getStringList("tandem.roles").contains("orchestrator");
  }
}
