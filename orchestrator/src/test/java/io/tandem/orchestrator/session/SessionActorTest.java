package io.tandem.orchestrator.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ManualTime;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.tandem.inference.scripted.ScriptedModel;
import io.tandem.protocol.Author;
import io.tandem.protocol.FinishReason;
import io.tandem.protocol.Role;
import io.tandem.protocol.config.SpeculativeConfig;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.worker.WorkerSettings;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Sessions and workers on scripted models, in one ActorSystem. */
class SessionActorTest {
  private static final ScriptedCase CASE = ScriptedCase.example();

  private static void assertPapersOutput(SessionEvent end) {
    SessionEvent.Finished f = assertInstanceOf(SessionEvent.Finished.class, end, () -> "session ended with " + end);
    assertEquals(CASE.expectedText(), f.trace().text());
    assertEquals(CASE.expectedSpans(), ScriptedCase.merged(f.trace().spans()));
    assertEquals(CASE.expectedLargeTokens(), f.trace().counters().largeTokens());
    assertEquals(FinishReason.stop, f.trace().finishReason());
  }

  @Test
  void manyConcurrentSessionsOnOneSmallAndOneLargeWorkerAllReproduceThePapersOutput() throws Exception {
    try (World w = new World()) {
      w.worker(Role.small, "small", new ScriptedModel("small", CASE.small()));
      w.worker(Role.large, "large", new ScriptedModel("large", CASE.large()));
      List<CompletableFuture<SessionEvent>> all = new ArrayList<>();
      for (int i = 0; i < 48; i++) all.add(w.run(w.request(CASE.config(), false), null));
      for (CompletableFuture<SessionEvent> f : all) assertPapersOutput(f.get(60, TimeUnit.SECONDS));
    }
  }

  @Test
  void streamedDeltasSpellTheFinalTextWithTheRightAuthors() throws Exception {
    try (World w = new World()) {
      w.worker(Role.small, "small", new ScriptedModel("small", CASE.small()));
      w.worker(Role.large, "large", new ScriptedModel("large", CASE.large()));
      StringBuilder streamed = new StringBuilder();
      List<String> byAuthor = new ArrayList<>();
      SessionEvent end = w.run(w.request(CASE.config(), true), d -> {
        streamed.append(d.text());
        if (d.text().isEmpty()) return;
        String a = d.author().name();
        if (!byAuthor.isEmpty() && byAuthor.get(byAuthor.size() - 1).startsWith(a + ": "))
          byAuthor.set(byAuthor.size() - 1, byAuthor.get(byAuthor.size() - 1) + d.text());
        else byAuthor.add(a + ": " + d.text());
      }).get(30, TimeUnit.SECONDS);
      assertPapersOutput(end);
      assertEquals(CASE.expectedText(), streamed.toString());
      assertEquals(CASE.expectedSpans(), byAuthor);
    }
  }

  @Test
  void aSessionKeepsItsOutputWhenWorkersEvictItsCacheAfterEveryStep() throws Exception {
    try (World w = new World()) {
      WorkerSettings noCache = new WorkerSettings(16, 1024, 0, true);
      ActorRef<WorkerProtocol.Command> small = w.worker(Role.small, "small", new ScriptedModel("small", CASE.small()), noCache);
      w.worker(Role.large, "large", new ScriptedModel("large", CASE.large()), noCache);
      assertPapersOutput(w.run(w.request(CASE.config(), false), null).get(30, TimeUnit.SECONDS));
      TestProbe<WorkerProtocol.WorkerStats> probe = w.kit.createTestProbe();
      small.tell(new WorkerProtocol.GetStats(probe.getRef()));
      WorkerProtocol.WorkerStats stats = probe.receiveMessage();
      assertTrue(stats.cacheEvictions() > 0, "the small worker evicted: " + stats);
      assertTrue(stats.cacheMisses() > 1, "and the session resynced: " + stats);
    }
  }

