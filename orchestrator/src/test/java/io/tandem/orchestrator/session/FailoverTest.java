package io.tandem.orchestrator.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.FishingOutcomes;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.eventstream.EventStream;
import com.typesafe.config.ConfigFactory;
import io.tandem.inference.scripted.ScriptedModel;
import io.tandem.protocol.Author;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.FinishReason;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.Span;
import io.tandem.protocol.Token;
import io.tandem.protocol.worker.WorkerProtocol;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A worker lost in the middle of a streamed takeover: what the client already has stands, the next
 * worker goes on after it, and with no large worker left the session degrades or fails by config.
 */
class FailoverTest {
  private static final ScriptedCase CASE = ScriptedCase.example();
  /** The gated model holds the takeover that starts at position 17 some tokens in (at GATE). */
  private static final int GATE = 25, TAKEOVER_START = 17;

  private static SessionSettings settings(boolean degrade) {
    return new SessionSettings(Duration.ofSeconds(1), Duration.ofMinutes(1), degrade, 4, 2, true);
  }

  /** One small and one large worker; the large one is stopped while a takeover is under way. */
  private static CompletableFuture<SessionEvent> loseTheOnlyLargeWorkerMidTakeover(World w, String id,
      StringBuilder streamed) throws InterruptedException {
    w.worker(Role.small, "small", new ScriptedModel("small", CASE.small()));
    GatedModel gated = new GatedModel("large", CASE.large(), GATE);
    ActorRef<WorkerProtocol.Command> large = w.worker(Role.large, "large", gated);
    CompletableFuture<SessionEvent> end = run(w, id, streamed);
    assertTrue(gated.reached.await(30, TimeUnit.SECONDS), "the takeover reached the gate");
    large.tell(WorkerProtocol.Stop.INSTANCE);
    gated.open.countDown();
    return end;
  }

  private static CompletableFuture<SessionEvent> run(World w, String id, StringBuilder streamed) {
    return w.run(w.request(id, CASE.config(), true), d -> {
      synchronized (streamed) {
        streamed.append(d.text());
      }
    });
  }

  @Test
  void aLargeWorkerLostMidTakeoverIsSucceededByAnotherThatWritesOnlyTheRestOfTheStep() throws Exception {
    try (World w = new World(ConfigFactory.empty(), settings(false))) {
      TestProbe<StepTimings> steps = w.kit.createTestProbe();
      w.kit.system().eventStream().tell(new EventStream.Subscribe<>(StepTimings.class, steps.getRef()));
      w.worker(Role.small, "small", new ScriptedModel("small", CASE.small()));
      GatedModel gated = new GatedModel("large-a", CASE.large(), GATE);
      ActorRef<WorkerProtocol.Command> a = w.worker(Role.large, "large-a", gated);
      ActorRef<WorkerProtocol.Command> b = w.worker(Role.large, "large-b", new ScriptedModel("large-b", CASE.large()));
      String id = null;
      for (int i = 0; id == null; i++)
        if (Affinity.rank("stream-" + i, Set.of(a, b)).get(0).equals(a)) id = "stream-" + i;
      w.awaitListed(Role.large, 2);
      StringBuilder streamed = new StringBuilder();
      CompletableFuture<SessionEvent> end = run(w, id, streamed);
      assertTrue(gated.reached.await(30, TimeUnit.SECONDS), "the takeover reached the gate");
      a.tell(WorkerProtocol.Stop.INSTANCE);
      gated.open.countDown();
      SessionEvent.Finished f = assertInstanceOf(SessionEvent.Finished.class, end.get(30, TimeUnit.SECONDS));
      assertEquals(CASE.expectedText(), f.trace().text());
      assertEquals(CASE.expectedText(), streamed.toString(), "the client's stream is the answer, nothing repeated or changed");
      List<StepTimings> found = steps.fishForMessage(Duration.ofSeconds(10), "the moved takeover's step",
          m -> m.role() == Role.large && m.basePosition() == TAKEOVER_START ? FishingOutcomes.complete() : FishingOutcomes.continueAndIgnore());
      StepTimings moved = found.get(found.size() - 1);
      assertTrue(moved.generatedTokens() > 0 && moved.generatedTokens() < CASE.config().maxTargetTokens(),
          "the second worker wrote only what the first had not streamed yet: " + moved.generatedTokens());
      assertTrue(moved.worker().endsWith("/large-b"), moved.worker());
    }
  }

