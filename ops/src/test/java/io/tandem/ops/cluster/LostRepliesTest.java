package io.tandem.ops.cluster;

import static io.tandem.ops.cluster.ClusterFailoverTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.ExtendedActorSystem;
import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.receptionist.Receptionist;
import akka.cluster.typed.Cluster;
import akka.remote.RemoteActorRefProvider;
import akka.remote.testkit.Blackhole$;
import akka.remote.testkit.Direction;
import akka.remote.testkit.SetThrottle;
import akka.remote.testkit.Unthrottled$;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.typesafe.config.ConfigFactory;
import io.tandem.ops.TandemNode;
import io.tandem.orchestrator.http.HttpSettings;
import io.tandem.orchestrator.http.TandemHttpServer;
import io.tandem.orchestrator.session.Mode;
import io.tandem.orchestrator.session.SessionEvent;
import io.tandem.orchestrator.session.SessionRequest;
import io.tandem.orchestrator.session.SessionRunner;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.config.SpeculativeConfig;
import io.tandem.protocol.worker.WorkerProtocol;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Messages between nodes can be lost: Akka's Artery drops what no longer fits its send queue to a
 * node, as it fills while a node is paused (tester51h: after a 7 s SIGSTOP of the orchestrator,
 * 22 of 40 requests hung in their last large step). Here the large node's own test transport drops
 * what it sends to the orchestrator for a while, long enough to lose some of a streamed step's
 * partials, or its {@code Done} too, and short enough that the failure detector does not mind. The
 * session's stream skips nothing and repeats nothing, and a step whose answer was lost is answered
 * again once the session asks the worker about it ({@code tandem.session.step-check-interval}, 300
 * ms here), instead of waiting out {@code step-timeout} (60 s here).
 */
class LostRepliesTest {
  private static final int MAX_TOKENS = 60;

  private record Pair(TandemNode front, TandemNode large) {
    static Pair start(LoopbackCluster c) throws Exception {
      // A heartbeat pause well above the muting: the large node stays reachable, only its messages are lost.
      return start(c, "akka.cluster.failure-detector.acceptable-heartbeat-pause = 20s\n"
          + "tandem.session.step-check-interval = 300ms");
    }

    static Pair start(LoopbackCluster c, String config) throws Exception {
      TandemNode front = c.node(ConfigFactory.parseString(config), "orchestrator", "small");
      TandemNode large = c.node(ConfigFactory.parseString(config + "\nakka.remote.artery.advanced.test-mode = on"), "large");
      ClusterFailoverTest.awaitWorkers(front);
      return new Pair(front, large);
    }

    /** An HTTP server on the front node, on a free port. */
    TandemHttpServer http() throws Exception {
      return TandemHttpServer.start(front.system(), front.sessions(),
          HttpSettings.fromConfig(front.system().settings().config()).withPort(0)).toCompletableFuture().get(60, TimeUnit.SECONDS);
    }

    boolean largeUnreachable() {
      return Cluster.get(front.system()).state().getUnreachable().stream()
          .anyMatch(m -> m.address().equals(Cluster.get(large.system()).selfMember().address()));
    }

    /**
     * Drops (or lets through again) everything the large node sends to the front node, and what it
     * receives from it (Artery's test stages check one blackhole on both sides of a node's link).
     */
    void mute(boolean on) throws Exception {
      RemoteActorRefProvider provider = (RemoteActorRefProvider) ((ExtendedActorSystem) large.system().classicSystem()).provider();
      scala.jdk.javaapi.FutureConverters.asJava(provider.transport().managementCommand(new SetThrottle(
          Cluster.get(front.system()).selfMember().address(), Direction.Send$.MODULE$,
          on ? Blackhole$.MODULE$ : Unthrottled$.MODULE$)))
          .toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    /** The large worker's figures, asked on its own node (whatever the link to the front does). */
    WorkerProtocol.WorkerStats largeStats() throws Exception {
      Duration timeout = Duration.ofSeconds(10);
      Receptionist.Listing listing = AskPattern.<Receptionist.Command, Receptionist.Listing>ask(
          large.system().receptionist(), r -> Receptionist.find(ServiceKeys.forRole(Role.large), r), timeout,
          large.system().scheduler()).toCompletableFuture().get();
      ActorRef<WorkerProtocol.Command> worker = listing.getServiceInstances(ServiceKeys.forRole(Role.large)).iterator().next();
      return AskPattern.<WorkerProtocol.Command, WorkerProtocol.WorkerStats>ask(worker, WorkerProtocol.GetStats::new,
          timeout, large.system().scheduler()).toCompletableFuture().get();
    }

    /** The large model's answer alone, streamed, once its first pieces have come. */
    CompletableFuture<ClusterFailoverTest.Run> streaming(String id) throws InterruptedException {
      AtomicInteger deltas = new AtomicInteger();
      CompletableFuture<ClusterFailoverTest.Run> answer = run(id, deltas);
      await(() -> deltas.get() >= 5, Duration.ofSeconds(30), "the stream began");
      return answer;
    }

    /** The large model's answer alone, streamed: {@code deltas} counts the pieces the client got. */
    CompletableFuture<ClusterFailoverTest.Run> run(String id, AtomicInteger deltas) {
      SessionRequest req = new SessionRequest(id, "t", Prompt.chat(java.util.List.of(new ChatMessage("user", "Compute."))),
          SamplingParams.GREEDY, MAX_TOKENS, SpeculativeConfig.paperDefaults(), Mode.large, true);
      StringBuilder streamed = new StringBuilder();
      return SessionRunner.run(front.system(), front.sessions(), req, d -> {
        synchronized (streamed) {
          streamed.append(d.text());
        }
        deltas.incrementAndGet();
      }).toCompletableFuture().thenApply(e -> {
        synchronized (streamed) {
          return new ClusterFailoverTest.Run(e, streamed.toString());
        }
      });
    }
  }

