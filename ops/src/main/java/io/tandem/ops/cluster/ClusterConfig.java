package io.tandem.ops.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.tandem.protocol.config.ConfigSection;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns {@code tandem.cluster} and {@code tandem.roles} into the Akka settings of a cluster node:
 * provider cluster, Artery TCP on {@code hostname:port}, seed nodes as Akka addresses, and the
 * node's Tandem roles as its cluster roles. With {@code tandem.cluster.enabled = off} the config is
 * returned as it is (provider local).
 */
public final class ClusterConfig {

  /**
   * The config a node should start with.
   *
   * @throws IllegalArgumentException naming the {@code tandem.cluster} key of a value that is
   *     missing, not of its type or out of its range (a port outside 0-65535, a seed that is not host:port)
   */
  public static Config resolve(Config config) {
    if (!config.hasPath("tandem.cluster.enabled") || !config.getBoolean("tandem.cluster.enabled")) return config;
    // Tandem writes Akka's seed list from its own: one set there was dropped without a word, or failed as Typesafe Config's
    // "Wrong value type" (tester57h).
    if (config.hasPath("akka.cluster.seed-nodes")
        && !"reference.conf".equals(config.getValue("akka.cluster.seed-nodes").origin().resource()))
      throw io.tandem.protocol.config.InvalidConfigException.setting("akka.cluster.seed-nodes", "akka.cluster.seed-nodes is"
          + " written from tandem.cluster.seed-nodes: give the seed nodes as --seed-nodes host:port,... (or"
          + " -Dtandem.cluster.seed-nodes.0=host:port, .1, ...)", null);
    // No seed: TandemNode founds a cluster by joining this node itself (its port may be 0 until bound).
    List<String> roles = config.hasPath("tandem.roles") ? config.getStringList("tandem.roles") : List.of();
    if (config.hasPath(MAX_BODY_SIZE)) requireFrameFor(config, config.getBytes(MAX_BODY_SIZE));
    boolean seedTimeoutGiven = config.hasPath(SEED_NODE_TIMEOUT)
        && !"reference.conf".equals(config.getValue(SEED_NODE_TIMEOUT).origin().resource());
    return ConfigSection.read(config, "tandem.cluster", c -> akka(c, roles, seedTimeoutGiven)).withFallback(config);
  }

  /** {@code akka.cluster.seed-node-timeout} of the first seed node, unless one is set (see {@link #akka}). */
  public static final String FIRST_SEED_TIMEOUT = "20s";

  private static final String SEED_NODE_TIMEOUT = "akka.cluster.seed-node-timeout";

  /** Artery's largest message; Tandem's application.conf sets it. */
  public static final String FRAME_SIZE = "akka.remote.artery.advanced.maximum-frame-size";

  private static final String MAX_BODY_SIZE = "tandem.http.max-body-size";

  /**
   * The smallest Artery frame that carries the largest message a request of {@code maxBodyBytes}
   * makes: a prompt's count, whose answer holds its token ids (a token per byte of text at most, 5
   * bytes each in CBOR) or, for token ids sent, their text; with a quarter of a MiB for the rest.
   */
  public static long frameFor(long maxBodyBytes) {
    return 6 * maxBodyBytes + 256 * 1024;
  }

  /**
   * Refuses, on every node of a cluster (a frame over the receiver's limit fails the connection), an
   * Artery frame too small for requests of {@code maxBodyBytes}: Akka drops a larger message with a
   * log line, and the request it belonged to waited for an answer that never came.
   *
   * @throws io.tandem.protocol.config.InvalidConfigException naming {@value #FRAME_SIZE} and what it needs
   */
  public static void requireFrameFor(Config config, long maxBodyBytes) {
    long frame = config.getBytes(FRAME_SIZE);
    long direct = maxDirectMemory();
    // Artery takes its buffers, this size each, from direct memory as messages go: one alone must not exhaust it.
    if (frame > direct / 16)
      throw io.tandem.protocol.config.InvalidConfigException.setting(FRAME_SIZE, FRAME_SIZE + " is " + frame
          + " bytes, more than a sixteenth of this JVM's direct memory (" + direct + " bytes: -XX:MaxDirectMemorySize,"
          + " else -Xmx), whose buffers of that size it takes; give at most " + direct / 16 + " bytes, or more memory", null);
    if (frame < frameFor(maxBodyBytes))
      throw io.tandem.protocol.config.InvalidConfigException.setting(FRAME_SIZE, FRAME_SIZE + " is " + frame
          + " bytes, too small for requests of up to " + maxBodyBytes + " bytes (" + MAX_BODY_SIZE + "): a prompt's count"
          + " crosses nodes in one frame; give at least " + frameFor(maxBodyBytes) + " bytes, on every node alike, or a"
          + " smaller max-body-size", null);
  }

