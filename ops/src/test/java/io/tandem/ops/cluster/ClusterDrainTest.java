package io.tandem.ops.cluster;

import static io.tandem.ops.cluster.ClusterFailoverTest.await;
import static io.tandem.ops.cluster.ClusterFailoverTest.awaitWorkers;
import static io.tandem.ops.cluster.ClusterFailoverTest.largeSteps;
import static io.tandem.ops.cluster.ClusterFailoverTest.start;
import static io.tandem.ops.cluster.ClusterFailoverTest.steps;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.Done;
import akka.actor.CoordinatedShutdown;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Down;
import akka.actor.typed.receptionist.Receptionist;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.tandem.ops.TandemNode;
import io.tandem.ops.cluster.ClusterFailoverTest.Run;
import io.tandem.orchestrator.session.SessionEvent;
import io.tandem.orchestrator.session.StepTimings;
import io.tandem.orchestrator.session.WorkerDirectory;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.FinishReason;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A worker node stopped as SIGTERM stops it (CoordinatedShutdown, then leaving the cluster) drains:
 * sessions bound to its workers finish with them, new sessions go to other nodes' workers, and the
 * shutdown deadline bounds the wait. Real clusters on 127.0.0.1, as in {@link ClusterFailoverTest}.
 */
class ClusterDrainTest {

  /** An orchestrator (failing sessions that lose the large worker), a small node and a large node, all listed. */
  record Trio(TandemNode orchestrator, TandemNode large, ConcurrentLinkedQueue<StepTimings> steps) {
    static Trio start(LoopbackCluster c, Config largeConfig) throws Exception {
      TandemNode a = c.node(ConfigFactory.parseString("tandem.session.on-large-loss = fail"), "orchestrator");
      c.node(ConfigFactory.empty(), "small");
      TandemNode large = c.node(largeConfig, "large");
      ConcurrentLinkedQueue<StepTimings> steps = ClusterFailoverTest.steps(a);
      awaitWorkers(a);
      return new Trio(a, large, steps);
    }
  }

  /** Runs the node's CoordinatedShutdown, as its JVM's SIGTERM hook does; completes once it has stopped. */
  static CompletableFuture<Done> stop(TandemNode node) {
    return CoordinatedShutdown.get(node.system()).runAll(CoordinatedShutdown.unknownReason()).toCompletableFuture();
  }

  /** Waits until {@code node} lists the orchestrator's sessions (gossip: long done on a node up for a while). */
  static void awaitSessionsListed(TandemNode node) throws InterruptedException {
    TestProbe<Receptionist.Listing> listing = TestProbe.create(node.system());
    await(() -> {
      node.system().receptionist().tell(Receptionist.find(ServiceKeys.SESSIONS, listing.getRef()));
      return !listing.receiveMessage(Duration.ofSeconds(10)).getServiceInstances(ServiceKeys.SESSIONS).isEmpty();
    }, Duration.ofSeconds(20), node.address() + " lists the orchestrator's sessions");
  }

  /** How many large workers {@code node}'s directory lists now. */
  static int largeWorkersListed(TandemNode node) {
    TestProbe<WorkerDirectory.Workers> probe = TestProbe.create(node.system());
    node.directory().tell(new WorkerDirectory.GetWorkers(Role.large, Set.of(), probe.getRef(), true));
    return probe.receiveMessage(Duration.ofSeconds(10)).workers().size();
  }

  static SessionEvent.Finished finishedInFull(Run r) {
    SessionEvent.Finished fin = assertInstanceOf(SessionEvent.Finished.class, r.end(), () -> "ended with " + r.end());
    assertFalse(fin.degraded(), "finished without the large model");
    assertEquals(FinishReason.stop, fin.trace().finishReason());
    assertEquals(fin.trace().text(), r.streamed(), "the client was streamed exactly the final text");
    return fin;
  }