  @Test
  void aLargeWorkerStoppingMidSessionEndsTheSessionWithAClearError() throws Exception {
    try (World w = new World()) {
      w.worker(Role.small, "small", new ScriptedModel("small", CASE.small()));
      GatedModel gated = new GatedModel("large", CASE.large(), 25);
      ActorRef<WorkerProtocol.Command> large = w.worker(Role.large, "large", gated);
      CompletableFuture<SessionEvent> end = w.run(w.request(CASE.config(), false), null);
      assertTrue(gated.reached.await(30, TimeUnit.SECONDS), "the takeover reached the gate");
      stopWithoutWaiting(w, large);
      gated.open.countDown();
      SessionEvent e = end.get(30, TimeUnit.SECONDS);
      SessionEvent.Failed failed = assertInstanceOf(SessionEvent.Failed.class, e);
      assertTrue(failed.message().contains("no large worker is available"), failed.message());
      assertTrue(failed.message().contains("retry the request once one is back (or send \"tandem\": {\"mode\": \"small\"}"),
          "what a client can do: " + failed.message());
      assertTrue(failed.retryable());
    }
  }

  /**
   * {@code on-large-loss = degrade} finishes a speculative session with the small model alone; a
   * request of mode large asked for the large model alone, and fails (retryably) as it would without
   * degrade, as a new one of mode large gets the 503 then (a fresh tester's mode-large answers were
   * finished by the small model, marked degraded).
   */
  @Test
  void withDegradeASessionOfModeLargeThatLosesItsWorkerFailsRatherThanFinishWithTheSmallModel() throws Exception {
    try (World w = new World(com.typesafe.config.ConfigFactory.empty(),
        new SessionSettings(Duration.ofSeconds(1), Duration.ofMinutes(1), true, 4))) {
      w.worker(Role.small, "small", new ScriptedModel("small", CASE.small()));
      GatedModel gated = new GatedModel("large", CASE.large(), 5);
      ActorRef<WorkerProtocol.Command> large = w.worker(Role.large, "large", gated);
      CompletableFuture<SessionEvent> end = w.run(new SessionRequest("alone", "t", io.tandem.protocol.Prompt.chat(List.of(
          new io.tandem.protocol.ChatMessage("user", "Compute."))), io.tandem.protocol.SamplingParams.GREEDY, 100_000,
          CASE.config(), Mode.large, false), null);
      assertTrue(gated.reached.await(30, TimeUnit.SECONDS), "the large model reached the gate");
      stopWithoutWaiting(w, large);
      gated.open.countDown();
      SessionEvent.Failed failed = assertInstanceOf(SessionEvent.Failed.class, end.get(30, TimeUnit.SECONDS));
      assertTrue(failed.retryable(), failed.message());
      assertTrue(failed.message().contains("no large worker is available"), failed.message());
      assertTrue(!failed.message().contains("on-large-loss"), "degrade does not finish it: " + failed.message());
    }
  }

  @Test
  void aSessionMovesToAnotherLargeWorkerWhenItsWorkerStopsAndKeepsItsOutput() throws Exception {
    try (World w = new World()) {
      w.worker(Role.small, "small", new ScriptedModel("small", CASE.small()));
      GatedModel gated = new GatedModel("large-a", CASE.large(), 25);
      ActorRef<WorkerProtocol.Command> a = w.worker(Role.large, "large-a", gated);
      ActorRef<WorkerProtocol.Command> b = w.worker(Role.large, "large-b", new ScriptedModel("large-b", CASE.large()));
      // A session whose first choice is the gated worker.
      String id = null;
      for (int i = 0; id == null; i++) {
        if (Affinity.rank("move-" + i, Set.of(a, b)).get(0).equals(a)) id = "move-" + i;
      }
      awaitListed(w, Role.large, 2);
      CompletableFuture<SessionEvent> end = w.run(w.request(id, CASE.config(), false), null);
      assertTrue(gated.reached.await(30, TimeUnit.SECONDS), "the takeover reached the gate");
      stopWithoutWaiting(w, a);
      gated.open.countDown();
      assertPapersOutput(end.get(30, TimeUnit.SECONDS));
    }
  }