  /** The answer ends as on a quiet link, and its stream has every token once, in order. */
  private static void assertWhole(CompletableFuture<ClusterFailoverTest.Run> answer, String expected) throws Exception {
    ClusterFailoverTest.Run r = answer.get(30, TimeUnit.SECONDS);
    SessionEvent.Finished f = assertInstanceOf(SessionEvent.Finished.class, r.end(), r.end().toString());
    assertEquals(expected, f.trace().text());
    assertEquals(expected, r.streamed(), "the client's stream has every token once, in order");
  }

  /** The answer as a quiet link gives it. */
  private static String quiet(Pair p) throws Exception {
    ClusterFailoverTest.Run r = p.run("quiet", new AtomicInteger()).get(60, TimeUnit.SECONDS);
    String text = assertInstanceOf(SessionEvent.Finished.class, r.end(), r.end().toString()).trace().text();
    assertEquals(text, r.streamed());
    return text;
  }

  @Test
  void partialsLostOnTheWayLeaveNoGapInTheStream(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 400, 1, 40)) {
      Pair p = Pair.start(c);
      String expected = quiet(p);
      CompletableFuture<ClusterFailoverTest.Run> answer = p.streaming("gap");
      long decoded = p.largeStats().decodeTokens();
      p.mute(true);
      await(() -> decodedSince(p, decoded) >= 4, Duration.ofSeconds(30), "the worker wrote more while muted");
      p.mute(false);
      assertWhole(answer, expected);
    }
  }

  @Test
  void aStepWhoseDoneIsLostOnTheWayIsSentAgainAndTheAnswerIsWhole(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 400, 1, 10)) {
      Pair p = Pair.start(c);
      String expected = quiet(p);
      CompletableFuture<ClusterFailoverTest.Run> answer = p.streaming("done-lost");
      long done = p.largeStats().requestsDone();
      p.mute(true);
      // The worker finishes the step while nothing it sends arrives: its Done is lost with the partials.
      await(() -> requestsDone(p) > done, Duration.ofSeconds(30), "the worker finished the step while muted");
      p.mute(false);
      assertWhole(answer, expected);
      // Its Done was sent again, not the step: sent again, a step that had streamed its reflection point drafted on past
      // it (tester52d).
      assertEquals(done + 1, requestsDone(p), "the worker wrote the step once");
    }
  }

  /**
   * The orchestrator's own pause (tester51h) looks, to it, like its workers' nodes going unreachable
   * for a moment; what they sent meanwhile may be lost. A session whose worker's node is reachable
   * again asks at once whether the worker still holds its step: here without the periodic check (an
   * hour), and without giving up on the only large worker (worker-lost-after an hour too).
   */
  @Test
  void aSessionAsksAtOnceWhenTheNodeOfItsStepIsReachableAgain(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 400, 1, 10)) {
      // No downing either: the node is only unreachable, as after a pause, and comes back.
      Pair p = Pair.start(c, "tandem.session.step-check-interval = 1h\ntandem.session.worker-lost-after = 1h\n"
          + "akka.cluster.split-brain-resolver.stable-after = 1h");
      String expected = quiet(p);
      CompletableFuture<ClusterFailoverTest.Run> answer = p.streaming("unreachable");
      long done = p.largeStats().requestsDone();
      p.mute(true);
      await(() -> requestsDone(p) > done, Duration.ofSeconds(30), "the worker finished the step while muted");
      await(p::largeUnreachable, Duration.ofSeconds(30), "the large node is unreachable");
      p.mute(false);
      assertWhole(answer, expected);
    }
  }

  /**
   * A prompt's count is asked of the large worker (mode large) before the session starts; a count
   * or its answer lost between the nodes left the request waiting out {@code count-timeout} for a
   * retryable 503 (tester52d, tester52g, with a small send queue). Here the count is lost on its way
   * (the test transport's blackhole, on the large node, drops what it receives from the front node
   * as well as what it sends there): the worker, silent for {@code step-check-interval}, is asked
   * again, and the request goes on once a count gets through.
   */
  @Test
  void aCountLostOnTheWayIsAskedAgain(@TempDir Path dir) throws Exception {
    try (CountLines lines = new CountLines(); LoopbackCluster c = new LoopbackCluster(dir, 400, 1, 10)) {
      Pair p = Pair.start(c, "akka.cluster.failure-detector.acceptable-heartbeat-pause = 20s\n"
          + "tandem.session.step-check-interval = 300ms\ntandem.http.count-timeout = 20s");
      TandemHttpServer http = p.http();
      p.mute(true);
      long sent = System.nanoTime();
      CompletableFuture<HttpResponse<String>> answer = postLarge(http);
      // Asked, and asked again, into the muted link.
      await(() -> lines.count("asking the large worker") >= 2, Duration.ofSeconds(30), "the front node asked the large worker again");
      p.mute(false);
      HttpResponse<String> r = answer.get(60, TimeUnit.SECONDS);
      double seconds = (System.nanoTime() - sent) / 1e9;
      assertEquals(200, r.statusCode(), r.body());
      assertTrue(seconds < 15, "answered " + seconds + " s after it was sent, well before the count-timeout of 20 s");
    }
  }

  /**
   * A count lost while its worker's node was stopped (tester53d: SIGSTOP for 5 s under a burst) is
   * asked again at once when the node is reachable again, though the count's own timeout passed
   * while it was unreachable (the wait for a stalled node goes on up to worker-wait): it was a 503
   * count-timeout after the node came back, no one having asked again.
   */
  @Test
  void aCountLostWhileItsNodeWasUnreachableIsAskedAgainWhenItIsBack(@TempDir Path dir) throws Exception {
    try (CountLines lines = new CountLines(); LoopbackCluster c = new LoopbackCluster(dir, 400, 1, 10)) {
      // Unreachable soon after the muting; not downed; the stall outlasts count-timeout, not worker-wait.
      Pair p = Pair.start(c, "akka.cluster.failure-detector.acceptable-heartbeat-pause = 1s\n"
          + "akka.cluster.split-brain-resolver.stable-after = 1h\ntandem.session.worker-lost-after = 1h\n"
          + "tandem.session.step-check-interval = 1h\ntandem.http.count-timeout = 3s\ntandem.session.worker-wait = 60s");
      TandemHttpServer http = p.http();
      p.mute(true);
      CompletableFuture<HttpResponse<String>> answer = postLarge(http);
      // The count's timeout passed while the node was unreachable: it waits on for the node.
      await(() -> lines.count("a count of a prompt waits for it") > 0, Duration.ofSeconds(30),
          "the count waited for the unreachable node");
      p.mute(false);
      HttpResponse<String> r = answer.get(60, TimeUnit.SECONDS);
      assertEquals(200, r.statusCode(), r.body());
    }
  }

  /** The HTTP layer's lines about counts (its {@code WorkerView}, at DEBUG) while open. */
  private static final class CountLines implements AutoCloseable {
    private final Logger logger = (Logger) LoggerFactory.getLogger("io.tandem.orchestrator.http.WorkerView");
    private final Level before = logger.getLevel();
    private final ListAppender<ILoggingEvent> lines = new ListAppender<>();

    CountLines() {
      lines.start();
      logger.addAppender(lines);
      logger.setLevel(Level.DEBUG);
    }

    /** How many lines so far hold {@code words}. */
    long count(String words) {
      return List.copyOf(lines.list).stream().filter(e -> e.getFormattedMessage().contains(words)).count();
    }

    @Override
    public void close() {
      logger.setLevel(before);
      logger.detachAppender(lines);
    }
  }

  /** A request of the large model alone (its prompt counted by the large worker first), to {@code http}. */
  private static CompletableFuture<HttpResponse<String>> postLarge(TandemHttpServer http) {
    return HttpClient.newHttpClient().sendAsync(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http.port() + "/v1/chat/completions"))
            .header("Content-Type", "application/json").timeout(Duration.ofSeconds(60))
            .POST(HttpRequest.BodyPublishers.ofString("{\"messages\":[{\"role\":\"user\",\"content\":\"Compute.\"}],"
                + "\"max_tokens\":20,\"tandem\":{\"mode\":\"large\"}}")).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static long decodedSince(Pair p, long before) {
    try {
      return p.largeStats().decodeTokens() - before;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static long requestsDone(Pair p) {
    try {
      return p.largeStats().requestsDone();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