  @Test
  void losingTheOnlyLargeWorkerMidTakeoverFinishesSmallOnlyKeepingWhatWasStreamedWhenConfiguredToDegrade()
      throws Exception {
    try (World w = new World(ConfigFactory.empty(), settings(true))) {
      StringBuilder streamed = new StringBuilder();
      CompletableFuture<SessionEvent> end = loseTheOnlyLargeWorkerMidTakeover(w, "degrade-1", streamed);
      SessionEvent.Finished f = assertInstanceOf(SessionEvent.Finished.class, end.get(30, TimeUnit.SECONDS));
      assertTrue(f.degraded());
      assertEquals(FinishReason.stop, f.trace().finishReason(), "the small model wrote on to its end");
      assertEquals(f.trace().text(), streamed.toString(), "nothing the client received was contradicted");
      List<Span> spans = f.trace().spans();
      Span cut = spans.stream().filter(s -> s.author() == Author.large).reduce((x, y) -> y).orElseThrow();
      assertEquals(TAKEOVER_START, cut.start());
      assertTrue(cut.end() > TAKEOVER_START && cut.end() - cut.start() < CASE.config().maxTargetTokens(),
          "the large model's streamed part of the cut takeover stays in the answer: " + cut);
      for (Span s : spans) if (s.start() >= cut.end()) assertEquals(Author.small, s.author(), "small-only after the loss: " + s);
      assertEquals(cut.end() - cut.start(), f.trace().counters().largeTokens());
      // The cut takeover counts as one, as its span is one (tester54e: takeovers 0 beside the large model's tokens).
      assertEquals(1, f.trace().counters().takeovers(), f.trace().counters().toString());
      assertEquals(f.trace().text().length(), spans.stream().mapToInt(s -> s.text().length()).sum());
    }
  }

  /**
   * The small model's loss mid-answer, with {@code on-small-loss = large}: the large model alone
   * finishes after what the small one streamed, and the answer says it was degraded (session 45's
   * noticed item: only the large model's loss could be survived). By default it fails, retryably,
   * pointing to the large model alone.
   */
  @Test
  void losingTheOnlySmallWorkerMidAnswerFinishesLargeOnlyWhenConfiguredAndFailsByDefault() throws Exception {
    for (boolean largeFinishes : new boolean[] {true, false}) {
      try (World w = new World(ConfigFactory.empty(), settings(false).withLargeWithoutSmall(largeFinishes))) {
        GatedModel gated = new GatedModel("small", CASE.small(), SMALL_GATE);
        ActorRef<WorkerProtocol.Command> small = w.worker(Role.small, "small", gated);
        w.worker(Role.large, "large", new ScriptedModel("large", CASE.large()));
        StringBuilder streamed = new StringBuilder();
        CompletableFuture<SessionEvent> end = run(w, "small-loss-" + largeFinishes, streamed);
        assertTrue(gated.reached.await(30, TimeUnit.SECONDS), "the small model's first step reached the gate");
        small.tell(WorkerProtocol.Stop.INSTANCE);
        gated.open.countDown();
        SessionEvent e = end.get(30, TimeUnit.SECONDS);
        if (!largeFinishes) {
          SessionEvent.Failed f = assertInstanceOf(SessionEvent.Failed.class, e);
          assertTrue(f.retryable());
          assertTrue(f.message().contains("tandem.session.on-small-loss = large"), f.message());
          continue;
        }
        SessionEvent.Finished f = assertInstanceOf(SessionEvent.Finished.class, e);
        assertTrue(f.degraded());
        assertEquals(f.trace().text(), streamed.toString(), "nothing the client received was contradicted");
        List<Span> spans = f.trace().spans();
        Span cut = spans.get(0);
        assertEquals(Author.small, cut.author(), "the small model's streamed part stays in the answer: " + spans);
        assertTrue(cut.end() > 0 && cut.end() <= SMALL_GATE + 1, "it wrote up to the gate (and the token the gate held): " + cut);
        assertTrue(spans.size() > 1, "the large model wrote on: " + spans);
        for (Span sp : spans.subList(1, spans.size())) assertEquals(Author.large, sp.author(), "large-only after the loss: " + sp);
        assertEquals(f.trace().text().length(), spans.stream().mapToInt(sp -> sp.text().length()).sum());
      }
    }
  }

