package io.tandem.ops.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ops/cluster/local.sh}: {@code tandem serve} processes on 127.0.0.1 serving the demo pair,
 * one or two orchestrators each answering on its own HTTP port; ports refused up front; a node
 * that dies takes the others down with it; {@code status} and {@code down} need no settings, not
 * even the cluster's folder.
 *
 * <p>An integration test (failsafe, after {@code package}): it runs the launcher as a user would,
 * which needs {@code ops/target/tandem-ops.jar} and its {@code lib/}.
 */
class LocalClusterScriptIT {

  static Path repo() {
    Path p = Path.of("").toAbsolutePath();
    return Files.isDirectory(p.resolve("ops/cluster")) ? p : p.getParent();
  }

  record Run(int exit, String output) {}

  static Run run(Map<String, String> env, String... command) throws Exception {
    List<String> line = new ArrayList<>(List.of(repo().resolve("ops/cluster/local.sh").toString()));
    line.addAll(List.of(command));
    ProcessBuilder pb = new ProcessBuilder(line)
        .directory(repo().toFile()).redirectErrorStream(true);
    // Only what the test gives: no TANDEM_* of whoever runs the build.
    pb.environment().keySet().removeIf(k -> k.startsWith("TANDEM_"));
    pb.environment().putAll(env);
    Process p = pb.start();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(200, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("local.sh " + String.join(" ", command) + " did not finish within 200 s");
    }
    String text = new String(out, StandardCharsets.UTF_8);
    System.out.println("local.sh " + String.join(" ", command) + " -> " + p.exitValue() + "\n" + text);
    return new Run(p.exitValue(), text);
  }

