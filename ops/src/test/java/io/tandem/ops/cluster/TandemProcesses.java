package io.tandem.ops.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A Tandem cluster of real {@code tandem serve} JVMs on 127.0.0.1, started as the {@code tandem}
 * launcher starts them ({@code java -cp ops/target/tandem-ops.jar:ops/target/lib/* io.tandem.ops.Tandem serve ...}),
 * on free ports, each logging to its own file. Every node lists the first two nodes started as its
 * seed nodes, so a cluster survives losing either. Closing it kills whatever is still running.
 */
final class TandemProcesses implements AutoCloseable {
  static final ObjectMapper JSON = new ObjectMapper();

  /** One node: how to start it, and the process while it runs. */
  static final class Node {
    final String name;
    final int clusterPort;
    final int httpPort;
    final List<String> args;
    final Path log;
    Process process;

    Node(String name, int clusterPort, int httpPort, List<String> args, Path log) {
      this.name = name;
      this.clusterPort = clusterPort;
      this.httpPort = httpPort;
      this.args = args;
      this.log = log;
    }

    URI uri(String path) {
      return URI.create("http://127.0.0.1:" + httpPort + path);
    }
  }

  private final Path dir;
  private final String small;
  private final String large;
  private final Map<String, Node> nodes = new LinkedHashMap<>();
  private final List<String> seeds = new ArrayList<>();
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /** Nodes serving {@code small} and {@code large} (model specs), with logs in {@code dir}. */
  TandemProcesses(Path dir, String small, String large) {
    this.dir = dir;
    this.small = small;
    this.large = large;
  }

  static Path repo() {
    Path p = Path.of("").toAbsolutePath();
    return Files.isDirectory(p.resolve("ops/cluster")) ? p : p.getParent();
  }

  /**
   * Starts node {@code name} playing {@code roles} (orchestrator, small, large), with
   * {@code properties} as -D system properties (e.g. tandem.session.on-large-loss=degrade); does
   * not wait for it.
   */
  Node start(String name, List<String> roles, Map<String, String> properties) throws IOException {
    Files.deleteIfExists(dir.resolve(name + ".log"));
    int clusterPort = LoopbackCluster.freePort();
    if (seeds.size() < 2) seeds.add("127.0.0.1:" + clusterPort);
    boolean orchestrator = roles.contains("orchestrator");
    int httpPort = orchestrator ? LoopbackCluster.freePort() : 0;
    List<String> args = new ArrayList<>(List.of("java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-Dai.djl.offline=true"));
    properties.forEach((k, v) -> args.add("-D" + k + "=" + v));
    Path ops = repo().resolve("ops/target");
    args.addAll(List.of("-cp", ops.resolve("tandem-ops.jar") + ":" + ops.resolve("lib") + "/*", "io.tandem.ops.Tandem",
        "serve", "--roles", String.join(",", roles), "--cluster-port", String.valueOf(clusterPort),
        "--seed-nodes", String.join(",", seeds)));
    if (orchestrator) args.addAll(List.of("--port", String.valueOf(httpPort)));
    if (roles.contains("small")) args.addAll(List.of("--small", small));
    if (roles.contains("large")) args.addAll(List.of("--large", large));
    Node node = new Node(name, clusterPort, httpPort, args, dir.resolve(name + ".log"));
    nodes.put(name, node);
    launch(node);
    return node;
  }

  private void launch(Node node) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(node.args).directory(repo().toFile()).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(node.log.toFile()));
    pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
    // DEBUG: sessions log the workers they bind to, which the tests wait for.
    pb.environment().put("TANDEM_LOG", "DEBUG");
    node.process = pb.start();
  }

  /** Starts {@code node} again with the same arguments, so on the same ports; returns when it was started. */
  LocalTime restart(Node node) throws IOException {
    if (node.process != null && node.process.isAlive()) throw new IllegalStateException(node.name + " is still running");
    LocalTime at = LocalTime.now();
    launch(node);
    return at;
  }

  /** {@code kill -9}: the JVM dies at once, leaving nothing and telling nobody; returns when it is gone. */
  LocalTime kill(Node node) throws InterruptedException {
    LocalTime at = LocalTime.now();
    node.process.destroyForcibly();
    if (!node.process.waitFor(10, TimeUnit.SECONDS)) throw new AssertionError(node.name + " survived kill -9");
    return at;
  }

  /**
   * Waits until {@code orchestrator} offers the workers of {@code node} (started again at or after
   * {@code since}) to its sessions: its directory logs it once the node is up in the cluster. (The
   * Receptionist, and so /health/ready, may list them a little earlier, while the node's previous
   * incarnation is still being removed.)
   */
  void awaitOffered(Node orchestrator, Node node, LocalTime since, Duration timeout) throws Exception {
    String up = "node akka://tandem@127.0.0.1:" + node.clusterPort + " (incarnation";
    awaitLog(orchestrator, since, l -> l.contains(up) && l.contains("offered"), node.name + "'s workers offered", timeout);
  }

  /** Waits until {@code node} logs a line that satisfies {@code line} ({@code what}) at or after {@code since}. */
  void awaitLog(Node node, LocalTime since, Predicate<String> line, String what, Duration timeout) throws Exception {
    awaitLogLine(node, since, line, what, timeout);
  }

  /** As {@link #awaitLog}, returning the first such line. */
  String awaitLogLine(Node node, LocalTime since, Predicate<String> line, String what, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      for (String l : Files.readAllLines(node.log)) {
        LocalTime t = line.test(l) ? timeOf(l) : null;
        if (t != null && !t.isBefore(since)) return l;
      }
      if (System.nanoTime() > deadline)
        throw new AssertionError(node.name + " logged no " + what + " within " + timeout.toSeconds() + " s: " + tail(node));
      Thread.sleep(100); // polling the log
    }
  }

  /**
   * Waits until {@code orchestrator}'s /health/ready says the cluster has at least {@code small}
   * and {@code large} workers listed.
   */
  void awaitWorkers(Node orchestrator, int small, int large, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    String last = "no answer";
    while (System.nanoTime() < deadline) {
      for (Node n : nodes.values())
        if (n.process != null && !n.process.isAlive() && n.process.exitValue() != 137)
          throw new AssertionError(n.name + " exited with " + n.process.exitValue() + ": " + tail(n));
      try {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(orchestrator.uri("/health/ready"))
            .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        last = r.body();
        JsonNode w = JSON.readTree(r.body()).path("workers");
        if (w.path("small").asInt() >= small && w.path("large").asInt() >= large) return;
      } catch (IOException e) {
        last = e.toString(); // not listening yet
      }
      Thread.sleep(200); // polling readiness
    }
    throw new AssertionError(orchestrator.name + " did not list " + small + " small and " + large
        + " large workers within " + timeout.toSeconds() + " s: " + last + "\n" + tail(orchestrator));
  }

  /** The times of the log lines of {@code node} written at or after {@code since} that satisfy {@code line}. */
  List<LocalTime> logTimes(Node node, LocalTime since, Predicate<String> line) throws IOException {
    List<LocalTime> out = new ArrayList<>();
    for (String l : Files.readAllLines(node.log)) {
      LocalTime t = line.test(l) ? timeOf(l) : null;
      if (t != null && !t.isBefore(since)) out.add(t);
    }
    return out;
  }

  /** When a log line was written, or null for a continuation line (a stack trace) with no time of its own. */
  private static LocalTime timeOf(String l) {
    int space = l.indexOf(' ');
    if (space < 0) return null;
    try {
      return OffsetDateTime.parse(l.substring(0, space)).atZoneSameInstant(ZoneId.systemDefault())
          .toLocalTime();
    } catch (java.time.format.DateTimeParseException e) {
      return null;
    }
  }

  String tail(Node node) {
    try {
      List<String> lines = Files.readAllLines(node.log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  @Override
  public void close() throws InterruptedException {
    for (Node n : nodes.values()) if (n.process != null) n.process.destroyForcibly();
    for (Node n : nodes.values()) if (n.process != null) n.process.waitFor(10, TimeUnit.SECONDS);
  }
}