  @Test
  void withEveryLargeWorkerStoppedASessionFailsAtItsTakeoverWithoutWaitingForOne() throws Exception {
    // A minute's worker-wait, which the session does not sit out: the directory knows none is left.
    try (World w = new World(com.typesafe.config.ConfigFactory.empty(),
        new SessionSettings(Duration.ofMinutes(1), Duration.ofMinutes(1), false, 4))) {
      w.worker(Role.small, "small", new ScriptedModel("small", CASE.small()));
      ActorRef<WorkerProtocol.Command> large = w.worker(Role.large, "large", new ScriptedModel("large", CASE.large()));
      awaitListed(w, Role.large, 1);
      w.kit.stop(large);
      TestProbe<WorkerDirectory.Workers> probe = w.kit.createTestProbe();
      probe.awaitAssert(Duration.ofSeconds(10), () -> {
        w.directory.tell(new WorkerDirectory.GetWorkers(Role.large, Set.of(), probe.getRef(), true));
        assertTrue(probe.receiveMessage().workers().isEmpty());
        return null;
      });
      SessionEvent e = w.run(w.request(CASE.config(), false), null).get(20, TimeUnit.SECONDS);
      SessionEvent.Failed failed = assertInstanceOf(SessionEvent.Failed.class, e);
      assertEquals(io.tandem.protocol.FailureCode.NO_WORKER, failed.code());
      assertTrue(failed.message().contains("no large worker is available (all have stopped; retry the request once one is back, or send"), failed.message());
      assertTrue(!failed.partial().text().isEmpty(), "it drafted up to the takeover: " + failed.partial());
    }
  }

  /**
   * A session that goes on with one model alone for want of the other's worker (on-large-loss =
   * degrade, on-small-loss = large) and finds none of that model's either fails: tester55c's sessions,
   * whose two roles' nodes were removed at once, handed themselves from one model alone to the other
   * about 100,000 times a second, and their clients waited without end.
   */
  @Test
  void aSessionWithNeitherRolesWorkerFailsRatherThanGoingOnAloneWithEachInTurn() throws Exception {
    try (World w = new World(com.typesafe.config.ConfigFactory.empty(), new SessionSettings(Duration.ofMinutes(1),
        Duration.ofMinutes(1), true, 4, 2, false, SessionSettings.DEFAULT_WORKER_LOST_AFTER, null, false, true))) {
      ActorRef<WorkerProtocol.Command> small = w.worker(Role.small, "small", new ScriptedModel("small", CASE.small()));
      ActorRef<WorkerProtocol.Command> large = w.worker(Role.large, "large", new ScriptedModel("large", CASE.large()));
      awaitListed(w, Role.small, 1);
      awaitListed(w, Role.large, 1);
      w.kit.stop(small);
      w.kit.stop(large);
      for (Role role : Role.values()) {
        TestProbe<WorkerDirectory.Workers> probe = w.kit.createTestProbe();
        probe.awaitAssert(Duration.ofSeconds(10), () -> {
          w.directory.tell(new WorkerDirectory.GetWorkers(role, Set.of(), probe.getRef(), true));
          assertTrue(probe.receiveMessage().workers().isEmpty());
          return null;
        });
      }
      SessionEvent e = w.run(w.request(CASE.config(), false), null).get(20, TimeUnit.SECONDS);
      SessionEvent.Failed failed = assertInstanceOf(SessionEvent.Failed.class, e);
      assertEquals(io.tandem.protocol.FailureCode.NO_WORKER, failed.code(), failed.message());
    }
  }

  /** Stops a worker whose thread is held in a model step (the test kit's stop would wait for it). */
  private static void stopWithoutWaiting(World w, ActorRef<WorkerProtocol.Command> worker) {
    worker.tell(WorkerProtocol.Stop.INSTANCE);
  }

  private static void awaitListed(World w, Role role, int n) {
    TestProbe<WorkerDirectory.Workers> probe = w.kit.createTestProbe();
    probe.awaitAssert(Duration.ofSeconds(10), () -> {
      w.directory.tell(new WorkerDirectory.GetWorkers(role, Set.of(), probe.getRef()));
      assertEquals(n, probe.receiveMessage().workers().size());
      return null;
    });
  }