  /** The JVM's limit on direct buffers: {@code -XX:MaxDirectMemorySize}, or by default the heap's maximum. */
  static long maxDirectMemory() {
    try {
      var hotspot = java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
      long set = Long.parseLong(hotspot.getVMOption("MaxDirectMemorySize").getValue());
      if (set > 0) return set;
    } catch (RuntimeException notHotSpot) {
      // the default below
    }
    return Runtime.getRuntime().maxMemory();
  }

  /**
   * The Akka settings of a cluster member from its {@code tandem.cluster} section and its roles;
   * {@code seedTimeoutGiven}: whether {@code akka.cluster.seed-node-timeout} was set (not Akka's default).
   */
  private static Config akka(Config c, List<String> roles, boolean seedTimeoutGiven) {
    String host = c.getString("hostname");
    int port = port(c.getInt("port"));
    String system = c.getString("system-name");
    // TandemNode reads them only once the node runs, when a value it cannot read would go unsaid.
    c.getDuration("join-warning-after");
    c.getDuration("no-orchestrator-warning-after");
    List<String> seeds = new ArrayList<>();
    for (String s : c.getStringList("seed-nodes")) {
      try {
        seeds.add(address(system, s));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("tandem.cluster.seed-nodes: " + e.getMessage(), e);
      }
    }
    Config akka = ConfigFactory.empty();
    // The first seed node founds a cluster when no other seed acknowledges it as a member within
    // seed-node-timeout (Akka's FirstSeedNodeProcess; a seed that runs but is no member says so at
    // once, so a cluster started together does not wait for it). Akka's 5 s let a tester's
    // orchestrator, restarted on a busy machine beside both running workers, found a second cluster
    // once in three restarts. Only the first seed gets the longer wait: every other node retries its
    // join at that interval (JoinSeedNodeProcess), which 20 s everywhere made local.sh's up 20 s slower.
    // A seed-node-timeout that was set is the user's, on every node.
    if (!seedTimeoutGiven && !seeds.isEmpty() && seeds.get(0).equals("akka://" + system + "@" + host + ":" + port))
      akka = akka.withValue(SEED_NODE_TIMEOUT, ConfigValueFactory.fromAnyRef(FIRST_SEED_TIMEOUT));
    return akka
        .withValue("akka.actor.provider", ConfigValueFactory.fromAnyRef("cluster"))
        .withValue("akka.remote.artery.transport", ConfigValueFactory.fromAnyRef("tcp"))
        .withValue("akka.remote.artery.canonical.hostname", ConfigValueFactory.fromAnyRef(host))
        .withValue("akka.remote.artery.canonical.port", ConfigValueFactory.fromAnyRef(port))
        .withValue("akka.cluster.seed-nodes", ConfigValueFactory.fromIterable(seeds))
        .withValue("akka.cluster.roles", ConfigValueFactory.fromIterable(roles));
  }

  /**
   * {@code tandem.cluster.port} when it is a port number.
   *
   * @throws IllegalArgumentException naming the key, its value and the range
   */
  public static int port(int port) {
    return (int) ConfigSection.within("tandem.cluster.port", port, 0, 65535, "0 picks a free one");
  }

