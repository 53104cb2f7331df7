package io.tandem.ops.cluster;

import static io.tandem.ops.cluster.ClusterFailoverTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.Address;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import akka.actor.ExtendedActorSystem;
import akka.cluster.Member;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Down;
import akka.remote.RemoteActorRefProvider;
import akka.remote.testkit.Blackhole$;
import akka.remote.testkit.Direction;
import akka.remote.testkit.SetThrottle;
import akka.remote.testkit.Unthrottled$;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.tandem.ops.TandemNode;
import io.tandem.orchestrator.http.HttpSettings;
import io.tandem.orchestrator.http.TandemHttpServer;
import io.tandem.orchestrator.session.StepTimings;
import io.tandem.orchestrator.session.NodeStanding;
import io.tandem.orchestrator.session.WorkerDirectory;
import io.tandem.protocol.Role;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * A new request that needs the large model (speculative, or mode large) and comes while the only
 * large node is unreachable (stalled: a GC pause, SIGSTOP, a network blip; here Artery's test
 * transport drops everything between the orchestrator and it) waits for that node, as Akka's
 * membership has it (an unreachable member is still a member until it is downed), bounded by
 * {@code tandem.session.worker-wait}: it goes on with the large model when the node is reachable
 * again, gets the answer it got before (a retryable 503, or the small model alone where configured)
 * as soon as the node is removed, and after worker-wait when the node stays unreachable. The
 * speculative request waits in its session, the one of mode large in the HTTP layer (a large worker
 * counts its prompt), both through the session directory. The orchestrator node runs the small
 * worker too; the large node is never downed unless a test downs it.
 */
class StalledLargeNodeTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String BODY =
      "{\"messages\":[{\"role\":\"user\",\"content\":\"Compute.\"}],\"max_tokens\":300";
  private static final String SPECULATIVE = BODY + "}";
  /** Mode large: a large worker counts the prompt, in the HTTP layer, before the session starts. */
  private static final String LARGE_ALONE = BODY + ",\"tandem\":{\"mode\":\"large\"}}";

  /** The orchestrator and small node: the test transport on, no downing, and {@code extra}. */
  private static Config orchestrator(String extra) {
    return ConfigFactory.parseString(extra + "\nakka.remote.artery.advanced.test-mode = on\n"
        + "akka.cluster.split-brain-resolver.stable-after = 1h\n");
  }

  private static final Config LARGE = ConfigFactory.parseString("akka.cluster.split-brain-resolver.stable-after = 1h");

  /** A cluster of an orchestrator-and-small node and a large node, with the orchestrator's HTTP server. */
  private record Pair(TandemNode front, TandemNode large, TandemHttpServer http, ConcurrentLinkedQueue<StepTimings> steps) {
    /** Starts the two nodes, each offered its workers, then stalls the large node. */
    static Pair stalled(LoopbackCluster c, String frontConfig) throws Exception {
      TandemNode a = c.node(orchestrator(frontConfig), "orchestrator", "small");
      TandemNode b = c.node(LARGE, "large");
      ConcurrentLinkedQueue<StepTimings> steps = ClusterFailoverTest.steps(a);
      ClusterFailoverTest.awaitWorkers(a);
      TandemHttpServer http = TandemHttpServer.start(a.system(), a.sessions(),
          HttpSettings.fromConfig(a.system().settings().config()).withPort(0)).toCompletableFuture().get(60, TimeUnit.SECONDS);
      Pair p = new Pair(a, b, http, steps);
      p.stall(true);
      return p;
    }

    /**
     * Starts the two nodes, each offered its workers, the front node configured with {@code frontConfig};
     * then the large node's own test transport drops what it sends to the front node (its answers
     * to heartbeats included), and what it receives from it too (Artery's test stages check one
     * blackhole on both sides of a node's link): nothing comes back.
     */
    static Pair muted(LoopbackCluster c, String frontConfig) throws Exception {
      TandemNode a = c.node(orchestrator(frontConfig), "orchestrator", "small");
      TandemNode b = c.node(ConfigFactory.parseString("akka.remote.artery.advanced.test-mode = on").withFallback(LARGE), "large");
      ClusterFailoverTest.awaitWorkers(a);
      TandemHttpServer http = TandemHttpServer.start(a.system(), a.sessions(),
          HttpSettings.fromConfig(a.system().settings().config()).withPort(0)).toCompletableFuture().get(60, TimeUnit.SECONDS);
      Pair p = new Pair(a, b, http, new ConcurrentLinkedQueue<>());
      p.muteLarge(true);
      return p;
    }

    /** Drops (or lets through again) what the large node sends to the front node, and receives from it (see {@link #muted}). */
    void muteLarge(boolean on) throws Exception {
      RemoteActorRefProvider provider = (RemoteActorRefProvider) ((ExtendedActorSystem) large.system().classicSystem()).provider();
      scala.jdk.javaapi.FutureConverters.asJava(provider.transport().managementCommand(new SetThrottle(
          Cluster.get(front.system()).selfMember().address(), Direction.Send$.MODULE$,
          on ? Blackhole$.MODULE$ : Unthrottled$.MODULE$)))
          .toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    Address largeAddress() {
      return Cluster.get(large.system()).selfMember().address();
    }

    /** Drops (or lets through again) everything between the front node and the large node: the large node stalls. */
    void stall(boolean on) throws Exception {
      blackhole(front, largeAddress(), on);
      await(() -> unreachable() == on, Duration.ofSeconds(30), "the large node is " + (on ? "unreachable" : "reachable again"));
    }

    /** Whether the front node's cluster no longer lists the large node. */
    boolean largeRemoved() {
      for (Member m : Cluster.get(front.system()).state().getMembers())
        if (m.address().equals(largeAddress())) return false;
      return true;
    }

    private boolean unreachable() {
      return unreachableFrom(front, largeAddress());
    }

    CompletableFuture<HttpResponse<String>> post(String body) {
      HttpRequest r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http.port() + "/v1/chat/completions"))
          .header("Content-Type", "application/json").timeout(Duration.ofSeconds(120))
          .POST(HttpRequest.BodyPublishers.ofString(body)).build();
      return HttpClient.newHttpClient().sendAsync(r, HttpResponse.BodyHandlers.ofString());
    }

    /**
     * Waits until the speculative request's session has run a small step, or the request was
     * answered: it was admitted meanwhile; neither it nor {@code others} is answered.
     */
    void awaitAdmitted(CompletableFuture<HttpResponse<String>> speculative, CompletableFuture<?>... others) throws Exception {
      await(() -> speculative.isDone() || steps.stream().anyMatch(s -> s.role() == Role.small), Duration.ofSeconds(30),
          "the request's session drafted, or the request was answered");
      assertNotAnswered(speculative);
      for (CompletableFuture<?> o : others) assertNotAnswered(o);
    }

    private static void assertNotAnswered(CompletableFuture<?> answer) {
      assertFalse(answer.isDone(), () -> "not answered while the large node is only unreachable: " + answer.join());
    }
  }

  @Test
  void aRequestArrivingWhileTheOnlyLargeNodeIsUnreachableGoesOnWithTheLargeModelOnceTheNodeIsBack(@TempDir Path dir)
      throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 200, 1, 1)) {
      // A minute's worker-wait: the request can only go on with the large model if its node comes back.
      Pair p = Pair.stalled(c, "tandem.session.worker-wait = 60s");
      CompletableFuture<HttpResponse<String>> alone = p.post(LARGE_ALONE);
      CompletableFuture<HttpResponse<String>> answer = p.post(SPECULATIVE);
      p.awaitAdmitted(answer, alone);
      p.stall(false);

      HttpResponse<String> r = answer.get(60, TimeUnit.SECONDS);
      assertEquals(200, r.statusCode(), r.body());
      JsonNode tandem = JSON.readTree(r.body()).path("tandem");
      assertFalse(tandem.path("degraded").asBoolean(), r.body());
      assertTrue(tandem.at("/counters/takeovers").asInt() > 0, "the large model took over: " + r.body());
      HttpResponse<String> large = alone.get(60, TimeUnit.SECONDS);
      assertEquals(200, large.statusCode(), large.body());
      String text = JSON.readTree(large.body()).at("/choices/0/message/content").asText();
      assertTrue(!text.isEmpty() && text.equals(text.toUpperCase()), "the large model (in capitals) wrote it: " + large.body());
    }
  }

  @Test
  void aRequestArrivingWhileTheOnlyLargeNodeStaysUnreachableGetsTheRetryable503AfterWorkerWait(@TempDir Path dir)
      throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 200, 1, 1)) {
      Pair p = Pair.stalled(c, "tandem.session.worker-wait = 3s\ntandem.session.on-large-loss = fail");
      long sent = System.nanoTime();
      CompletableFuture<HttpResponse<String>> alone = p.post(LARGE_ALONE);
      CompletableFuture<HttpResponse<String>> speculative = p.post(SPECULATIVE);
      CompletableFuture<Long> aloneAt = alone.thenApply(r -> System.nanoTime());
      CompletableFuture<Long> speculativeAt = speculative.thenApply(r -> System.nanoTime());
      assertAfterWorkerWait(speculative.get(60, TimeUnit.SECONDS), (speculativeAt.get() - sent) / 1e9,
          "no large worker is available (waited 3 s; retry the request once one is back, or send \"tandem\": {\"mode\":"
              + " \"small\"} to use the small model alone)");
      // Mode large: no large worker counted the prompt within worker-wait.
      assertAfterWorkerWait(alone.get(60, TimeUnit.SECONDS), (aloneAt.get() - sent) / 1e9,
          "no large worker is available (waited 3 s; none is offered to sessions: retry once one has joined");
    }
  }

  /**
   * A prompt counted by a worker whose node stalls after the count was sent (here the large node's
   * replies are dropped: unreachable to the front node within a few seconds) is waited for past
   * tandem.http.count-timeout, as a session waits for a stalled node, up to worker-wait: a stall of
   * a few seconds fails no count (a fresh tester's SIGSTOP of the small node for 6 s failed the two
   * requests whose counts it held, at the 5 s count-timeout, in words that blamed long prompts).
   */
  @Test
  void aCountHeldByANodeThatStallsWaitsForItUpToWorkerWaitNotTheCountTimeout(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 200, 1, 1)) {
      // Nothing the large node sends comes back, its answers to heartbeats included. It is unreachable after the
      // acceptable-heartbeat-pause (3 s) and a heartbeat or two, so the count-timeout leaves room for a loaded machine
      // (at 5 s one CI run's count timed out before the front node found the large node unreachable).
      Pair p = Pair.muted(c, "tandem.session.worker-wait = 12s\ntandem.http.count-timeout = 8s");
      long sent = System.nanoTime();
      HttpResponse<String> r = p.post(LARGE_ALONE).get(60, TimeUnit.SECONDS);
      double seconds = (System.nanoTime() - sent) / 1e9;
      assertEquals(503, r.statusCode(), r.body());
      String message = JSON.readTree(r.body()).at("/error/message").asText();
      assertTrue(message.contains("the large worker's node ") && message.contains(" is unreachable (stalled, or crashed and not"
          + " yet downed) and did not count the prompt within 12 s (tandem.session.worker-wait); retry the request"), r.body());
      assertTrue(seconds >= 12 && seconds < 12 + 10, "answered " + seconds + " s after it was sent, not at the 8 s count-timeout");
      // As long as the wait it already had, as every 503 for a worker not there says (tester54e: 1 beside their 10).
      assertEquals("12", r.headers().firstValue("Retry-After").orElse(null), r.headers().map().toString());
      // Reachable again, so that the nodes leave the cluster at the end without waiting on each other.
      p.muteLarge(false);
    }
  }

  /**
   * A count held by a stalled node, on an orchestrator node that is itself downed meanwhile (as a
   * node stopped with SIGSTOP finds when it runs again: its peers, which downed it, unreachable or
   * gone), names this node's removal, not the worker's node: tester42b's 503 blamed the small node.
   */
  @Test
  void aCountHeldWhenThisNodeIsDownedNamesThisNodesRemovalNotTheWorkersNode(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 200, 1, 1)) {
      Pair p = Pair.muted(c, "tandem.session.worker-wait = 14s\ntandem.http.count-timeout = 10s");
      CompletableFuture<HttpResponse<String>> answer = p.post(LARGE_ALONE);
      await(() -> p.unreachable(), Duration.ofSeconds(30), "the large node is unreachable to the front node");
      Address self = Cluster.get(p.front().system()).selfMember().address();
      Cluster.get(p.front().system()).manager().tell(new akka.cluster.typed.Down(self));
      HttpResponse<String> r = answer.get(60, TimeUnit.SECONDS);
      assertEquals(503, r.statusCode(), r.body());
      String message = JSON.readTree(r.body()).at("/error/message").asText();
      assertTrue(message.contains(NodeStanding.DOWNED + ", so no large worker's count of the prompt came; retry the request"),
          r.body());
      // The general Retry-After (1 s), as the sessions in flight on a downed node get: not worker-wait's 14 s.
      assertEquals("1", r.headers().firstValue("Retry-After").orElse(null), r.headers().map().toString());
    }
  }

  /** A retryable 503 saying {@code what}, {@code seconds} after it was sent: about worker-wait (3 s), not much later. */
  private static void assertAfterWorkerWait(HttpResponse<String> r, double seconds, String what) throws Exception {
    assertEquals(503, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("Retry-After").isPresent(), "Retry-After: " + r.headers().map());
    JsonNode error = JSON.readTree(r.body()).path("error");
    assertEquals("service_unavailable", error.path("code").asText(), r.body());
    assertTrue(error.path("message").asText().contains(what), r.body());
    assertTrue(seconds >= 3 && seconds < 3 + 10, "answered " + seconds + " s after it was sent: " + r.body());
  }

  @Test
  void aRequestWaitingForAnUnreachableLargeNodeDegradesAsSoonAsTheNodeIsRemoved(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 200, 1, 1)) {
      Pair p = Pair.stalled(c, "tandem.session.worker-wait = 60s\ntandem.session.on-large-loss = degrade");
      CompletableFuture<HttpResponse<String>> alone = p.post(LARGE_ALONE);
      CompletableFuture<HttpResponse<String>> answer = p.post(SPECULATIVE);
      p.awaitAdmitted(answer, alone);
      Cluster.get(p.front().system()).manager().tell(new Down(p.largeAddress()));

      // Well before the minute's worker-wait: the removal ends both waits.
      HttpResponse<String> large = alone.get(30, TimeUnit.SECONDS);
      assertEquals(503, large.statusCode(), "mode large does not degrade: " + large.body());
      assertTrue(large.headers().firstValue("Retry-After").isPresent(), "Retry-After: " + large.headers().map());
      HttpResponse<String> r = answer.get(30, TimeUnit.SECONDS);
      assertEquals(200, r.statusCode(), r.body());
      JsonNode tandem = JSON.readTree(r.body()).path("tandem");
      assertTrue(tandem.path("degraded").asBoolean(), "finished with the small model alone: " + r.body());
    }
  }

  /**
   * A speculative session admitted while the only large node is unreachable, that asks for a large
   * worker only after the node was downed and removed (its draft step still ran), is told at once
   * that none is coming, as the sessions already waiting are: in CI one that asked just after the
   * directory read the removal (Akka's {@code Cluster.state()}, updated by an actor of its own,
   * still listing the node) waited out the minute's worker-wait.
   */
  @Test
  void aSessionThatAsksForTheLargeWorkerAfterTheNodesRemovalDegradesAtOnce(@TempDir Path dir) throws Exception {
    // A small model at half a second a token: its first paragraph takes seconds, the removal less.
    try (LoopbackCluster c = new LoopbackCluster(dir, 200, 500, 1)) {
      Pair p = Pair.stalled(c, "tandem.session.worker-wait = 60s\ntandem.session.on-large-loss = degrade");
      HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p.http().port() + "/v1/chat/completions"))
          .header("Content-Type", "application/json").timeout(Duration.ofSeconds(120))
          .POST(HttpRequest.BodyPublishers.ofString("{\"messages\":[{\"role\":\"user\",\"content\":\"Compute.\"}],"
              + "\"max_tokens\":16,\"stream\":true}")).build();
      // The answer's headers: the request was admitted, its session started.
      HttpResponse<java.util.stream.Stream<String>> admitted = HttpClient.newHttpClient()
          .sendAsync(request, HttpResponse.BodyHandlers.ofLines()).get(60, TimeUnit.SECONDS);
      assertEquals(200, admitted.statusCode());
      CompletableFuture<String> body = CompletableFuture.supplyAsync(() -> String.join("\n", admitted.body().toList()));
      Cluster.get(p.front().system()).manager().tell(new Down(p.largeAddress()));
      await(p::largeRemoved, Duration.ofSeconds(30), "the large node is removed");

      // Well before the minute's worker-wait.
      String answer = body.get(30, TimeUnit.SECONDS);
      assertTrue(answer.contains("\"degraded\":true") && answer.strip().endsWith("data: [DONE]"), answer);
    }
  }

  /**
   * A large node downed while another member is unreachable too stays a member, downed, until the
   * cluster converges (Akka removes a downed member only then). The sessions waiting for a large
   * worker are told at the downing that none is coming, not at a removal that may be long in coming;
   * and this node does not count the downed member when it asks whether it is cut off from the
   * cluster (tester55a: with the small node unreachable for a second beside it, sessions waiting for
   * the large worker failed saying this node could reach no other node, with Retry-After 1).
   */
  @Test
  void aNodeDownedButNotRemovedEndsTheWaitForItsRoleAndDoesNotMakeThisNodeLookCutOff(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 200, 1, 1)) {
      TandemNode front = c.node(orchestrator(""), "orchestrator");
      TandemNode small = c.node(LARGE, "small");
      TandemNode large = c.node(LARGE, "large");
      ClusterFailoverTest.awaitWorkers(front);
      Address smallAddress = Cluster.get(small.system()).selfMember().address();
      Address largeAddress = Cluster.get(large.system()).selfMember().address();
      blackhole(front, largeAddress, true);
      await(() -> unreachableFrom(front, largeAddress), Duration.ofSeconds(30), "the large node is unreachable");
      akka.actor.testkit.typed.javadsl.TestProbe<WorkerDirectory.Workers> waiting =
          akka.actor.testkit.typed.javadsl.TestProbe.create(front.system());
      front.directory().tell(new WorkerDirectory.GetWorkers(Role.large, java.util.Set.of(), waiting.getRef()));
      waiting.expectNoMessage(Duration.ofMillis(500)); // a large member unreachable is waited for
      blackhole(front, smallAddress, true);
      await(() -> unreachableFrom(front, smallAddress), Duration.ofSeconds(30), "the small node is unreachable");

      Cluster.get(front.system()).manager().tell(new Down(largeAddress));
      WorkerDirectory.Workers none = waiting.expectMessageClass(WorkerDirectory.Workers.class, Duration.ofSeconds(10));
      assertTrue(none.workers().isEmpty() && none.gone(), none.toString());
      await(() -> akka.cluster.MemberStatus.down().equals(memberStatus(front, largeAddress)), Duration.ofSeconds(10),
          "the large node is downed in this node's view");
      assertTrue(unreachableFrom(front, smallAddress), "the small node is unreachable still");
      assertEquals(null, NodeStanding.outOfTouch(front.system()), "one other member unreachable: either side may be cut off");
      // Reachable again, so that the nodes leave the cluster at the end without waiting on each other.
      blackhole(front, smallAddress, false);
    }
  }

  /**
   * A session whose takeover is on a large node that stalls and is then downed goes on (here:
   * degrades) within about a second of the downing, not at the node's removal, which another member
   * unreachable delays until it is reachable again (tester55c: 4.8 s after newer requests were
   * answered).
   */
  @Test
  void aStepOnANodeDownedButNotRemovedIsGivenUpAtTheDowning(@TempDir Path dir) throws Exception {
    // A large model at a second a token: its takeover is still in flight when its node stalls.
    try (LoopbackCluster c = new LoopbackCluster(dir, 200, 1, 1000)) {
      TandemNode front = c.node(orchestrator("tandem.session.worker-wait = 60s\ntandem.session.on-large-loss = degrade"),
          "orchestrator", "small");
      TandemNode large = c.node(LARGE, "large");
      TandemNode other = c.node(LARGE, "orchestrator");
      ClusterFailoverTest.awaitWorkers(front);
      TandemHttpServer http = TandemHttpServer.start(front.system(), front.sessions(),
          HttpSettings.fromConfig(front.system().settings().config()).withPort(0)).toCompletableFuture().get(60, TimeUnit.SECONDS);
      HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http.port() + "/v1/chat/completions"))
          .header("Content-Type", "application/json").timeout(Duration.ofSeconds(120))
          .POST(HttpRequest.BodyPublishers.ofString("{\"messages\":[{\"role\":\"user\",\"content\":\"Compute.\"}],"
              + "\"max_tokens\":40,\"stream\":true}")).build();
      java.util.Iterator<String> lines = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofLines()).body().iterator();
      StringBuilder answer = new StringBuilder();
      while (lines.hasNext()) { // up to the large model's first token: its takeover is in flight
        String line = lines.next();
        answer.append(line).append('\n');
        if (line.contains("\"author\":\"large\"")) break;
      }
      assertTrue(answer.toString().contains("\"author\":\"large\""), answer.toString());
      Address largeAddress = Cluster.get(large.system()).selfMember().address();
      Address otherAddress = Cluster.get(other.system()).selfMember().address();
      blackhole(front, largeAddress, true);
      blackhole(front, otherAddress, true);
      await(() -> unreachableFrom(front, largeAddress) && unreachableFrom(front, otherAddress), Duration.ofSeconds(30),
          "the large node and the other orchestrator are unreachable");
      Cluster.get(front.system()).manager().tell(new Down(largeAddress));
      CompletableFuture<String> rest = CompletableFuture.supplyAsync(() -> {
        StringBuilder b = new StringBuilder();
        lines.forEachRemaining(l -> b.append(l).append('\n'));
        return b.toString();
      });
      // Well before the minute's worker-wait, and with the large node still a member, downed.
      String end = rest.get(30, TimeUnit.SECONDS);
      assertTrue(end.contains("\"degraded\":true") && end.strip().endsWith("data: [DONE]"), end);
      assertEquals(akka.cluster.MemberStatus.down(), memberStatus(front, largeAddress), "not removed yet");
      blackhole(front, otherAddress, false);
    }
  }

  /** Drops (or lets through again) everything between {@code node} and the node at {@code other}, on {@code node}'s side. */
  private static void blackhole(TandemNode node, Address other, boolean on) throws Exception {
    RemoteActorRefProvider provider = (RemoteActorRefProvider) ((ExtendedActorSystem) node.system().classicSystem()).provider();
    scala.jdk.javaapi.FutureConverters.asJava(provider.transport().managementCommand(new SetThrottle(other,
        Direction.Both$.MODULE$, on ? Blackhole$.MODULE$ : Unthrottled$.MODULE$))).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private static boolean unreachableFrom(TandemNode node, Address other) {
    for (Member m : Cluster.get(node.system()).state().getUnreachable()) if (m.address().equals(other)) return true;
    return false;
  }

  private static akka.cluster.MemberStatus memberStatus(TandemNode node, Address other) {
    for (Member m : Cluster.get(node.system()).state().getMembers()) if (m.address().equals(other)) return m.status();
    return null;
  }

  /**
   * Akka logs a WARN when the large node becomes unreachable, and its line that the node is reachable
   * again is INFO, below Akka's default level here: without a line of the orchestrator's own, an
   * operator reading the log after a stall of a few seconds finds the node unreachable still.
   */
  @Test
  void theOrchestratorSaysWhenAStalledNodeIsReachableAgain(@TempDir Path dir) throws Exception {
    Logger logger = (Logger) LoggerFactory.getLogger(WorkerDirectory.class);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    logger.addAppender(lines);
    Level before = logger.getLevel();
    logger.setLevel(Level.INFO);
    try (LoopbackCluster c = new LoopbackCluster(dir, 200, 1, 1)) {
      Pair p = Pair.stalled(c, "");
      p.stall(false);
      String address = p.largeAddress().toString();
      await(() -> !reachableAgain(lines, address).isEmpty(), Duration.ofSeconds(30), "a line saying the large node is reachable again");
      List<String> said = reachableAgain(lines, address);
      assertEquals(1, said.size(), said.toString());
      assertTrue(said.get(0).contains("its workers are offered to sessions again"), said.get(0));
    } finally {
      logger.setLevel(before);
      logger.detachAppender(lines);
    }
  }

  /** The INFO lines logged so far that say the node at {@code address} is reachable again. */
  private static List<String> reachableAgain(ListAppender<ILoggingEvent> lines, String address) {
    return List.copyOf(lines.list).stream().filter(e -> e.getLevel() == Level.INFO).map(ILoggingEvent::getFormattedMessage)
        .filter(m -> m.contains(address) && m.contains("reachable again")).toList();
  }
}
