package io.tandem.ops.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The options that place a node in a cluster, as a picocli mixin ({@code @Mixin NodeOptions node})
 * for {@code serve}: which roles it plays, where it listens, which seed nodes it joins. Each flag
 * overrides its {@code tandem.*} config key; {@link #apply} yields the config to start the node with.
 */
public final class NodeOptions {

  @Option(names = "--roles", split = ",",
      description = "Roles of this node: orchestrator, small, large (tandem.roles). Default: all three.")
  List<String> roles;

  @Option(names = "--port", description = "Cluster port on --hostname (tandem.cluster.port, default 25520; 0: any free port).")
  Integer port;

  @Option(names = "--hostname", description = "Cluster address of this node (tandem.cluster.hostname, default 127.0.0.1).")
  String hostname;

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
    Config c = base;
    if (roles != null && !roles.isEmpty()) {
      for (String r : roles)
        if (!List.of("orchestrator", "small", "large").contains(r))
          throw new IllegalArgumentException("--roles: unknown role '" + r + "' (orchestrator, small, large)");
      c = c.withValue("tandem.roles", ConfigValueFactory.fromIterable(roles));
    }
    if (port != null) c = c.withValue("tandem.cluster.port", ConfigValueFactory.fromAnyRef(port));
    if (hostname != null) c = c.withValue("tandem.cluster.hostname", ConfigValueFactory.fromAnyRef(hostname));
    if (seedNodes != null) {
      for (String s : seedNodes) ClusterConfig.address("tandem", s); // fail early on a malformed one
      c = c.withValue("tandem.cluster.seed-nodes", ConfigValueFactory.fromIterable(seedNodes));
    }
    return c.withValue("tandem.cluster.enabled", ConfigValueFactory.fromAnyRef(!noCluster));
  }

  /** Whether this node hosts sessions (the HTTP API goes with them). */
  public static boolean isOrchestrator(Config config) {
    return config.getStringList("tandem.roles").contains("orchestrator");
  }
}
