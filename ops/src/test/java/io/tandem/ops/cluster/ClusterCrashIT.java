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

/**
 * The cluster survives a crashed node: real {@code tandem serve} processes on 127.0.0.1,
 * 8 concurrent chat requests (half streamed) through the HTTP API, and {@code kill -9} of a node
 * while they run. Every request ends within 10 s of the kill, as a result or as an OpenAI error
 * object (within 20 s where the node killed held the role's only worker: sessions wait for the
 * cluster to remove it); a restarted node is used again; a second orchestrator keeps serving when
 * the first dies.
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
  /**
   * How soon after the kill of the only node of a role every request must have ended: a session
   * does not give up the role's only worker while its node is merely unreachable (2.5-4 s after the
   * kill), only once the split brain resolver has downed it (stable-after, 7 s) and it is removed.
   */
  private static final Duration ONLY_ONE_WITHIN = Duration.ofSeconds(20);
  private static final int REQUESTS = 8;
  private static final String MOVED = "mid-step; looking for another of its role";
  /** Long enough that the kill comes mid-flight, short enough that what is left fits in {@link #WITHIN}. */
  private static final int SCRIPT_TOKENS = 250;

  /** The models and every node's log, kept after the run (build output). */
  static Path dir;
  static String small, large;
  static ExecutorService pool;
  /** Seconds from each kill -9 to the first session acting on it (from the orchestrator's log). */
  static final List<Double> actedAfter = Collections.synchronizedList(new ArrayList<>());

  @BeforeAll
  static void models() throws Exception {
    dir = Files.createDirectories(TandemProcesses.repo().resolve("ops/target/cluster-crash-it"));
    assertTrue(Files.isRegularFile(TandemProcesses.repo().resolve("ops/target/tandem-ops.jar")), "the launcher is packaged");
    Path s = dir.resolve("small.json"), l = dir.resolve("large.json");
    Files.writeString(s, TandemProcesses.JSON.writeValueAsString(Map.of("tokens", LoopbackCluster.script(SCRIPT_TOKENS, false))));
    Files.writeString(l, TandemProcesses.JSON.writeValueAsString(Map.of("tokens", LoopbackCluster.script(SCRIPT_TOKENS, true))));
    Path sl = dir.resolve("small-latency.json"), ll = dir.resolve("large-latency.json");
    Files.writeString(sl, "{\"decode_ms_per_step\": 2, \"prefill_ms_per_token\": 0.01, \"batch_growth\": 0.01}");
    Files.writeString(ll, "{\"decode_ms_per_step\": 5, \"prefill_ms_per_token\": 0.05, \"batch_growth\": 0.01}");
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

    @Override
    public String toString() {
      StringBuilder text = new StringBuilder();
      for (JsonNode e : events) text.append(e.at("/choices/0/delta/content").asText(""));
      return (streamed ? "stream" : "response") + " " + status + (retryAfter == null ? "" : " Retry-After " + retryAfter)
          + " tandem=" + tandem() + " error=" + error() + (streamed ? " events=" + events.size() + " done=" + done
          + " large chunks after the kill=" + largeChunksAfterKill + " text=" + text : "");
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

  /** Waits for every answer; each must have come {@code within} of the kill. */
  private static List<Answer> awaitAll(List<CompletableFuture<Answer>> calls, Clock clock, Duration within)
      throws Exception {
    List<Answer> out = new ArrayList<>();
    for (CompletableFuture<Answer> f : calls) {
      Answer a = f.get(60, TimeUnit.SECONDS);
      double after = (a.endNanos() - clock.killNanos) / 1e9;
      assertTrue(after <= within.toSeconds(), "answered " + after + " s after the kill: " + a);
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

  /** The answers to the requests sent to each orchestrator, and when the kill came. */
  record Killed(Clock clock, List<List<Answer>> answers) {}

  /**
   * Sends {@link #REQUESTS} requests (half streamed) to each of {@code to}, kills {@code victim}
   * once clients have been streamed large-model text, and returns every answer, each checked to
   * have come {@code within} of the kill.
   */
  private static Killed sendAndKill(TandemProcesses c, TandemProcesses.Node victim, Duration within,
      TandemProcesses.Node... to) throws Exception {
    return sendAndKillOneOf(c, List.of(victim), within, to).killed();
  }

  /** What {@link #sendAndKillOneOf} did: the answers, and which node it killed. */
  record KilledOne(Killed killed, TandemProcesses.Node victim) {}

  /**
   * As {@link #sendAndKill}, but the victim is whichever worker node of {@code candidates} the
   * sessions bind to first: sessions pick among workers by load and affinity, so which of two
   * workers of a role a burst lands on is not fixed.
   */
  private static KilledOne sendAndKillOneOf(TandemProcesses c, List<TandemProcesses.Node> candidates,
      Duration within, TandemProcesses.Node... to) throws Exception {
    Clock clock = new Clock();
    CountDownLatch largeSeen = new CountDownLatch(2);
    LocalTime sent = LocalTime.now();
    List<List<CompletableFuture<Answer>>> calls = new ArrayList<>();
    for (TandemProcesses.Node o : to) calls.add(send(c, o, REQUESTS, largeSeen, clock));
    TandemProcesses.Node victim = candidates.get(0);
    if (victim.httpPort == 0) {
      // A worker node is killed once sessions use it (each session logs the workers it binds to).
      java.util.function.Function<String, TandemProcesses.Node> boundTo = l -> {
        for (TandemProcesses.Node n : candidates)
          if (l.contains("worker akka://tandem@127.0.0.1:" + n.clusterPort + "/")) return n;
        return null;
      };
      String line = c.awaitLogLine(to[0], sent, l -> boundTo.apply(l) != null,
          "session bound to " + candidates.stream().map(n -> n.name).toList(), Duration.ofSeconds(30));
      victim = boundTo.apply(line);
    }
    killMidFlight(c, victim, largeSeen, clock);
    List<List<Answer>> answers = new ArrayList<>();
    for (List<CompletableFuture<Answer>> l : calls) answers.add(awaitAll(l, clock, within));
    return new KilledOne(new Killed(clock, answers), victim);
  }

  /** {@code a} finished normally, with the large model's takeovers, not degraded. */
  private static void assertFinishedWithTakeovers(Answer a, String what) {
    assertTrue(a.finishedOk(), what + ": " + a);
    assertFalse(a.tandem().path("degraded").asBoolean(), a.toString());
    assertTrue(a.tandem().at("/counters/takeovers").asInt() > 0, a.toString());
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
   * large node. The large node is killed mid-flight: once the cluster has removed it, the degrading
   * side finishes all 8 with the small model, the failing side ends all 8 with a retryable 503 (or,
   * once streaming, an SSE error event); the large node restarts and takes over again; then the first orchestrator is
   * killed and the second's requests all finish.
   */
  @Test
  void losingTheOnlyLargeNodeDegradesOrFailsOnceItIsRemovedAndARestartedNodeIsUsedAgainAndASecondFrontDoorOutlivesTheFirst()
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

      Killed largeLost = sendAndKill(c, largeNode, ONLY_ONE_WITHIN, degrading, failing);
      int degraded = 0;
      for (Answer a : largeLost.answers().get(0)) {
        assertTrue(a.finishedOk(), "with degrade every request finishes: " + a);
        if (a.tandem().path("degraded").asBoolean()) degraded++;
      }
      assertTrue(degraded > 0, "the requests running at the kill finished degraded");
      for (Answer a : largeLost.answers().get(1)) {
        JsonNode error = a.error();
        assertNotNull(error, "with fail every request ends with an error object: " + a);
        // A lost worker is FailureCode.WORKER_LOST (or NO_WORKER): a retryable 503 "service_unavailable".
        assertEquals("service_unavailable", error.path("code").asText(), a.toString());
        if (a.streamed() && a.status() == 200) {
          assertTrue(a.done(), "the error event is followed by [DONE]: " + a);
        } else {
          assertEquals(503, a.status(), a.toString());
          assertNotNull(a.retryAfter(), "Retry-After: " + a);
        }
      }
      recordActing(c, largeLost.clock(), degrading, failing);

      // Coming back: the large node restarts on the same address; new sessions use it again.
      long restart = System.nanoTime();
      c.awaitOffered(degrading, largeNode, c.restart(largeNode), Duration.ofSeconds(30));
      c.awaitWorkers(degrading, 1, 1, Duration.ofSeconds(30));
      // The other front door's requests below need it too (its listing can lag the first's by seconds).
      c.awaitWorkers(failing, 1, 1, Duration.ofSeconds(30));
      Answer again = call(c, degrading, false, new CountDownLatch(1), new Clock());
      assertEquals(200, again.status(), again.toString());
      assertTrue(again.tandem().at("/counters/takeovers").asInt() > 0, "the restarted large node takes over: " + again);
      assertFalse(again.tandem().path("degraded").asBoolean(), again.toString());
      assertTrue(System.nanoTime() - restart < Duration.ofSeconds(30).toNanos(), "back within 30 s");

      // Two front doors: killing one orchestrator leaves the other's requests and API unaffected.
      for (Answer a : sendAndKill(c, degrading, WITHIN, failing).answers().get(0))
        assertFinishedWithTakeovers(a, "the other orchestrator's requests finish");
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
      TandemProcesses.Node small2 = c.start("small-2", List.of("small"), Map.of());
      TandemProcesses.Node large1 = c.start("large-1", List.of("large"), Map.of());
      TandemProcesses.Node large2 = c.start("large-2", List.of("large"), Map.of());
      c.awaitWorkers(orchestrator, 2, 2, Duration.ofSeconds(90));

      int kills = 1 + Integer.getInteger("tandem.it.extra-kills", 0);
      TandemProcesses.Node lastKilled = null;
      for (int k = 0; k < kills; k++) {
        if (k > 0) {
          c.awaitOffered(orchestrator, lastKilled, c.restart(lastKilled), Duration.ofSeconds(60));
          c.awaitWorkers(orchestrator, 2, 2, Duration.ofSeconds(30));
        }
        KilledOne killedLarge = sendAndKillOneOf(c, List.of(large1, large2), WITHIN, orchestrator);
        lastKilled = killedLarge.victim();
        Killed largeLost = killedLarge.killed();
        long takeoversAfterKill = 0;
        for (Answer a : largeLost.answers().get(0)) {
          assertFinishedWithTakeovers(a, "every request finishes");
          takeoversAfterKill += a.largeChunksAfterKill();
        }
        assertTrue(takeoversAfterKill > 0, "the surviving large node wrote takeovers after the kill");
        recordActing(c, largeLost.clock(), orchestrator);
      }

      Killed smallLost = sendAndKillOneOf(c, List.of(small1, small2), WITHIN, orchestrator).killed();
      for (Answer a : smallLost.answers().get(0)) assertFinishedWithTakeovers(a, "every request finishes on the other small node");
      recordActing(c, smallLost.clock(), orchestrator);
    }
  }
}
