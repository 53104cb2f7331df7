package io.tandem.ops.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.Props;
import akka.actor.typed.eventstream.EventStream;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import com.typesafe.config.ConfigFactory;
import io.tandem.ops.TandemNode;
import io.tandem.orchestrator.session.Mode;
import io.tandem.orchestrator.session.SessionEvent;
import io.tandem.orchestrator.session.SessionRequest;
import io.tandem.orchestrator.session.SessionRunner;
import io.tandem.orchestrator.session.StepTimings;
import io.tandem.orchestrator.session.WorkerDirectory;
import io.tandem.protocol.Author;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.FinishReason;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.Span;
import io.tandem.protocol.config.SpeculativeConfig;
import io.tandem.protocol.worker.WorkerProtocol;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three (or four) Tandem nodes as ActorSystems in this JVM, a real cluster on 127.0.0.1: sessions
 * on the orchestrator node A use the small worker on B and the large worker on C.
 */
class ClusterFailoverTest {
  private static final SpeculativeConfig CONFIG = SpeculativeConfig.paperDefaults();

  /** A session's end, and the text its client was streamed. */
  record Run(SessionEvent end, String streamed) {}

  /** Collects the StepTimings events of a node. */
  static ConcurrentLinkedQueue<StepTimings> steps(TandemNode node) {
    ConcurrentLinkedQueue<StepTimings> out = new ConcurrentLinkedQueue<>();
    Behavior<StepTimings> b = Behaviors.receive(StepTimings.class).onMessage(StepTimings.class, s -> {
      out.add(s);
      return Behaviors.same();
    }).build();
    ActorRef<StepTimings> ref = node.system().systemActorOf(b, "step-collector", Props.empty());
    node.system().eventStream().tell(new EventStream.Subscribe<>(StepTimings.class, ref));
    return out;
  }

  /** Waits until node's directory lists at least one worker of each role. */
  static void awaitWorkers(TandemNode node) {
    TestProbe<WorkerDirectory.Workers> probe = TestProbe.create(node.system());
    for (Role r : Role.values()) {
      node.directory().tell(new WorkerDirectory.GetWorkers(r, Set.of(), probe.getRef()));
      probe.expectMessageClass(WorkerDirectory.Workers.class, Duration.ofSeconds(20));
    }
  }

