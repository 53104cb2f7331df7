package io.tandem.ops.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster survives a crashed node: real {@code tandem serve} processes on 127.0.0.1,
 * 8 concurrent chat requests (half streamed) through the HTTP API, and {@code kill -9} of a node
 * while they run. Every request ends within 10 s of the kill, as a result or as an OpenAI error
 * object; a restarted node is used again; a second orchestrator keeps serving when the first dies.
 *
 * <p>The models are simulated (scripted text, per-step latency), so that "mid-flight" is
 * deterministic: the large model writes in capitals, and the kill comes once a client has been
 * streamed some of them. An integration test (failsafe, after {@code package}): it needs
 * {@code ops/target/tandem-ops.jar} and its {@code lib/}. With {@code -Dtandem.it.extra-kills=N}
 * it kills and restarts a large node N more times, for the figures of how soon sessions act.
 */
class ClusterCrashIT {
  /** How soon after a kill every request must have ended. */
  private static final Duration WITHIN = Duration.ofSeconds(10);
  private static final int REQUESTS = 8;
  private static final String MOVED = "mid-step; moving to another";

  @TempDir static Path dir;
  static String small, large;
  static ExecutorService pool;
  /** Seconds from each kill -9 to the first session acting on it (from the orchestrator's log). */
  static final List<Double> actedAfter = Collections.synchronizedList(new ArrayList<>());

  @BeforeAll
  static void models() throws Exception {
    assertTrue(Files.isRegularFile(TandemProcesses.repo().resolve("ops/target/tandem-ops.jar")), "the launcher is packaged");
    Path s = dir.resolve("small.json"), l = dir.resolve("large.json");
    Files.writeString(s, TandemProcesses.JSON.writeValueAsString(Map.of("tokens", LoopbackCluster.script(500, false))));
    Files.writeString(l, TandemProcesses.JSON.writeValueAsString(Map.of("tokens", LoopbackCluster.script(500, true))));
    Path sl = dir.resolve("small-latency.json"), ll = dir.resolve("large-latency.json");
    Files.writeString(sl, "{\"decode_ms_per_step\": 4, \"prefill_ms_per_token\": 0.01, \"batch_growth\": 0.01}");
    Files.writeString(ll, "{\"decode_ms_per_step\": 10, \"prefill_ms_per_token\": 0.05, \"batch_growth\": 0.01}");
    small = "simulated:" + s + "?latency=" + sl;
    large = "simulated:" + l + "?latency=" + ll;
    pool = Executors.newCachedThreadPool();
  }

  @AfterAll
  static void report() {
    pool.shutdownNow();
    List<Double> xs = new ArrayList<>(actedAfter);
    Collections.sort(xs);
    if (!xs.isEmpty())
      System.out.printf("ClusterCrashIT: kill -9 to the first session acting, over %d kills: p50 %.2f s, max %.2f s (%s)%n",
          xs.size(), xs.get((xs.size() - 1) / 2), xs.get(xs.size() - 1), xs);
  }

  /** One request's end as its client saw it. */
  record Answer(boolean streamed, int status, String retryAfter, JsonNode body, List<JsonNode> events,
      boolean done, long largeChunksAfterKill, long endNanos) {

    /** The chunk or body that carries the tandem account (the last chunk with a finish_reason). */
    JsonNode tandem() {
      if (!streamed) return body.path("tandem");
      for (int i = events.size() - 1; i >= 0; i--)
        if (events.get(i).has("tandem") && !events.get(i).at("/choices/0/finish_reason").isNull()
            && events.get(i).at("/choices/0/finish_reason").isTextual())
          return events.get(i).path("tandem");
      return null;
    }

    /** The error object a streamed answer ended with, or the body of an error response. */
    JsonNode error() {
      if (!streamed) return body.path("error");
      for (JsonNode e : events) if (e.has("error")) return e.path("error");
      return null;
    }

    boolean finishedOk() {
      JsonNode t = tandem();
      return status == 200 && t != null && "stop".equals(t.path("finish_reason").asText()) && (!streamed || done);
    }
  }

  /** When the kill came: answers' times are measured from it. */
  private static final class Clock {
    volatile long killNanos = Long.MAX_VALUE;
    LocalTime killedAt;
  }

  private static List<CompletableFuture<Answer>> send(TandemProcesses c, TandemProcesses.Node orchestrator, int n,
      CountDownLatch largeSeen, Clock clock) {
    List<CompletableFuture<Answer>> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      boolean stream = i % 2 == 0;
      out.add(CompletableFuture.supplyAsync(() -> {
        try {
          return call(c, orchestrator, stream, largeSeen, clock);
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      }, pool));
    }
    return out;
  }