  /** A sub-second tandem.session.step-timeout is said as set: "within 0.5 s", not the whole seconds in it (0). */
  @Test
  void aStepPastASubSecondStepTimeoutFailsSayingTheTimeoutAsSet() throws Exception {
    try (World w = new World(ManualTime.config(),
        new SessionSettings(Duration.ofSeconds(5), Duration.ofMillis(500), false, 4))) {
      ManualTime time = ManualTime.get(w.kit.system());
      GatedModel small = new GatedModel("small", CASE.small(), 5);
      w.worker(Role.small, "small", small);
      w.worker(Role.large, "large", new ScriptedModel("large", CASE.large()));
      CompletableFuture<SessionEvent> end = w.run(w.request(CASE.config(), false), null);
      assertTrue(small.reached.await(30, TimeUnit.SECONDS));
      time.timePasses(Duration.ofMillis(501));
      SessionEvent.Failed failed = assertInstanceOf(SessionEvent.Failed.class, end.get(30, TimeUnit.SECONDS));
      small.open.countDown();
      assertEquals(io.tandem.protocol.FailureCode.TIMEOUT, failed.code());
      // Five tokens came before the gate: the timeout bounds the silence since.
      assertTrue(failed.message().contains("small worker wrote nothing more for 0.5 s (tandem.session.step-timeout)"),
          failed.message());
    }
  }

  /** A scripted model that holds its step before writing each of {@code gates}' positions until that gate opens. */
  private static final class TwoGates extends ScriptedModel {
    final java.util.concurrent.CountDownLatch[] reached = {new java.util.concurrent.CountDownLatch(1),
        new java.util.concurrent.CountDownLatch(1)};
    final java.util.concurrent.CountDownLatch[] open = {new java.util.concurrent.CountDownLatch(1),
        new java.util.concurrent.CountDownLatch(1)};
    private final int[] gates;

    TwoGates(List<String> tokens, int first, int second) {
      super("small", tokens);
      gates = new int[] {first, second};
    }

    @Override
    public int[] forward(List<io.tandem.inference.Sequence> batch, int maxPrefillTokens) {
      for (io.tandem.inference.Sequence s : batch)
        for (int g = 0; g < 2; g++)
          if (s.length() - 1 == gates[g]) {
            reached[g].countDown();
            try {
              if (!open[g].await(60, TimeUnit.SECONDS)) throw new IllegalStateException("gate never opened");
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
      return super.forward(batch, maxPrefillTokens);
    }
  }

  /**
   * step-timeout bounds a step's silence, not its length: a single-model answer whose tokens keep
   * coming runs past it (tester45d: a chat without max_tokens, run to what fits, was cut at 5 min
   * while its tokens flowed); each pause here is within the timeout, the two together beyond it.
   */
  @Test
  void aStepWhoseOutputKeepsComingRunsPastTheStepTimeout() throws Exception {
    try (World w = new World(ManualTime.config(),
        new SessionSettings(Duration.ofSeconds(5), Duration.ofMillis(500), false, 4))) {
      ManualTime time = ManualTime.get(w.kit.system());
      TwoGates small = new TwoGates(CASE.small(), 3, 8);
      w.worker(Role.small, "small", small);
      SessionRequest request = new SessionRequest("long", "t", io.tandem.protocol.Prompt.chat(List.of(
          new io.tandem.protocol.ChatMessage("user", "Compute."))), io.tandem.protocol.SamplingParams.GREEDY, 12,
          CASE.config(), Mode.small, true);
      java.util.concurrent.atomic.AtomicInteger streamed = new java.util.concurrent.atomic.AtomicInteger();
      CompletableFuture<SessionEvent> end = w.run(request, d -> streamed.addAndGet(d.tokens().size()));
      assertTrue(small.reached[0].await(30, TimeUnit.SECONDS));
      awaitStreamed(streamed, 3);
      time.timePasses(Duration.ofMillis(400));
      small.open[0].countDown();
      assertTrue(small.reached[1].await(30, TimeUnit.SECONDS));
      awaitStreamed(streamed, 8); // the session has read the output since the first pause
      time.timePasses(Duration.ofMillis(400));
      small.open[1].countDown();
      SessionEvent.Finished f = assertInstanceOf(SessionEvent.Finished.class, end.get(30, TimeUnit.SECONDS));
      assertEquals(12, f.usage().completionTokens());
    }
  }

  private static void awaitStreamed(java.util.concurrent.atomic.AtomicInteger streamed, int tokens) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (streamed.get() < tokens && System.nanoTime() < deadline) Thread.onSpinWait();
    assertTrue(streamed.get() >= tokens, "streamed " + streamed.get() + " of " + tokens + " tokens");
  }