  static List<CompletableFuture<Run>> start(TandemNode node, int n, String prefix) {
    List<CompletableFuture<Run>> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      SessionRequest req = new SessionRequest(prefix + i, "t", Prompt.chat(List.of(new ChatMessage("user", "Compute."))),
          SamplingParams.GREEDY, 100_000, CONFIG, Mode.speculative, true);
      StringBuilder streamed = new StringBuilder();
      out.add(SessionRunner.run(node.system(), node.sessions(), req, d -> {
        synchronized (streamed) {
          streamed.append(d.text());
        }
      }).toCompletableFuture().thenApply(e -> {
        synchronized (streamed) {
          return new Run(e, streamed.toString());
        }
      }));
    }
    return out;
  }

  static void await(BooleanSupplier condition, Duration timeout, String what) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting until " + what);
      Thread.onSpinWait();
      Thread.sleep(20); // polling a condition, not waiting a fixed time
    }
  }

  static long largeSteps(ConcurrentLinkedQueue<StepTimings> steps) {
    return steps.stream().filter(s -> s.role() == Role.large).count();
  }

  @Test
  void sessionsOnOneNodeUseWorkersOnTwoOthersAndEachTakeoverPrefillsOnlyWhatTheLargeWorkerHasNotSeen(@TempDir Path dir)
      throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 400, 0.2, 0.5)) {
      TandemNode a = c.node(ConfigFactory.empty(), "orchestrator");
      TandemNode b = c.node(ConfigFactory.empty(), "small");
      TandemNode cNode = c.node(ConfigFactory.empty(), "large");
      ConcurrentLinkedQueue<StepTimings> steps = steps(a);
      awaitWorkers(a);
      List<CompletableFuture<Run>> runs = start(a, 8, "affinity-");
      for (CompletableFuture<Run> f : runs) {
        Run r = f.get(120, TimeUnit.SECONDS);
        SessionEvent.Finished fin = assertInstanceOf(SessionEvent.Finished.class, r.end(), () -> "ended with " + r.end());
        assertFalse(fin.degraded());
        assertEquals(FinishReason.stop, fin.trace().finishReason());
        assertTrue(fin.trace().counters().takeovers() > 0, "the large model took over");
        if (System.getenv("DEBUG_TRACE") != null) System.err.println(fin.trace().counters() + "\n" + fin.trace().spans());
        assertEquals(fin.trace().text(), r.streamed(), "the client was streamed exactly the final text");
      }
      // Every step went to a worker on another node: small on B, large on C.
      for (StepTimings s : steps) {
        String host = s.role() == Role.small ? b.address() : cNode.address();
        assertTrue(s.worker().startsWith(host + "/"), s.worker() + " should be on " + host);
      }
      // Affinity: after its first large step, a session's takeovers prefill only the tokens written
      // since its previous large step (plus injected words), never the whole transcript again.
      Map<String, List<StepTimings>> bySession = new HashMap<>();
      for (StepTimings s : steps) if (s.role() == Role.large) bySession.computeIfAbsent(s.sessionId(), k -> new ArrayList<>()).add(s);
      int incremental = 0;
      for (List<StepTimings> ls : bySession.values()) {
        for (int i = 1; i < ls.size(); i++) {
          StepTimings prev = ls.get(i - 1), cur = ls.get(i);
          int newSincePrevious = cur.basePosition() - prev.basePosition() - prev.generatedTokens();
          assertTrue(cur.prefillTokens() <= newSincePrevious + 16,
              "takeover at " + cur.basePosition() + " prefilled " + cur.prefillTokens() + " tokens; only "
                  + newSincePrevious + " were new to the large worker");
          assertTrue(cur.prefillTokens() < cur.basePosition(), "not the whole transcript");
          incremental++;
        }
      }
      assertTrue(incremental > 8, "sessions came back to the large worker: " + incremental + " " + bySession.values().stream().map(List::size).toList() + " of " + steps.size() + " steps");
      TestProbe<WorkerProtocol.WorkerStats> probe = TestProbe.create(a.system());
      // The large worker's cache missed at most once per session and hit on the other takeovers. (Its
      // first request is the prefill ahead of the prompt, tandem.session.prefill-ahead, which counts
      // as neither; a takeover sent before that was taken misses.)
      TestProbe<WorkerDirectory.Workers> lp = TestProbe.create(a.system());
      a.directory().tell(new WorkerDirectory.GetWorkers(Role.large, Set.of(), lp.getRef()));
      ActorRef<WorkerProtocol.Command> large = lp.receiveMessage().workers().iterator().next();
      large.tell(new WorkerProtocol.GetStats(probe.getRef()));
      WorkerProtocol.WorkerStats stats = probe.receiveMessage(Duration.ofSeconds(10));
      assertTrue(stats.cacheMisses() <= 8, stats.toString());
      assertTrue(stats.cacheHits() >= largeSteps(steps) - 8, stats.toString());
      assertTrue(stats.requests() > largeSteps(steps), "prefills ahead besides the takeovers: " + stats);
    }
  }

  @Test
  void crashingTheOnlyLargeNodeMidSessionFinishesEverySessionSmallOnlyAndDegradedWhenConfiguredToDegrade(
      @TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 800, 1, 3)) {
      TandemNode a = c.node(ConfigFactory.parseString("tandem.session.on-large-loss = degrade"), "orchestrator");
      c.node(ConfigFactory.empty(), "small");
      TandemNode large = c.crashableNode("large");
      ConcurrentLinkedQueue<StepTimings> steps = steps(a);
      awaitWorkers(a);
      List<CompletableFuture<Run>> runs = start(a, 6, "degrade-");
      await(() -> largeSteps(steps) >= 6, Duration.ofSeconds(60), "the large worker served takeovers");
      large.close();
      int degraded = 0;
      for (CompletableFuture<Run> f : runs) {
        Run r = f.get(90, TimeUnit.SECONDS); // never a hang
        SessionEvent.Finished fin = assertInstanceOf(SessionEvent.Finished.class, r.end(), () -> "ended with " + r.end());
        assertEquals(FinishReason.stop, fin.trace().finishReason(), "the small model wrote on to the end");
        assertEquals(fin.trace().text(), r.streamed(), "nothing the client received was contradicted");
        if (fin.degraded()) {
          degraded++;
          List<Span> spans = fin.trace().spans();
          assertTrue(spans.stream().anyMatch(s -> s.author() == Author.large), "the large model's steps before the crash stay");
          assertEquals(Author.small, spans.get(spans.size() - 1).author(), "the small model finished it");
        }
      }
      assertTrue(degraded > 0, "sessions were running when the large node crashed");
    }
  }

  @Test
  void crashingTheOnlyLargeNodeMidSessionFailsEverySessionStillRunningWithARetryableError(@TempDir Path dir)
      throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 800, 1, 3)) {
      TandemNode a = c.node(ConfigFactory.parseString("tandem.session.on-large-loss = fail"), "orchestrator");
      c.node(ConfigFactory.empty(), "small");
      TandemNode large = c.crashableNode("large");
      ConcurrentLinkedQueue<StepTimings> steps = steps(a);
      awaitWorkers(a);
      List<CompletableFuture<Run>> runs = start(a, 6, "fail-");
      await(() -> largeSteps(steps) >= 6, Duration.ofSeconds(60), "the large worker served takeovers");
      large.close();
      int failed = 0;
      for (CompletableFuture<Run> f : runs) {
        Run r = f.get(90, TimeUnit.SECONDS); // never a hang
        if (r.end() instanceof SessionEvent.Failed failure) {
          failed++;
          assertTrue(failure.retryable(), failure.message());
          assertTrue(failure.message().contains("large"), failure.message());
          assertTrue(r.streamed().startsWith(failure.partial().text()), "what was streamed stands");
        } else {
          SessionEvent.Finished fin = assertInstanceOf(SessionEvent.Finished.class, r.end());
          assertFalse(fin.degraded());
        }
      }
      assertTrue(failed > 0, "sessions were running when the large node crashed");
    }
  }

  @Test
  void crashingOneOfTwoLargeNodesMovesItsSessionsToTheOtherAndTheyFinishAsIfNothingHappened(@TempDir Path dir)
      throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 800, 1, 3)) {
      TandemNode a = c.node(ConfigFactory.empty(), "orchestrator");
      c.node(ConfigFactory.empty(), "small");
      TandemNode doomed = c.crashableNode("large");
      c.node(ConfigFactory.empty(), "large");
      ConcurrentLinkedQueue<StepTimings> steps = steps(a);
      awaitWorkers(a);
      TestProbe<WorkerDirectory.Workers> lp = TestProbe.create(a.system());
      await(() -> {
        a.directory().tell(new WorkerDirectory.GetWorkers(Role.large, Set.of(), lp.getRef()));
        return lp.receiveMessage(Duration.ofSeconds(10)).workers().size() == 2;
      }, Duration.ofSeconds(20), "both large workers are listed");
      List<CompletableFuture<Run>> runs = start(a, 8, "move-");
      String doomedAddress = doomed.address() + "/";
      await(() -> steps.stream().filter(s -> s.worker().startsWith(doomedAddress)).count() >= 4, Duration.ofSeconds(60),
          "the doomed large worker served takeovers");
      doomed.close();
      List<String> texts = new ArrayList<>();
      for (CompletableFuture<Run> f : runs) {
        Run r = f.get(90, TimeUnit.SECONDS);
        SessionEvent.Finished fin = assertInstanceOf(SessionEvent.Finished.class, r.end(), () -> "ended with " + r.end());
        assertFalse(fin.degraded());
        assertEquals(FinishReason.stop, fin.trace().finishReason());
        assertEquals(fin.trace().text(), r.streamed(), "nothing the client received was contradicted");
        texts.add(fin.trace().text());
      }
      // Scripted models write the same at the same position: every session's output is the same
      // whichever large worker wrote which takeover.
      assertEquals(1, texts.stream().distinct().count(), "all sessions produced the one scripted answer");
    }
  }

  /** How many sessions' caches the workers of {@code role} that {@code node} sees hold now. */
  static int sessionsCached(TandemNode node, Role role) {
    TestProbe<Receptionist.Listing> listing = TestProbe.create(node.system());
    node.system().receptionist().tell(Receptionist.find(ServiceKeys.forRole(role), listing.getRef()));
    TestProbe<WorkerProtocol.WorkerStats> stats = TestProbe.create(node.system());
    int n = 0;
    for (ActorRef<WorkerProtocol.Command> w : listing.receiveMessage().getServiceInstances(ServiceKeys.forRole(role))) {
      w.tell(new WorkerProtocol.GetStats(stats.getRef()));
      n += stats.receiveMessage(Duration.ofSeconds(10)).sessionsCached();
    }
    return n;
  }

  @Test
  void killingTheOrchestratorNodeMidSessionFreesTheCachesItsSessionsHeldOnTheWorkerNodes(@TempDir Path dir)
      throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 4000, 1, 3)) {
      TandemNode small = c.node(ConfigFactory.empty(), "small");
      TandemNode large = c.node(ConfigFactory.empty(), "large");
      TandemNode a = c.crashableNode("orchestrator");
      ConcurrentLinkedQueue<StepTimings> steps = steps(a);
      awaitWorkers(a);
      start(a, 8, "orphan-");
      await(() -> largeSteps(steps) >= 8, Duration.ofSeconds(60), "the sessions used both workers");
      assertTrue(sessionsCached(small, Role.small) > 0 && sessionsCached(large, Role.large) > 0,
          "sessions hold caches on both worker nodes");
      a.close(); // no Release will ever come: the sessions die with their node
      // Once the cluster removes the node, death watch tells each worker its sessions are gone.
      TestProbe<Object> probe = TestProbe.create(small.system());
      probe.awaitAssert(Duration.ofSeconds(30), () -> {
        assertEquals(0, sessionsCached(small, Role.small), "orphaned caches on the small worker");
        assertEquals(0, sessionsCached(large, Role.large), "orphaned caches on the large worker");
        return null;
      });
    }
  }
}