  /** Where the small model's first step is held, some tokens before its first reflection point. */
  private static final int SMALL_GATE = 8;

  @Test
  void losingTheOnlyLargeWorkerMidTakeoverFailsRetryablyByDefault() throws Exception {
    try (World w = new World(ConfigFactory.empty(), settings(false))) {
      StringBuilder streamed = new StringBuilder();
      CompletableFuture<SessionEvent> end = loseTheOnlyLargeWorkerMidTakeover(w, "fail-1", streamed);
      SessionEvent.Failed f = assertInstanceOf(SessionEvent.Failed.class, end.get(30, TimeUnit.SECONDS));
      assertTrue(f.retryable());
      assertTrue(f.message().contains("no large worker is available"), f.message());
      assertTrue(streamed.toString().startsWith(f.partial().text()), "the partial answer is what was streamed");
    }
  }

  /**
   * A session whose step is on a worker (a probe) of a node the failure detector then finds
   * unreachable; worker-lost-after is 100 ms and the directory is a probe too.
   */
  private record Stalled(TestProbe<WorkerProtocol.Command> worker, TestProbe<WorkerDirectory.Command> directory,
      TestProbe<SessionEvent> client, ActorRef<WorkerDirectory.UnreachableNodes> nodes, WorkerProtocol.Generate step,
      Role role) {

    static Stalled midStep(World w, String id, Mode mode, boolean degrade) {
      TestProbe<WorkerProtocol.Command> worker = w.kit.createTestProbe();
      TestProbe<WorkerDirectory.Command> directory = w.kit.createTestProbe();
      TestProbe<SessionEvent> client = w.kit.createTestProbe();
      SessionRequest request = new SessionRequest(id, "t", Prompt.chat(List.of(new ChatMessage("user", "Hi."))),
          SamplingParams.GREEDY, 100, CASE.config(), mode, false);
      SessionSettings settings = new SessionSettings(Duration.ofSeconds(1), Duration.ofMinutes(1), degrade, 4, 2, false,
          Duration.ofMillis(100), null, false);
      w.kit.spawn(SessionActor.create(request, client.getRef(), directory.getRef(), settings));
      WorkerDirectory.WatchNodes nodes = directory.expectMessageClass(WorkerDirectory.WatchNodes.class);
      list(directory.expectMessageClass(WorkerDirectory.GetWorkers.class), worker);
      WorkerProtocol.Generate step = worker.expectMessageClass(WorkerProtocol.Generate.class);
      // The worker's node stalls (a long pause, SIGSTOP): the failure detector finds it unreachable.
      nodes.replyTo().tell(new WorkerDirectory.UnreachableNodes(Set.of(worker.getRef().path().address())));
      return new Stalled(worker, directory, client, nodes.replyTo(), step, mode == Mode.large ? Role.large : Role.small);
    }

    /** The session, worker-lost-after later, asks which other worker could take the step. */
    WorkerDirectory.GetWorkers expectLookForAnother() {
      WorkerDirectory.GetWorkers look = directory.expectMessageClass(WorkerDirectory.GetWorkers.class);
      assertTrue(look.now() && look.exclude().contains(worker.getRef()), "asks now, for a worker other than its own: " + look);
      return look;
    }

    /**
     * The split brain resolver downs the worker's node; once it is removed, death watch says the
     * worker stopped, and the session looks for another worker of the role: none is listed.
     */
    void nodeRemoved() {
      worker.stop();
      WorkerDirectory.GetWorkers again = directory.expectMessageClass(WorkerDirectory.GetWorkers.class);
      assertEquals(role, again.role(), "the session waited for its worker until it stopped");
      assertTrue(again.exclude().contains(worker.getRef()), "the stopped worker is not asked again");
      list(again);
    }
  }

  /** The worker of {@code step} writes {@code text} and ends the sequence. */
  private static void done(WorkerProtocol.Generate step, String text) {
    step.replyTo().tell(new WorkerProtocol.Done(step.requestId(), "k", List.of(), List.of(new Token(1, text)), true,
        3, 3, 0, 0, 0));
  }

  /** Answers {@code asked}: these workers are listed. */
  @SafeVarargs
  private static void list(WorkerDirectory.GetWorkers asked, TestProbe<WorkerProtocol.Command>... workers) {
    Set<ActorRef<WorkerProtocol.Command>> refs = new HashSet<>();
    for (TestProbe<WorkerProtocol.Command> p : workers) refs.add(p.getRef());
    asked.replyTo().tell(new WorkerDirectory.Workers(asked.role(), refs));
  }