  /**
   * The only large node stopped as SIGTERM stops it (a drain, as in a rolling restart) counts as on
   * its way while it leaves and for {@code tandem.session.worker-wait} after it was removed, so that a
   * new request waits for its successor as a session does (it got a 503 at once); a downed one does
   * not ({@link DownedNodeIT}).
   */
  @Test
  void aNodeThatLeftCountsAsComingForWorkerWait(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 400, 1, 3)) {
      TandemNode a = c.node(ConfigFactory.parseString("tandem.session.worker-wait = 4s"), "orchestrator");
      c.node(ConfigFactory.empty(), "small");
      TandemNode large = c.node(ConfigFactory.empty(), "large");
      awaitWorkers(a);
      io.tandem.orchestrator.session.RoleSupply supply = io.tandem.orchestrator.session.RoleSupply.get(a.system());
      assertTrue(supply.memberComing(a.system(), Role.large));
      stop(large).get(60, TimeUnit.SECONDS);
      // Removed: a member no more, and still coming (the news of its removal reaches the directory a moment after the state).
      await(() -> java.util.stream.StreamSupport.stream(Cluster.get(a.system()).state().getMembers().spliterator(), false)
              .noneMatch(m -> m.hasRole("large")) && supply.memberComing(a.system(), Role.large),
          Duration.ofSeconds(30), "the large node was removed, and is waited for");
      long removed = System.nanoTime();
      // Readiness says it left and is waited for, not that it is "in the cluster but offers none now" (tester44c).
      String coming = supply.comingAs(a.system(), Role.large);
      assertTrue(coming.startsWith("a large node left the cluster ") && coming.endsWith(" s ago (stopped, to restart or for good);"
          + " until 4 s after it left, a request that needs one waits up to 4 s (tandem.session.worker-wait) for a large worker:"
          + " restart it, or start another"), coming);
      await(() -> !supply.memberComing(a.system(), Role.large), Duration.ofSeconds(30), "worker-wait passed");
      assertTrue(System.nanoTime() - removed > TimeUnit.SECONDS.toNanos(2), "waited for about worker-wait (4 s)");
    }
  }

  @Test
  void stoppingTheOnlyLargeNodeLetsTheSessionsBoundToItFinishBeforeItLeaves(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 800, 1, 3)) {
      Trio t = Trio.start(c, ConfigFactory.empty());
      TandemNode a = t.orchestrator(), large = t.large();
      ConcurrentLinkedQueue<StepTimings> steps = t.steps();
      List<CompletableFuture<Run>> runs = start(a, 6, "drain-");
      await(() -> largeSteps(steps) >= 6, Duration.ofSeconds(60), "the large worker served takeovers");
      CompletableFuture<Done> stopped = stop(large);
      for (CompletableFuture<Run> f : runs) {
        Run r = f.get(90, TimeUnit.SECONDS);
        assertTrue(finishedInFull(r).trace().counters().takeovers() > 0);
      }
      stopped.get(60, TimeUnit.SECONDS); // and the node did stop, once its sessions were done
      // CoordinatedShutdown's last phase starts the system's termination; its end may come a moment after.
      large.system().getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void stoppingTheOnlyLargeNodeBeforeTheSessionsReachedItStillLetsThemFinish(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 800, 1, 3)) {
      Trio t = Trio.start(c, ConfigFactory.empty());
      TandemNode a = t.orchestrator(), large = t.large();
      ConcurrentLinkedQueue<StepTimings> steps = t.steps();
      awaitSessionsListed(large);
      List<CompletableFuture<Run>> runs = start(a, 6, "early-");
      // The sessions run: they have written with the small model, and most have not needed the large one yet.
      await(() -> !steps.isEmpty(), Duration.ofSeconds(60), "the sessions started");
      CompletableFuture<Done> stopped = stop(large);
      for (CompletableFuture<Run> f : runs) assertTrue(finishedInFull(f.get(90, TimeUnit.SECONDS)).trace().counters().takeovers() > 0);
      stopped.get(60, TimeUnit.SECONDS);
    }
  }

  @Test
  void sessionsAdmittedWhileTheOnlyLargeNodeLeavesNeverLoseItMidStep(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 400, 1, 3)) {
      Trio t = Trio.start(c, ConfigFactory.empty());
      awaitSessionsListed(t.large());
      List<CompletableFuture<Run>> runs = new ArrayList<>(start(t.orchestrator(), 4, "before-"));
      List<CompletableFuture<Run>> first = List.copyOf(runs);
      await(() -> !t.steps().isEmpty(), Duration.ofSeconds(60), "the sessions started");
      CompletableFuture<Done> stopped = stop(t.large());
      // Clients in lockstep, as a load generator's: a round of 4 sessions, then 400 ms of think time
      // (longer than the drain's 250 ms poll, so that it sees the gap), then the next round, until
      // the node has left. The drain ends in a gap, and the next round comes while the news that
      // the worker withdrew is still spreading.
      List<CompletableFuture<Run>> round = runs;
      for (int i = 0; !stopped.isDone(); i++) {
        CompletableFuture.allOf(round.toArray(CompletableFuture[]::new)).get(90, TimeUnit.SECONDS);
        try {
          stopped.get(400, TimeUnit.MILLISECONDS);
          break;
        } catch (java.util.concurrent.TimeoutException thinking) {
          round = start(t.orchestrator(), 4, "round-" + i + "-");
          runs.addAll(round);
        }
      }
      for (CompletableFuture<Run> f : runs) {
        SessionEvent end = f.get(90, TimeUnit.SECONDS).end();
        if (end instanceof SessionEvent.Failed failure)
          assertTrue(failure.code() != FailureCode.WORKER_LOST && !failure.message().contains("the session lost its"),
              "a session lost the leaving worker mid-step: " + failure);
      }
      for (CompletableFuture<Run> f : first) finishedInFull(f.get());
    }
  }

  @Test
  void aStoppingLargeNodeWithdrawsSoThatNewSessionsGoToTheOtherWhileItsOwnFinishOnIt(@TempDir Path dir)
      throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 4000, 1, 3)) {
      TandemNode a = c.node(ConfigFactory.parseString("tandem.session.on-large-loss = fail"), "orchestrator");
      c.node(ConfigFactory.empty(), "small");
      List<TandemNode> large = List.of(c.node(ConfigFactory.empty(), "large"), c.node(ConfigFactory.empty(), "large"));
      ConcurrentLinkedQueue<StepTimings> steps = steps(a);
      awaitWorkers(a);
      await(() -> largeWorkersListed(a) == 2, Duration.ofSeconds(20), "both large workers are listed");
      List<CompletableFuture<Run>> runs = new ArrayList<>(start(a, 8, "old-"));
      // The node to stop is one that served takeovers: the sessions' placement may favour either (a CI
      // run waited 60 s for 4 on one chosen in advance, which the sessions had not been given).
      java.util.function.Function<TandemNode, Long> served =
          n -> steps.stream().filter(s -> s.worker().startsWith(n.address() + "/")).count();
      await(() -> large.stream().anyMatch(n -> served.apply(n) >= 4), Duration.ofSeconds(60), "a large worker served takeovers");
      TandemNode leaving = large.stream().filter(n -> served.apply(n) >= 4).findFirst().orElseThrow();
      String leavingAddress = leaving.address() + "/";
      CompletableFuture<Done> stopped = stop(leaving);
      await(() -> largeWorkersListed(a) == 1, Duration.ofSeconds(30), "the leaving worker is withdrawn");
      assertFalse(stopped.isDone(), "still draining: its sessions have not finished yet");
      // Readiness's words for a node whose workers withdrew before it leaves: it is leaving, not "in
      // the cluster but offers none now" (tester44e read that while the last large worker withdrew).
      io.tandem.orchestrator.session.RoleSupply supply = io.tandem.orchestrator.session.RoleSupply.get(a.system());
      akka.actor.Address leavingMember = Cluster.get(leaving.system()).selfMember().address();
      await(() -> supply.withdrawing().get().getOrDefault(leavingMember, Set.of()).contains(Role.large), Duration.ofSeconds(10),
          "the orchestrator's supply knows the leaving node's worker withdrew");
      java.util.Map<akka.actor.Address, Set<Role>> bothDrain = new java.util.HashMap<>();
      for (TandemNode n : large) bothDrain.put(Cluster.get(n.system()).selfMember().address(), Set.of(Role.large));
      assertEquals("a large node is leaving the cluster (stopped, to restart or for good); a request that needs one waits up to"
          + " 10 s (tandem.session.worker-wait) for a large worker", new io.tandem.orchestrator.session.RoleSupply(true, Set.of(),
          Duration.ofSeconds(10), java.util.Map.of(), new java.util.concurrent.atomic.AtomicReference<>(bothDrain))
          .comingAs(a.system(), Role.large));
      runs.addAll(start(a, 4, "new-"));
      for (CompletableFuture<Run> f : runs) finishedInFull(f.get(120, TimeUnit.SECONDS));
      stopped.get(60, TimeUnit.SECONDS);
      assertTrue(steps.stream().anyMatch(s -> s.sessionId().startsWith("old-") && s.worker().startsWith(leavingAddress)));
      for (StepTimings s : steps)
        if (s.sessionId().startsWith("new-"))
          assertFalse(s.worker().startsWith(leavingAddress), "a new session was sent to the withdrawn worker: " + s);
    }
  }

  @Test
  void sessionsStillBoundAtTheShutdownDeadlineLoseTheWorkerAsIfItHadCrashed(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 4000, 1, 3)) {
      Trio t = Trio.start(c, ConfigFactory.parseString("tandem.worker.shutdown-deadline = 200ms"));
      TandemNode a = t.orchestrator(), large = t.large();
      ConcurrentLinkedQueue<StepTimings> steps = t.steps();
      List<CompletableFuture<Run>> runs = start(a, 6, "late-");
      await(() -> largeSteps(steps) >= 6, Duration.ofSeconds(60), "the large worker served takeovers");
      stop(large).get(60, TimeUnit.SECONDS);
      int failed = 0;
      for (CompletableFuture<Run> f : runs) {
        Run r = f.get(90, TimeUnit.SECONDS);
        if (r.end() instanceof SessionEvent.Failed failure) {
          failed++;
          assertTrue(failure.retryable(), failure.message());
          assertTrue(failure.message().contains("large"), failure.message());
        } else {
          finishedInFull(r);
        }
      }
      assertTrue(failed > 0, "sessions longer than the deadline were still running when the node left");
    }
  }

  /** Whether the large worker on {@code node} says it is draining (its stats, asked from {@code from}, an orchestrator). */
  static boolean largeWorkerDraining(TandemNode from, TandemNode node) {
    TestProbe<WorkerDirectory.Workers> workers = TestProbe.create(from.system());
    from.directory().tell(new WorkerDirectory.GetWorkers(Role.large, Set.of(), workers.getRef(), true));
    TestProbe<io.tandem.protocol.worker.WorkerProtocol.WorkerStats> stats = TestProbe.create(from.system());
    for (var w : workers.receiveMessage(Duration.ofSeconds(10)).workers())
      if (w.path().toString().startsWith(node.address() + "/")) {
        w.tell(new io.tandem.protocol.worker.WorkerProtocol.GetStats(stats.getRef()));
        return stats.receiveMessage(Duration.ofSeconds(10)).draining();
      }
    return false;
  }

  /**
   * A node downed while its worker drains (a partition the split brain resolver settled against
   * it, or the node stopped mid-drain) stops then: the other nodes' sessions lost its worker when it
   * was downed, and it waited out its whole shutdown deadline (tester44c: 35 s).
   */
  @Test
  void aNodeDownedWhileItDrainsStopsWithoutWaitingOutItsDeadline(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 4000, 1, 3)) {
      Trio t = Trio.start(c, ConfigFactory.parseString("tandem.worker.shutdown-deadline = 60s"));
      TandemNode a = t.orchestrator(), large = t.large();
      List<CompletableFuture<Run>> runs = start(a, 4, "drain-downed-");
      await(() -> largeSteps(t.steps()) >= 4, Duration.ofSeconds(60), "the large worker served takeovers");
      CompletableFuture<Done> stopped = stop(large);
      await(() -> largeWorkerDraining(a, large), Duration.ofSeconds(20), "the large worker drains");
      assertFalse(stopped.isDone(), "still draining: its sessions have not finished yet");
      long t0 = System.nanoTime();
      Cluster.get(a.system()).manager().tell(new Down(Cluster.get(large.system()).selfMember().address()));
      stopped.get(60, TimeUnit.SECONDS);
      long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
      assertTrue(seconds < 30, "a node downed while draining stopped after " + seconds + " s, as if it drained on (deadline 60 s)");
      for (CompletableFuture<Run> f : runs) f.get(90, TimeUnit.SECONDS); // each ends, one way or the other
    }
  }

  @Test
  void aNodeTheClusterDownsStopsAtOnceWithoutWaitingForSessionsThatCanNoLongerReachIt(@TempDir Path dir)
      throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 4000, 1, 3)) {
      Trio t = Trio.start(c, ConfigFactory.empty());
      TandemNode a = t.orchestrator(), large = t.large();
      ConcurrentLinkedQueue<StepTimings> steps = t.steps();
      List<CompletableFuture<Run>> runs = start(a, 4, "downed-");
      await(() -> largeSteps(steps) >= 4, Duration.ofSeconds(60), "the large worker served takeovers");
      long t0 = System.nanoTime();
      Cluster.get(a.system()).manager().tell(new Down(Cluster.get(large.system()).selfMember().address()));
      large.system().getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
      long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
      assertTrue(seconds < 20, "a downed node stopped after " + seconds + " s, as if draining (deadline 35 s)");
      for (CompletableFuture<Run> f : runs) f.get(90, TimeUnit.SECONDS); // each ends, one way or the other
    }
  }
}