  private static Answer call(TandemProcesses c, TandemProcesses.Node orchestrator, boolean stream, CountDownLatch largeSeen,
      Clock clock) throws Exception {
    String body = "{\"model\": \"tandem\", \"messages\": [{\"role\": \"user\", \"content\": \"Compute.\"}],"
        + " \"max_tokens\": 4000, \"temperature\": 0" + (stream ? ", \"stream\": true" : "") + "}";
    HttpRequest req = HttpRequest.newBuilder(orchestrator.uri("/v1/chat/completions")).timeout(Duration.ofSeconds(90))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
    if (!stream) {
      HttpResponse<String> r = c.http.send(req, HttpResponse.BodyHandlers.ofString());
      return new Answer(false, r.statusCode(), r.headers().firstValue("Retry-After").orElse(null),
          TandemProcesses.JSON.readTree(r.body()), List.of(), true, 0, System.nanoTime());
    }
    HttpResponse<Stream<String>> r = c.http.send(req, HttpResponse.BodyHandlers.ofLines());
    List<JsonNode> events = new ArrayList<>();
    boolean done = false;
    long largeAfterKill = 0;
    JsonNode errorBody = null;
    for (String line : (Iterable<String>) r.body()::iterator) {
      if (r.statusCode() != 200) {
        errorBody = TandemProcesses.JSON.readTree(line);
        continue;
      }
      if (!line.startsWith("data: ")) continue;
      String data = line.substring(6);
      if (data.equals("[DONE]")) {
        done = true;
        continue;
      }
      JsonNode e = TandemProcesses.JSON.readTree(data);
      events.add(e);
      if ("large".equals(e.at("/tandem/author").asText())) {
        largeSeen.countDown();
        if (System.nanoTime() > clock.killNanos) largeAfterKill++;
      }
    }
    return new Answer(true, r.statusCode(), r.headers().firstValue("Retry-After").orElse(null), errorBody, events, done,
        largeAfterKill, System.nanoTime());
  }

  /** Waits for every answer; each must have come within {@link #WITHIN} of the kill. */
  private static List<Answer> awaitAll(List<CompletableFuture<Answer>> calls, Clock clock) throws Exception {
    List<Answer> out = new ArrayList<>();
    for (CompletableFuture<Answer> f : calls) {
      Answer a = f.get(60, TimeUnit.SECONDS);
      double after = (a.endNanos() - clock.killNanos) / 1e9;
      assertTrue(after <= WITHIN.toSeconds(), "answered " + after + " s after the kill: " + a);
      out.add(a);
    }
    return out;
  }

  /** Kills {@code node} once {@code progress} shows the requests under way. */
  private static void killMidFlight(TandemProcesses c, TandemProcesses.Node node, CountDownLatch progress, Clock clock)
      throws Exception {
    assertTrue(progress.await(60, TimeUnit.SECONDS), "the requests got under way");
    clock.killNanos = System.nanoTime();
    clock.killedAt = c.kill(node);
  }

  /** Records how soon after the kill the first session (on any of {@code orchestrators}) acted on it. */
  private static void recordActing(TandemProcesses c, Clock clock, TandemProcesses.Node... orchestrators)
      throws Exception {
    LocalTime first = null;
    for (TandemProcesses.Node o : orchestrators)
      for (LocalTime t : c.logTimes(o, clock.killedAt, l -> l.contains(MOVED)))
        if (first == null || t.isBefore(first)) first = t;
    assertNotNull(first, "a session logged acting on the loss");
    actedAfter.add(Duration.between(clock.killedAt, first).toMillis() / 1000.0);
  }

  // ---- the scenarios