  @Test
  void timeOutEndsTheSessionWithTheTextDecidedSoFar() throws Exception {
    SpeculativeConfig config = CASE.config().toBuilder().build();
    config = config.withOverrides(java.util.Map.of("time_out", 30));
    try (World w = new World(ManualTime.config(),
        new SessionSettings(Duration.ofSeconds(5), Duration.ofMinutes(10), false, 4))) {
      ManualTime time = ManualTime.get(w.kit.system());
      // The small model's third look-ahead (positions 41..60) holds at 45.
      GatedModel small = new GatedModel("small", CASE.small(), 45);
      w.worker(Role.small, "small", small);
      w.worker(Role.large, "large", new ScriptedModel("large", CASE.large()));
      CompletableFuture<SessionEvent> end = w.run(w.request(config, false), null);
      assertTrue(small.reached.await(30, TimeUnit.SECONDS));
      time.timePasses(Duration.ofSeconds(31));
      SessionEvent.Finished f = assertInstanceOf(SessionEvent.Finished.class, end.get(30, TimeUnit.SECONDS));
      small.open.countDown();
      assertEquals(FinishReason.timeout, f.trace().finishReason());
      String decided = String.join("", CASE.small().subList(0, 17)) + String.join("", CASE.large().subList(17, 37))
          + String.join("", CASE.small().subList(37, 41));
      assertEquals(decided, f.trace().text());
      assertEquals(Author.small, f.trace().spans().get(0).author());
    }
  }
  /**
   * A client's stop string in the tokens a takeover streams ends the session before the step does:
   * the plan takes what was streamed as the step's output, so the takeover whose span the answer
   * shows is counted (the answer said takeovers 0 beside a large-model takeover span).
   */
  @Test
  void aStopMidTakeoverCountsTheTakeoverWhoseStreamedTokensItKeeps() throws Exception {
    try (World w = new World()) {
      // The first takeover writes positions 17..36; the large model holds before writing 20.
      GatedModel large = new GatedModel("large", CASE.large(), 20);
      w.worker(Role.small, "small", new ScriptedModel("small", CASE.small()));
      w.worker(Role.large, "large", large);
      TestProbe<SessionEvent> client = w.kit.createTestProbe();
      TestProbe<Sessions.Started> started = w.kit.createTestProbe();
      w.sessions.tell(new Sessions.Start(w.request(CASE.config(), true), client.getRef(), started.getRef()));
      ActorRef<SessionActor.Command> session = started.receiveMessage().session();
      // The session has taken in the three tokens streamed (17, 18, 19) once it has sent them on.
      int[] largeTokens = {0};
      client.fishForMessage(Duration.ofSeconds(30), "the takeover's first three tokens", e -> {
        if (e instanceof SessionEvent.Delta d && d.author() == Author.large) largeTokens[0] += d.tokens().size();
        return largeTokens[0] >= 3 ? akka.actor.testkit.typed.javadsl.FishingOutcomes.complete()
            : akka.actor.testkit.typed.javadsl.FishingOutcomes.continueAndIgnore();
      });
      session.tell(SessionActor.Stop.INSTANCE);
      SessionEvent.Finished f = (SessionEvent.Finished) client.fishForMessage(Duration.ofSeconds(30), "the end", e ->
          e instanceof SessionEvent.Finished ? akka.actor.testkit.typed.javadsl.FishingOutcomes.complete()
              : akka.actor.testkit.typed.javadsl.FishingOutcomes.continueAndIgnore()).get(0);
      large.open.countDown();
      assertEquals(FinishReason.stop, f.trace().finishReason());
      assertEquals(1, f.trace().counters().takeovers(), f.trace().counters().toString());
      assertEquals(3, f.trace().counters().largeTokens());
      io.tandem.protocol.Span last = f.trace().spans().get(f.trace().spans().size() - 1);
      assertEquals(List.of(Author.large, io.tandem.protocol.SpanReason.takeover, 17, 20),
          List.of(last.author(), last.reason(), last.start(), last.end()));
    }
  }
}
