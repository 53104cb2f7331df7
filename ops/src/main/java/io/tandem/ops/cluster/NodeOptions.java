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
 * {@code --seed-nodes}, or fewer roles makes it a cluster member; {@code --no-cluster} forces local.
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

  /** {@code base} with this node's roles and cluster placement, cluster enabled unless --no-cluster. */
  public Config apply(Config base) {
    requireNoClusterAlone();
    Config c = base;
    if (roles != null && !roles.isEmpty()) {
      for (String r : roles)
        if (!List.of("orchestrator", "small", "large").contains(r))
          throw new UsageError("--roles " + String.join(",", roles) + ": unknown role '" + r
              + "'; give one or more of orchestrator, small, large (comma-separated)");
      c = c.withValue("tandem.roles", ConfigValueFactory.fromIterable(roles));
    }
    requirePort("--cluster-port", port);
    if (port != null) c = c.withValue("tandem.cluster.port", ConfigValueFactory.fromAnyRef(port));
    if (hostname != null) c = c.withValue("tandem.cluster.hostname", ConfigValueFactory.fromAnyRef(hostname));
    if (seedNodes != null) {
      for (String s : seedNodes) UsageError.parse("--seed-nodes", () -> ClusterConfig.address("tandem", s)); // fail early on a malformed one
      c = c.withValue("tandem.cluster.seed-nodes", ConfigValueFactory.fromIterable(seedNodes));
    }
    ClusterConfig.port(c.getInt("tandem.cluster.port")); // from the config when not from --cluster-port
    boolean all = io.tandem.ops.TandemNode.roles(c).containsAll(io.tandem.ops.TandemNode.ROLES);
    boolean enabled = !noCluster && (cluster || port != null || hostname != null || seedNodes != null || !all
        || c.getBoolean("tandem.cluster.enabled"));
    return c.withValue("tandem.cluster.enabled", ConfigValueFactory.fromAnyRef(enabled));
  }

  /**
   * Refuses {@code --no-cluster} beside a flag that places the node in a cluster: one of the two
   * would be ignored without a word.
   *
   * @throws UsageError {@code --no-cluster and --seed-nodes contradict each other: ...}
   */
  private void requireNoClusterAlone() {
    if (!noCluster) return;
    List<String> placing = new java.util.ArrayList<>();
    if (cluster) placing.add("--cluster");
    if (seedNodes != null) placing.add("--seed-nodes");
    if (port != null) placing.add("--cluster-port");
    if (hostname != null) placing.add("--cluster-host");
    if (placing.isEmpty()) return;
    String them = String.join(", ", placing);
    throw new UsageError("--no-cluster and " + them + " contradict each other: --no-cluster runs this node alone (Akka's"
        + " local provider: no cluster to join, no port to listen on); leave out --no-cluster to make it a cluster member,"
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