  /**
   * Two orchestrators (one degrades, one fails on losing the large model), one small and one
   * large node. The large node is killed mid-flight: the degrading side finishes all 8 with the
   * small model, the failing side ends all 8 with a retryable 503 (or, once streaming, an SSE
   * error event); the large node restarts and takes over again; then the first orchestrator is
   * killed and the second's requests all finish.
   */
  @Test
  void losingTheOnlyLargeNodeDegradesOrFailsWithin10sAndARestartedNodeIsUsedAgainAndASecondFrontDoorOutlivesTheFirst()
      throws Exception {
    try (TandemProcesses c = new TandemProcesses(Files.createDirectories(dir.resolve("one-large")), small, large)) {
      TandemProcesses.Node degrading = c.start("orchestrator-degrade", List.of("orchestrator"),
          Map.of("tandem.session.on-large-loss", "degrade"));
      TandemProcesses.Node failing = c.start("orchestrator-fail", List.of("orchestrator"),
          Map.of("tandem.session.on-large-loss", "fail"));
      c.start("small", List.of("small"), Map.of());
      TandemProcesses.Node largeNode = c.start("large", List.of("large"), Map.of());
      c.awaitWorkers(degrading, 1, 1, Duration.ofSeconds(90));
      c.awaitWorkers(failing, 1, 1, Duration.ofSeconds(30));

      Clock clock = new Clock();
      CountDownLatch largeSeen = new CountDownLatch(2);
      List<CompletableFuture<Answer>> degrade = send(c, degrading, REQUESTS, largeSeen, clock);
      List<CompletableFuture<Answer>> fail = send(c, failing, REQUESTS, largeSeen, clock);
      killMidFlight(c, largeNode, largeSeen, clock);
      int degraded = 0;
      for (Answer a : awaitAll(degrade, clock)) {
        assertTrue(a.finishedOk(), "with degrade every request finishes: " + a);
        if (a.tandem().path("degraded").asBoolean()) degraded++;
      }
      assertTrue(degraded > 0, "the requests running at the kill finished degraded");
      for (Answer a : awaitAll(fail, clock)) {
        JsonNode error = a.error();
        assertNotNull(error, "with fail every request ends with an error object: " + a);
        assertEquals("server_overloaded", error.path("code").asText(), a.toString());
        if (a.streamed() && a.status() == 200) {
          assertTrue(a.done(), "the error event is followed by [DONE]: " + a);
        } else {
          assertEquals(503, a.status(), a.toString());
          assertNotNull(a.retryAfter(), "Retry-After: " + a);
        }
      }
      recordActing(c, clock, degrading, failing);

      // Coming back: the large node restarts on the same address; new sessions use it again.
      long restart = System.nanoTime();
      c.restart(largeNode);
      c.awaitWorkers(degrading, 1, 1, Duration.ofSeconds(30));
      Answer again = call(c, degrading, false, new CountDownLatch(1), new Clock());
      assertEquals(200, again.status(), again.toString());
      assertTrue(again.tandem().at("/counters/takeovers").asInt() > 0, "the restarted large node takes over: " + again);
      assertFalse(again.tandem().path("degraded").asBoolean(), again.toString());
      assertTrue(System.nanoTime() - restart < Duration.ofSeconds(30).toNanos(), "back within 30 s");

      // Two front doors: killing one orchestrator leaves the other's requests and API unaffected.
      Clock second = new Clock();
      CountDownLatch underWay = new CountDownLatch(2);
      List<CompletableFuture<Answer>> survivors = send(c, failing, REQUESTS, underWay, second);
      killMidFlight(c, degrading, underWay, second);
      for (Answer a : awaitAll(survivors, second)) {
        assertTrue(a.finishedOk(), "the other orchestrator's requests finish: " + a);
        assertFalse(a.tandem().path("degraded").asBoolean(), a.toString());
        assertTrue(a.tandem().at("/counters/takeovers").asInt() > 0, a.toString());
      }
      Answer after = call(c, failing, true, new CountDownLatch(1), new Clock());
      assertTrue(after.finishedOk(), "its HTTP API keeps answering: " + after);
    }
  }

  /**
   * Two small and two large nodes: killing a large node mid-flight moves its sessions' takeovers
   * to the survivor; killing a small node moves their drafts to the other small one. Every
   * request finishes, none degraded, within 10 s of each kill.
   */
  @Test
  void losingOneOfTwoLargeOrSmallNodesMovesItsSessionsToTheSurvivorWithin10s() throws Exception {
    try (TandemProcesses c = new TandemProcesses(Files.createDirectories(dir.resolve("two-each")), small, large)) {
      // With fail, any session that found no worker to go on with would end in an error.
      TandemProcesses.Node orchestrator = c.start("orchestrator", List.of("orchestrator"),
          Map.of("tandem.session.on-large-loss", "fail"));
      TandemProcesses.Node small1 = c.start("small-1", List.of("small"), Map.of());
      c.start("small-2", List.of("small"), Map.of());
      TandemProcesses.Node large1 = c.start("large-1", List.of("large"), Map.of());
      c.start("large-2", List.of("large"), Map.of());
      c.awaitWorkers(orchestrator, 2, 2, Duration.ofSeconds(90));

      int kills = 1 + Integer.getInteger("tandem.it.extra-kills", 0);
      for (int k = 0; k < kills; k++) {
        if (k > 0) {
          c.restart(large1);
          c.awaitWorkers(orchestrator, 2, 2, Duration.ofSeconds(30));
        }
        Clock clock = new Clock();
        CountDownLatch largeSeen = new CountDownLatch(2);
        List<CompletableFuture<Answer>> calls = send(c, orchestrator, REQUESTS, largeSeen, clock);
        killMidFlight(c, large1, largeSeen, clock);
        long takeoversAfterKill = 0;
        for (Answer a : awaitAll(calls, clock)) {
          assertTrue(a.finishedOk(), "every request finishes: " + a);
          assertFalse(a.tandem().path("degraded").asBoolean(), a.toString());
          assertTrue(a.tandem().at("/counters/takeovers").asInt() > 0, a.toString());
          takeoversAfterKill += a.largeChunksAfterKill();
        }
        assertTrue(takeoversAfterKill > 0, "the surviving large node wrote takeovers after the kill");
        recordActing(c, clock, orchestrator);
      }

      Clock clock = new Clock();
      CountDownLatch underWay = new CountDownLatch(2);
      List<CompletableFuture<Answer>> calls = send(c, orchestrator, REQUESTS, underWay, clock);
      killMidFlight(c, small1, underWay, clock);
      for (Answer a : awaitAll(calls, clock)) {
        assertTrue(a.finishedOk(), "every request finishes on the other small node: " + a);
        assertFalse(a.tandem().path("degraded").asBoolean(), a.toString());
      }
      recordActing(c, clock, orchestrator);
    }
  }
}