  @Test
  void aWorkerGivenUpOnForItsUnreachableNodeIsToldToReleaseTheSessionShouldTheNodeComeBack() {
    try (World w = new World()) {
      Stalled s = Stalled.midStep(w, "stalled-1", Mode.small, false);
      TestProbe<WorkerProtocol.Command> other = w.kit.createTestProbe();
      list(s.expectLookForAnother(), other);
      assertEquals(new WorkerProtocol.Release("stalled-1"), s.worker().expectMessageClass(WorkerProtocol.Release.class),
          "the worker, should its node come back, frees what it holds of the session");
      WorkerDirectory.GetWorkers again = s.directory().expectMessageClass(WorkerDirectory.GetWorkers.class);
      assertTrue(again.exclude().contains(s.worker().getRef()), "the lost worker is not asked again");
      list(again, other);
      assertEquals(s.step().basePosition(), other.expectMessageClass(WorkerProtocol.Generate.class).basePosition(),
          "the step moved to the other worker");
    }
  }

  @Test
  void theOnlyWorkerOfTheRoleOnANodeThatStallsPastWorkerLostAfterIsWaitedForAndTheSessionFinishesWhenItComesBack() {
    try (World w = new World()) {
      Stalled s = Stalled.midStep(w, "stalled-2", Mode.small, false);
      list(s.expectLookForAnother());
      // No other worker: the session keeps the step where it is, and looks again later.
      list(s.expectLookForAnother());
      s.nodes().tell(new WorkerDirectory.UnreachableNodes(Set.of()));
      done(s.step(), "Hello.");
      SessionEvent.Finished f = s.client().expectMessageClass(SessionEvent.Finished.class);
      assertEquals("Hello.", f.trace().text());
      assertFalse(f.degraded());
    }
  }

  @Test
  void theOnlyWorkerOfTheRoleWaitedForOnAnUnreachableNodeIsLostWhenItsNodeIsRemovedAndTheSessionFailsRetryably() {
    try (World w = new World()) {
      Stalled s = Stalled.midStep(w, "stalled-3", Mode.small, false);
      list(s.expectLookForAnother());
      s.nodeRemoved();
      SessionEvent.Failed f = s.client().expectMessageClass(SessionEvent.Failed.class);
      assertTrue(f.retryable(), f.message());
    }
  }

  /**
   * The only large worker, waited for on an unreachable node, is lost when its node is removed; a
   * session of mode large then fails (retryably) even where on-large-loss = degrade: it asked for
   * the large model alone, which degrade does not swap for the small one (speculative sessions
   * degrade: StalledLargeNodeTest in ops).
   */
  @Test
  void theOnlyLargeWorkerWaitedForOnAnUnreachableNodeIsLostWhenItsNodeIsRemovedAndAModeLargeSessionFailsEvenWithDegrade() {
    try (World w = new World()) {
      Stalled s = Stalled.midStep(w, "stalled-4", Mode.large, true);
      list(s.expectLookForAnother());
      s.nodeRemoved();
      SessionEvent.Failed f = s.client().expectMessageClass(SessionEvent.Failed.class);
      assertTrue(f.retryable(), f.message());
      assertTrue(f.message().contains("the session lost its large worker"), f.message());
      // None of the role is left: the same code as a request that finds none (its Retry-After is worker-wait; a tester's
      // crash case said 1 s, the SIGTERM case 10 s).
      assertEquals(io.tandem.protocol.FailureCode.NO_WORKER, f.code(), f.message());
    }
  }

  @Test
  void aWorkerWaitedForOnAnUnreachableNodeIsGivenUpOnOnceAnotherOfItsRoleIsListed() {
    try (World w = new World()) {
      Stalled s = Stalled.midStep(w, "stalled-5", Mode.small, false);
      list(s.expectLookForAnother());
      TestProbe<WorkerProtocol.Command> other = w.kit.createTestProbe();
      list(s.expectLookForAnother(), other);
      s.worker().expectMessageClass(WorkerProtocol.Release.class);
      list(s.directory().expectMessageClass(WorkerDirectory.GetWorkers.class), other);
      other.expectMessageClass(WorkerProtocol.Generate.class);
    }
  }
}