  /**
   * {@code host:port} (or a full {@code akka://system@host:port}) as an Akka address, its host and
   * port checked here: Akka would take a port out of range only to fail each send with a stack trace,
   * and then wait for a join that never comes.
   *
   * @throws IllegalArgumentException {@code seed node 'SEED' ...}: no host:port, no host, a port
   *     that is not a number from 1 to 65535, or (full form) a system name other than {@code system}:
   *     Akka never joins a node of another actor system, it only retries
   */
  static String address(String system, String seed) {
    String s = seed.trim();
    boolean full = s.startsWith("akka://");
    String hostPort = full ? s.substring(s.indexOf('@') + 1) : s;
    if (full && !s.contains("@"))
      throw new IllegalArgumentException("seed node '" + seed + "' is not akka://SYSTEM@host:port (or host:port, e.g. 127.0.0.1:25520)");
    if (full && !s.substring("akka://".length(), s.indexOf('@')).equals(system))
      throw new IllegalArgumentException("seed node '" + seed + "' names the actor system '"
          + s.substring("akka://".length(), s.indexOf('@')) + "', but this cluster's is '" + system
          + "' (tandem.cluster.system-name): write akka://" + system + "@" + hostPort + ", or just " + hostPort);
    // Said as what they are, not as a host missing (tester57e).
    if (!full && s.matches("[A-Za-z][A-Za-z0-9+.-]*://.*"))
      throw new IllegalArgumentException("seed node '" + seed + "' has the scheme '" + s.substring(0, s.indexOf("://"))
          + "://': give host:port (e.g. 127.0.0.1:25520), or akka://" + system + "@host:port");
    if (s.chars().anyMatch(Character::isWhitespace))
      throw new IllegalArgumentException("seed node '" + seed + "' holds a space: give each seed as host:port, the seeds"
          + " separated by commas (127.0.0.1:25520,127.0.0.1:25521)");
    int colon = hostPort.lastIndexOf(':');
    if (colon < 0 || colon == hostPort.length() - 1 || hostPort.endsWith("]"))
      throw new IllegalArgumentException("seed node '" + seed + "' is not host:port (e.g. 127.0.0.1:25520)");
    String host = hostPort.substring(0, colon);
    String port = hostPort.substring(colon + 1);
    if (host.isBlank() || !host.equals(host.strip()) || host.chars().anyMatch(ch -> ch == '/' || ch == '@' || Character.isWhitespace(ch)))
      throw new IllegalArgumentException("seed node '" + seed + "' has no host name or address before its port (host:port, e.g. 127.0.0.1:25520)");
    // What Akka's address parser takes (AddressFromURIString: java.net.URI's server authority), checked the same way:
    // another host failed the node's start with a bare RuntimeException, its models half loaded (tester57c: 'a:1;b:2',
    // 'my_host:25520', '::1:25520'; tester57e: '999.999.999.999', 'host-', '[1.2.3.4]', which a looser check let by).
    if (!isUriHost(system, host))
      throw new IllegalArgumentException("seed node '" + seed + "' has the host '" + host + "', which is no host name or address"
          + " (letters, digits, '-' and '.'; an IPv6 address in brackets, [::1]:25520); give each seed as host:port, the seeds"
          + " separated by commas");
    if (!port.matches("[0-9]{1,9}"))
      throw new IllegalArgumentException("seed node '" + seed + "' has no numeric port (host:port, e.g. 127.0.0.1:25520)");
    int p = Integer.parseInt(port);
    if (p < 1 || p > 65535)
      throw new IllegalArgumentException("seed node '" + seed + "' has the port " + p + ", out of range: use 1-65535 (the seed node's --cluster-port)");
    // The port as a number: a leading zero (018812) kept the node from knowing itself among its seeds (tester57h).
    return "akka://" + system + "@" + host + ":" + p;
  }

  /** Whether {@code host} is what {@link java.net.URI} reads as the host of an Akka address, as Akka's parser does. */
  private static boolean isUriHost(String system, String host) {
    try {
      java.net.URI uri = new java.net.URI("akka://" + system + "@" + host + ":1");
      return uri.getHost() != null && uri.getPort() == 1;
    } catch (java.net.URISyntaxException e) {
      return false;
    }
  }

  /** The system name nodes of one cluster share. */
  public static String systemName(Config config) {
    return config.hasPath("tandem.cluster.system-name") ? config.getString("tandem.cluster.system-name") : "tandem";
  }

  private ClusterConfig() {}
}