  /**
   * The answer of the API on {@code port} to one user message (greedy, 400 tokens at most), which
   * both models wrote in; {@code when} says in what situation, for the failure's message.
   */
  static JsonNode answerOfBoth(int port, String content, String when) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
        .timeout(Duration.ofSeconds(120)).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"messages\": [{\"role\": \"user\", \"content\": \"" + content + "\"}],"
            + " \"max_tokens\": 400, \"temperature\": 0}")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), when + ": " + r.body());
    JsonNode json = new ObjectMapper().readTree(r.body());
    assertTrue(json.at("/tandem/counters/tokens/small").asInt() > 0, when + ", the small model drafted: " + r.body());
    assertTrue(json.at("/tandem/counters/tokens/large").asInt() > 0, when + ", the large model took over: " + r.body());
    return json;
  }

  /** The first of {@code n} consecutive ports free on loopback. */
  static int freePorts(int n) throws IOException {
    for (int attempt = 0; attempt < 50; attempt++) {
      int base = LoopbackCluster.freePort(); // below the ephemeral range, as the nodes it names are other processes
      if (base + n > 65535) continue;
      boolean free = true;
      for (int i = 1; i < n && free; i++) {
        try (ServerSocket s = new ServerSocket(base + i, 1, InetAddress.getLoopbackAddress())) {
          free = LoopbackCluster.handOut(base + i);
        } catch (IOException taken) {
          free = false;
        }
      }
      if (free) return base;
    }
    throw new IOException("no " + n + " consecutive free ports on loopback");
  }

  private static Map<String, String> env(Path dir, int cluster, int http, String... more) {
    Map<String, String> env = new HashMap<>(Map.of("TANDEM_CLUSTER_DIR", dir.toString(),
        "TANDEM_CLUSTER_PORT", String.valueOf(cluster), "TANDEM_HTTP_PORT", String.valueOf(http),
        "TANDEM_JAVA_OPTS", "-Xmx512m"));
    for (int i = 0; i < more.length; i += 2) env.put(more[i], more[i + 1]);
    return env;
  }

  static List<String> pidFiles(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(f -> f.getFileName().toString()).filter(f -> f.endsWith(".pid")).toList();
    }
  }

  @Test
  void twoOrchestratorsServeTheDemoPairEachOnItsOwnPortAndStatusNeedsNoSettings(@TempDir Path dir) throws Exception {
    assertTrue(Files.isRegularFile(repo().resolve("ops/target/tandem-ops.jar")), "the launcher is packaged");
    int cluster = freePorts(4), http = freePorts(2);
    Map<String, String> env = env(dir, cluster, http, "TANDEM_ORCHESTRATORS", "2");
    try {
      Run up = run(env, "up");
      assertEquals(0, up.exit(), up.output());
      assertTrue(up.output().contains("http://127.0.0.1:" + http + "/ and http://127.0.0.1:" + (http + 1) + "/"), up.output());
      assertTrue(up.output().contains("ops/demo/small"), "the demo pair by default: " + up.output());

      Run status = run(Map.of("TANDEM_CLUSTER_DIR", dir.toString()), "status");
      assertEquals(0, status.exit(), "all four running, found from the settings `up` saved: " + status.output());
      assertTrue(status.output().contains("http://127.0.0.1:" + http + "/ ready")
          && status.output().contains("http://127.0.0.1:" + (http + 1) + "/ ready"), status.output());

      HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
      for (int port : new int[] {http, http + 1}) {
        String body = "{\"model\": \"tandem\", \"messages\": [{\"role\": \"user\", \"content\": "
            + "\"Compute 40 + 85 + 79 + 26 + 57 + 87.\"}], \"max_tokens\": 400, \"temperature\": 0}";
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
            .timeout(Duration.ofSeconds(120)).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        JsonNode json = new ObjectMapper().readTree(r.body());
        JsonNode message = json.at("/choices/0/message");
        String text = message.path("content").asText("") + message.path("reasoning_content").asText("");
        assertTrue(text.contains("\\boxed{"), "the demo pair answers a sum: " + text);
        assertTrue(json.at("/tandem/counters/tokens/large").asInt() > 0, "the large node took over: " + r.body());
        assertFalse(json.at("/tandem/degraded").asBoolean(false), r.body());
      }
      assertTrue(Files.size(dir.resolve("large.log")) > 0, "logs in one folder");
    } finally {
      assertEquals(0, run(Map.of("TANDEM_CLUSTER_DIR", dir.toString()), "down").exit());
    }
    assertNotEquals(0, run(Map.of("TANDEM_CLUSTER_DIR", dir.toString()), "status").exit(), "nothing left running after down");
    assertEquals(List.of(), pidFiles(dir));
  }

  @Test
  void statusAndDownWithoutTheFolderFindTheClusterUpStartedInAnotherOne(@TempDir Path dir) throws Exception {
    int cluster = freePorts(3), http = freePorts(1);
    Map<String, String> env = env(dir, cluster, http, "TANDEM_SMALL", "scripted:ops/cluster/demo/small.json",
        "TANDEM_LARGE", "scripted:ops/cluster/demo/large.json");
    try {
      assertEquals(0, run(env, "up").exit());
      Run status = run(Map.of(), "status");
      assertEquals(0, status.exit(), "found in the folder `up` used: " + status.output());
      assertTrue(status.output().contains(dir.getFileName() + "/orchestrator.log")
          && status.output().contains("http://127.0.0.1:" + http + "/ ready"), status.output());
      Run down = run(Map.of(), "down");
      assertEquals(0, down.exit(), down.output());
      assertTrue(down.output().contains("orchestrator (pid"), "the cluster `up` started was stopped: " + down.output());
      assertEquals(List.of(), pidFiles(dir));
      Run after = run(Map.of(), "status");
      assertNotEquals(0, after.exit(), "after down, status without the folder finds nothing running");
      assertTrue(after.output().contains("orchestrator: not running (cluster port " + cluster + ", HTTP port " + http + ")"),
          "the ports of the cluster that was stopped, not the defaults: " + after.output());
      Run restart = run(Map.of(), "restart", "small");
      assertEquals(1, restart.exit(), restart.output());
      assertTrue(restart.output().contains("is down; start it with ops/cluster/local.sh up"), restart.output());
    } finally {
      run(Map.of("TANDEM_CLUSTER_DIR", dir.toString()), "down");
    }
  }

  /**
   * Akka's seed-node rule at work: a crashed orchestrator restarted alone joins the running cluster
   * through the small node (every node lists both as seed nodes) instead of founding an empty one,
   * and its sessions get both workers again. A crashed worker restarted returns only once the
   * orchestrator offers its new incarnation, so the very next request can use it.
   */
  @Test
  void crashedNodesRestartedAloneRejoinTheRunningCluster(@TempDir Path dir) throws Exception {
    int cluster = freePorts(3), http = freePorts(1);
    Map<String, String> env = env(dir, cluster, http, "TANDEM_SMALL", "scripted:ops/cluster/demo/small.json",
        "TANDEM_LARGE", "scripted:ops/cluster/demo/large.json");
    Map<String, String> same = Map.of("TANDEM_CLUSTER_DIR", dir.toString());
    try {
      assertEquals(0, run(env, "up").exit());
      for (String node : List.of("orchestrator", "large")) {
        ProcessHandle process = ProcessHandle.of(Long.parseLong(Files.readString(dir.resolve(node + ".pid")).strip()))
            .orElseThrow();
        process.destroyForcibly(); // kill -9
        process.onExit().get(30, TimeUnit.SECONDS);

        // status tells a node that died by itself (its pid file kept) from one down stopped, and says what to do.
        Run status = run(same, "status");
        assertNotEquals(0, status.exit(), status.output());
        assertTrue(status.output().contains(node + ": exited (pid " + process.pid() + ")")
            && status.output().contains("it said nothing on exit (killed?); its log " + dir.resolve(node + ".log") + " ends:")
            && status.output().contains("start it again with ops/cluster/local.sh restart " + node), status.output());

        Run restart = run(same, "restart", node);
        assertEquals(0, restart.exit(), restart.output());
        assertTrue(restart.output().contains("local.sh: " + node + " restarted;"), restart.output());
        answerOfBoth(http, "hi", "after restarting " + node);
      }

      Run which = run(same, "restart", "nobody");
      assertEquals(2, which.exit(), which.output());
      assertEquals("local.sh: restart nobody: no such node in this cluster; give one of orchestrator small large",
          which.output().strip());

      // Every node crashed. A worker restarted first says what else is down and keeps trying to join
      // (local.sh runs nodes without Akka's join deadline, Tandem's 60 s), so the orchestrator may
      // follow at any time. A restart that cannot bind the HTTP port says so instead of "restarted";
      // one that can returns once the orchestrator answers, though a worker is still down.
      for (String node : List.of("orchestrator", "small", "large")) {
        ProcessHandle process = ProcessHandle.of(Long.parseLong(Files.readString(dir.resolve(node + ".pid")).strip()))
            .orElseThrow();
        process.destroyForcibly();
        process.onExit().get(30, TimeUnit.SECONDS);
      }
      long smallLogBefore = Files.readAllLines(dir.resolve("small.log")).size();
      Run first = run(same, "restart", "small");
      assertEquals(0, first.exit(), first.output());
      assertTrue(first.output().contains("local.sh: small restarted; orchestrator and large not running, so the cluster is not ready"
          + " until they run again (local.sh restart orchestrator, local.sh restart large)"), first.output());
      String keepsTrying = "it keeps trying (akka.cluster.shutdown-after-unsuccessful-join-seed-nodes = off)";
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (Files.readAllLines(dir.resolve("small.log")).stream().skip(smallLogBefore).noneMatch(l -> l.endsWith(keepsTrying))) {
        assertTrue(System.nanoTime() < deadline, "small does not say that it keeps trying to join: "
            + Files.readString(dir.resolve("small.log")));
        Thread.sleep(200); // polling interval, not a wait for an event
      }
      try (java.net.ServerSocket taken = new java.net.ServerSocket(http, 50, java.net.InetAddress.getLoopbackAddress())) {
        Run refused = run(same, "restart", "orchestrator");
        assertEquals(1, refused.exit(), refused.output());
        assertTrue(refused.output().contains("local.sh: HTTP port " + http + " of orchestrator is in use on 127.0.0.1;"),
            refused.output());
        assertFalse(refused.output().contains("restarted"), refused.output());
      }
      Run alone = run(same, "restart", "orchestrator");
      assertEquals(0, alone.exit(), alone.output());
      assertTrue(alone.output().contains("local.sh: orchestrator restarted; large not running, so the cluster is not ready until it runs"
          + " again (local.sh restart large)"), alone.output());
      HttpResponse<String> live = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
          URI.create("http://127.0.0.1:" + http + "/health/live")).timeout(Duration.ofSeconds(10)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, live.statusCode(), live.body());
      Run last = run(same, "restart", "large");
      assertEquals(0, last.exit(), last.output());
      assertTrue(last.output().contains("local.sh: large restarted; the cluster answers on http://127.0.0.1:" + http + "/"), last.output());
      answerOfBoth(http, "hi", "with the small node restarted first");

      // A node stopped by a signal (SIGSTOP) is said to be, not "running" (tester44b); down continues it to
      // drain instead of killing it after 60 s, and names a node that had died rather than passing over it.
      long small = Long.parseLong(Files.readString(dir.resolve("small.pid")).strip());
      assertEquals(0, new ProcessBuilder("kill", "-STOP", Long.toString(small)).start().waitFor());
      Run stopped = run(same, "status");
      assertNotEquals(0, stopped.exit(), stopped.output());
      assertTrue(stopped.output().contains("small: stopped by a signal (pid " + small + ", SIGSTOP or Ctrl-Z): it answers nothing;"
          + " resume it with kill -CONT " + small), stopped.output());
      // restart lets large leave only once the cluster has removed the stopped small node (a node leaving while another is
      // unreachable can make the split brain resolver down a healthy one; tester50f), and does not wait for readiness
      // that small holds back: it says to start it again (tester44c: 120 s, then "restart the one that left").
      Run beside = run(same, "restart", "large");
      assertEquals(0, beside.exit(), beside.output());
      assertTrue(beside.output().contains("local.sh: waiting for the cluster to remove small (stopped by a signal, pid " + small
          + ": kill -CONT " + small + " resumes it) before large leaves it"), beside.output());
      assertTrue(beside.output().contains("local.sh: large restarted; small (stopped by a signal, and removed from the cluster"
          + " meanwhile) not running, so the cluster is not ready until it runs again (local.sh restart small)"), beside.output());
      ProcessHandle large = ProcessHandle.of(Long.parseLong(Files.readString(dir.resolve("large.pid")).strip())).orElseThrow();
      large.destroyForcibly();
      large.onExit().get(30, TimeUnit.SECONDS);
      long downStarted = System.nanoTime();
      Run down = run(same, "down");
      assertEquals(0, down.exit(), down.output());
      assertTrue(down.output().contains("local.sh: large (pid " + large.pid() + ") had already exited; it said nothing on exit"
          + " (killed?)"), down.output());
      // Continued first: it drains, or, downed by the cluster while it was stopped, it has exited by its own step.
      assertTrue(down.output().contains("local.sh: small (pid " + small + ") "), down.output());
      assertFalse(down.output().contains("local.sh: small (pid " + small + ") killed"), "continued, not killed: " + down.output());
      assertTrue(System.nanoTime() - downStarted < TimeUnit.SECONDS.toNanos(50), "not held to the 60 s kill: " + down.output());
    } finally {
      run(same, "down");
    }
  }

  /**
   * Model folders whose path holds a space, as a desktop's "my models": each reaches its node as one
   * argument, when {@code up} starts it and when {@code restart} starts it again from the saved settings.
   */
  @Test
  void modelFoldersWithASpaceInTheirPathServeAndRestart(@TempDir Path dir) throws Exception {
    Path models = dir.resolve("my models");
    for (String model : List.of("small", "large")) copyFolder(repo().resolve("ops/demo").resolve(model), models.resolve(model));
    int cluster = freePorts(3), http = freePorts(1);
    Path nodes = dir.resolve("nodes");
    Map<String, String> env = env(nodes, cluster, http, "TANDEM_SMALL", models.resolve("small").toString(),
        "TANDEM_LARGE", models.resolve("large").toString());
    Map<String, String> same = Map.of("TANDEM_CLUSTER_DIR", nodes.toString());
    try {
      Run up = run(env, "up");
      assertEquals(0, up.exit(), up.output());
      Run restart = run(same, "restart", "small");
      assertEquals(0, restart.exit(), restart.output());
      answerOfBoth(http, "Compute 40 + 85 + 79 + 26 + 57 + 87.", "with the models in \"my models\"");
    } finally {
      run(same, "down");
    }
  }

  private static void copyFolder(Path from, Path to) throws IOException {
    Files.createDirectories(to);
    try (Stream<Path> files = Files.list(from)) {
      for (Path f : files.toList()) Files.copy(f, to.resolve(f.getFileName().toString()));
    }
  }

  @Test
  void takenPortsAreRefusedBeforeAnyNodeStarts(@TempDir Path dir) throws Exception {
    int cluster = freePorts(3), http = freePorts(1);
    try (ServerSocket otherHttp = new ServerSocket(http, 1, InetAddress.getLoopbackAddress());
        ServerSocket otherLarge = new ServerSocket(cluster + 2, 1, InetAddress.getLoopbackAddress())) {
      Run up = run(env(dir, cluster, http), "up");
      assertEquals(1, up.exit(), up.output());
      assertTrue(up.output().contains("HTTP port " + http + " (orchestrator)")
          && up.output().contains("cluster port " + (cluster + 2) + " (large)")
          && up.output().contains("TANDEM_HTTP_PORT=N"), up.output());
      assertFalse(up.output().contains("started"), "no node started: " + up.output());
      assertEquals(List.of(), pidFiles(dir));
    }
  }

  @Test
  void aNodeThatDiesWhileStartingTakesTheOthersDownAndUpFails(@TempDir Path dir) throws Exception {
    int cluster = freePorts(3), http = freePorts(1);
    Run up = run(env(dir, cluster, http, "TANDEM_LARGE", dir.resolve("no-such-model").toString()), "up");
    assertEquals(1, up.exit(), up.output());
    assertTrue(up.output().contains("large exited") && up.output().contains("no such folder"), up.output());
    Matcher started = Pattern.compile("started (\\w+) \\(pid (\\d+)\\)").matcher(up.output());
    List<Long> pids = new ArrayList<>();
    while (started.find()) pids.add(Long.parseLong(started.group(2)));
    assertEquals(3, pids.size(), up.output());
    for (long pid : pids) {
      assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "pid " + pid + " was stopped");
    }
    assertEquals(List.of(), pidFiles(dir));
  }

  @Test
  void statusDoesNotTakeAnotherServerOnTheHttpPortForTheClustersApi(@TempDir Path dir) throws Exception {
    com.sun.net.httpserver.HttpServer other =
        com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    other.createContext("/", ex -> {
      ex.sendResponseHeaders(200, -1);
      ex.close();
    });
    other.start();
    try {
      int http = other.getAddress().getPort();
      Run status = run(env(dir, freePorts(3), http), "status");
      assertEquals(1, status.exit(), status.output());
      assertTrue(status.output().contains("http: 127.0.0.1:" + http + " not ready (orchestrator is not running)"),
          status.output());
      assertFalse(status.output().contains("http://127.0.0.1:" + http + "/ ready"), status.output());
    } finally {
      other.stop(0);
    }
  }

  @Test
  void aPortThatIsNoNumberAndAnUnknownCommandGetOneLineBeforeAnythingStarts(@TempDir Path dir) throws Exception {
    Run up = run(env(dir, freePorts(3), 8080, "TANDEM_HTTP_PORT", "abc"), "up");
    assertEquals(2, up.exit(), up.output());
    assertEquals("local.sh: TANDEM_HTTP_PORT=abc: not a port; give a number from 1 to 65535", up.output().strip());
    assertEquals(List.of(), Files.exists(dir) ? pidFiles(dir) : List.of());
    Run frob = run(Map.of("TANDEM_CLUSTER_DIR", dir.toString()), "frob");
    assertEquals(2, frob.exit());
    assertEquals("local.sh: unknown command 'frob'; give up, status, down, restart NODE or --help", frob.output().strip());
  }
}
