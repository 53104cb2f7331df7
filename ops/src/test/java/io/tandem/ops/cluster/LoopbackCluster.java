package io.tandem.ops.cluster;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.tandem.ops.RoleSpec;
import io.tandem.ops.TandemNode;
import io.tandem.protocol.Role;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Tandem nodes forming a real Akka Cluster over Artery TCP on 127.0.0.1, each its own ActorSystem
 * in this JVM: a seed node on a free port, the others joining it on ports of their own.
 */
public final class LoopbackCluster implements AutoCloseable {
  /** Fast failure detection and downing, so a crash is noticed in seconds rather than in 20 s. */
  static final Config FAST = ConfigFactory.parseString("""
      akka.loglevel = WARNING
      akka.cluster.failure-detector.heartbeat-interval = 300ms
      akka.cluster.failure-detector.acceptable-heartbeat-pause = 3s
      akka.cluster.split-brain-resolver.stable-after = 1s
      akka.cluster.down-removal-margin = 0s
      tandem.session.worker-wait = 3s
      tandem.session.step-timeout = 60s
      tandem.session.publish-step-timings = on
      tandem.routing.load-poll-interval = 100ms
      """);

  final Path dir;
  final String small;
  final String large;
  final List<TandemNode> nodes = new ArrayList<>();
  private int seedPort;

  /** Simulated models (per-step latencies in ms) on scripts of about {@code tokens} tokens. */
  LoopbackCluster(Path dir, int tokens, double smallMs, double largeMs) throws IOException {
    this.dir = dir;
    ObjectMapper m = new ObjectMapper();
    Path s = dir.resolve("small.json"), l = dir.resolve("large.json");
    Files.writeString(s, m.writeValueAsString(Map.of("tokens", script(tokens, false))));
    Files.writeString(l, m.writeValueAsString(Map.of("tokens", script(tokens, true))));
    Path sl = dir.resolve("small-latency.json"), ll = dir.resolve("large-latency.json");
    Files.writeString(sl, "{\"decode_ms_per_step\": " + smallMs + ", \"prefill_ms_per_token\": 0.01, \"batch_growth\": 0.01}");
    Files.writeString(ll, "{\"decode_ms_per_step\": " + largeMs + ", \"prefill_ms_per_token\": 0.05, \"batch_growth\": 0.01}");
    small = "simulated:" + s + "?latency=" + sl;
    large = "simulated:" + l + "?latency=" + ll;
  }

  /** Paragraphs whose openers cycle So, Wait, Then, Yes: every other trigger is a takeover. */
  static List<String> script(int tokens, boolean upper) {
    String[] openers = {"So", "Wait", "Then", "Yes"};
    String[] words = {" the", " sum", " is", " x", " plus", " two", " so", " we", " get", " three"};
    List<String> out = new ArrayList<>();
    for (int p = 0; out.size() < tokens; p++) {
      out.add(openers[p % openers.length]);
      out.add(",");
      for (int i = 0; i < 8 + p % 5; i++) out.add(words[(p * 7 + i) % words.length]);
      out.add(".\n\n");
    }
    out.add(" The answer is 42.");
    if (upper) out.replaceAll(String::toUpperCase);
    return out;
  }

  /**
   * Starts a node playing {@code roles}; the first one started is the seed. {@code extra} comes
   * first in its config (e.g. on-large-loss).
   */
  TandemNode node(Config extra, String... roles) throws IOException {
    boolean seed = nodes.isEmpty();
    int port = seed ? freePort() : 0;
    if (seed) seedPort = port;
    TandemNode node = start(extra, port, seed ? List.of() : List.of("127.0.0.1:" + seedPort), roles);
    try {
      node.awaitUp();
    } catch (InterruptedException | java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException(e);
    }
    return node;
  }

  /** A node playing {@code roles} that joins through {@code seeds}, started without waiting for it to join. */
  TandemNode joining(Config extra, List<String> seeds, String... roles) throws IOException {
    return start(extra, 0, seeds, roles);
  }

  private TandemNode start(Config extra, int port, List<String> seeds, String... roles) throws IOException {
    NodeOptions options = new NodeOptions(List.of(roles), port, seeds);
    Config config = options.apply(extra.withFallback(FAST).withFallback(ConfigFactory.load()));
    Map<Role, RoleSpec> specs = new EnumMap<>(Role.class);
    for (String r : roles) {
      if (r.equals("small")) specs.put(Role.small, RoleSpec.fromConfig(config.getConfig("tandem.small")).withModel(small));
      if (r.equals("large")) specs.put(Role.large, RoleSpec.fromConfig(config.getConfig("tandem.large")).withModel(large));
    }
    TandemNode node = TandemNode.start("test", config, specs, List.of(roles).contains("orchestrator"));
    nodes.add(node);
    return node;
  }

  /** A node that, when closed, stops dead: no leaving, so the others must notice and down it. */
  TandemNode crashableNode(String... roles) throws IOException {
    return node(ConfigFactory.parseString("akka.coordinated-shutdown.run-by-actor-system-terminate = off"), roles);
  }

  /**
   * A loopback port free now, for a node started in another process. Taken below the kernel's
   * ephemeral range (Linux: {@code /proc/sys/net/ipv4/ip_local_port_range}, 32768 up by default):
   * a port from {@code new ServerSocket(0)} lies inside it, and before the new node binds it, an
   * outgoing connection of a node already running (Akka dialling its seeds) may be given it
   * (ClusterCrashIT once failed so: "Bind failed for TCP channel on endpoint [/127.0.0.1:35025]").
   */
  public static int freePort() throws IOException {
    int low = 20000;
    int high = ephemeralLow();
    java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
    for (int attempt = 0; attempt < 200 && high > low; attempt++) {
      int port = random.nextInt(low, high);
      // Free now, but one handed out before may not be bound yet by the node it was given to.
      if (!HANDED_OUT.add(port)) continue;
      try (ServerSocket s = new ServerSocket(port, 1, java.net.InetAddress.getLoopbackAddress())) {
        return s.getLocalPort();
      } catch (IOException taken) {
        // another listener has it: try another
      }
    }
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** Every port {@link #freePort} returned (or found taken) in this JVM. */
  private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** Marks {@code port} handed out (one of a run beside a {@link #freePort}); false if it was already. */
  static boolean handOut(int port) {
    return HANDED_OUT.add(port);
  }

  /** The first port of the kernel's ephemeral range (32768 where it cannot be read). */
  private static int ephemeralLow() {
    try {
      // Read by lines: Files.readString of this file (size 0 to stat) gives "3" on JDK 17, which sent every port to ServerSocket(0).
      String range = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/sys/net/ipv4/ip_local_port_range")).get(0).trim();
      return Integer.parseInt(range.split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      return 32768;
    }
  }

  @Override
  public void close() {
    for (int i = nodes.size() - 1; i >= 0; i--) nodes.get(i).close();
  }
}
