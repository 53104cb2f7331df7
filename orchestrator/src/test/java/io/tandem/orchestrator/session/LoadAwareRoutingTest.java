package io.tandem.orchestrator.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import com.typesafe.config.ConfigFactory;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.worker.WorkerProtocol;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Sessions without a worker yet see queue lengths and take the least loaded of their first choices. */
class LoadAwareRoutingTest {
  private static ActorTestKit kit;

  @BeforeAll
  static void start() {
    kit = ActorTestKit.create(World.LOCAL.withFallback(ConfigFactory.load()));
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  /** A stand-in worker that reports a fixed queue length. */
  private static Behavior<WorkerProtocol.Command> reporting(int queued) {
    return Behaviors.setup(ctx -> {
      ctx.getSystem().receptionist().tell(Receptionist.register(ServiceKeys.LARGE_WORKERS, ctx.getSelf()));
      return Behaviors.receive(WorkerProtocol.Command.class)
          .onMessage(WorkerProtocol.GetStats.class, g -> {
            g.replyTo().tell(new WorkerProtocol.WorkerStats(ctx.getSelf().path().name(), "large", "m", 1, queued, 1,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
            return Behaviors.same();
          })
          .build();
    });
  }

  /**
   * A stand-in worker with {@code queued} requests waiting that completes 10 requests a second of
   * its uptime: each poll finds 10 more done and one second more up.
   */
  private static Behavior<WorkerProtocol.Command> completing(int queued) {
    return Behaviors.setup(ctx -> {
      long[] polls = {0};
      return Behaviors.receive(WorkerProtocol.Command.class)
          .onMessage(WorkerProtocol.GetStats.class, g -> {
            long n = ++polls[0];
            g.replyTo().tell(new WorkerProtocol.WorkerStats(ctx.getSelf().path().name(), "large", "m", 1, queued, 1,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10 * n, 0, n * 1_000_000_000L, 0, 0, 0, false));
            return Behaviors.same();
          })
          .build();
    });
  }

  /**
   * The wait {@code skip-takeover-above} compares with: the requests ahead over the worker's rate of
   * completing them, or what requests to it lately waited (smoothed), whichever is longer (tester61a:
   * only a fixed stand-in answer was tested).
   */
  @Test
  void theExpectedQueueWaitIsTheQueueOverTheRateOrTheWaitsSeenLately() {
    ActorRef<WorkerProtocol.Command> worker = kit.spawn(completing(4), "completing");
    kit.system().receptionist().tell(Receptionist.register(ServiceKeys.LARGE_WORKERS, worker));
    ActorRef<WorkerDirectory.Command> dir = kit.spawn(WorkerDirectory.create(Duration.ofMillis(20)));
    TestProbe<WorkerDirectory.QueueWait> waits = kit.createTestProbe();
    // 4 ahead at 10 a second: 0.4 s, once two polls have given a rate (each answer counts one more request sent, until
    // the next poll says what the queue holds).
    waits.awaitAssert(Duration.ofSeconds(10), () -> {
      dir.tell(new WorkerDirectory.GetQueueWait(worker, waits.getRef()));
      assertEquals(Duration.ofMillis(400), waits.receiveMessage().expected());
      return null;
    });
    // Requests that waited longer than that lately: their wait, smoothed (the first taken as it is, then a fifth of
    // each difference).
    dir.tell(new WorkerDirectory.QueueWaited(worker, Duration.ofSeconds(10)));
    dir.tell(new WorkerDirectory.GetQueueWait(worker, waits.getRef()));
    assertEquals(Duration.ofSeconds(10), waits.receiveMessage().expected());
    dir.tell(new WorkerDirectory.QueueWaited(worker, Duration.ZERO));
    dir.tell(new WorkerDirectory.GetQueueWait(worker, waits.getRef()));
    assertEquals(Duration.ofSeconds(8), waits.receiveMessage().expected());
    // Out of the role's listing, which the other tests count.
    kit.stop(dir);
    kit.stop(worker);
  }

  @Test
  void theDirectoryReportsEachWorkersQueuedAndRunningRequests() {
    ActorRef<WorkerProtocol.Command> idle = kit.spawn(reporting(0), "idle");
    ActorRef<WorkerProtocol.Command> busy = kit.spawn(reporting(9), "busy");
    ActorRef<WorkerDirectory.Command> dir = kit.spawn(WorkerDirectory.create(Duration.ofMillis(20)));
    TestProbe<WorkerDirectory.Workers> probe = kit.createTestProbe();
    WorkerDirectory.Workers w = probe.awaitAssert(Duration.ofSeconds(10), () -> {
      dir.tell(new WorkerDirectory.GetWorkers(Role.large, Set.of(), probe.getRef()));
      WorkerDirectory.Workers got = probe.receiveMessage();
      assertEquals(2, got.load().size(), "both loads known: " + got);
      return got;
    });
    assertEquals(1, w.load().get(idle));
    assertEquals(10, w.load().get(busy));
  }

  @Test
  void anUnboundSessionTakesTheLeastLoadedOfItsFirstTwoChoicesAndOtherwiseKeepsItsAffinityOrder() {
    List<ActorRef<WorkerProtocol.Command>> workers = List.of(
        kit.<WorkerProtocol.Command>createTestProbe("w0").getRef(), kit.<WorkerProtocol.Command>createTestProbe("w1").getRef(),
        kit.<WorkerProtocol.Command>createTestProbe("w2").getRef(), kit.<WorkerProtocol.Command>createTestProbe("w3").getRef());
    int moved = 0;
    for (int s = 0; s < 200; s++) {
      String id = "session-" + s;
      List<ActorRef<WorkerProtocol.Command>> byHash = Affinity.rank(id, workers, w -> w.path().toString());
      Map<ActorRef<WorkerProtocol.Command>, Integer> load = new HashMap<>();
      for (ActorRef<WorkerProtocol.Command> w : workers) load.put(w, 5);
      // With equal loads, the hash order stands.
      assertEquals(byHash, Affinity.rankByLoad(id, workers, w -> w.path().toString(), load, 2));
      // The first choice busy: the second (and only the second) comes first; the rest keep their order.
      load.put(byHash.get(0), 50);
      List<ActorRef<WorkerProtocol.Command>> ranked = Affinity.rankByLoad(id, workers, w -> w.path().toString(), load, 2);
      assertEquals(List.of(byHash.get(1), byHash.get(0), byHash.get(2), byHash.get(3)), ranked);
      moved++;
    }
    assertEquals(200, moved);
  }

  @Test
  void removingAWorkerMovesOnlyTheSessionsThatPreferredIt() {
    List<ActorRef<WorkerProtocol.Command>> workers = List.of(
        kit.<WorkerProtocol.Command>createTestProbe("a").getRef(), kit.<WorkerProtocol.Command>createTestProbe("b").getRef(),
        kit.<WorkerProtocol.Command>createTestProbe("c").getRef(), kit.<WorkerProtocol.Command>createTestProbe("d").getRef());
    ActorRef<WorkerProtocol.Command> gone = workers.get(2);
    Set<ActorRef<WorkerProtocol.Command>> rest = new HashSet<>(workers);
    rest.remove(gone);
    int onGone = 0;
    for (int s = 0; s < 400; s++) {
      List<ActorRef<WorkerProtocol.Command>> before = Affinity.rank("s" + s, workers);
      List<ActorRef<WorkerProtocol.Command>> after = Affinity.rank("s" + s, rest);
      if (before.get(0).equals(gone)) {
        onGone++;
        assertEquals(before.get(1), after.get(0), "a moved session goes to its own second choice");
      } else {
        assertEquals(before.get(0), after.get(0), "a session whose worker stayed does not move");
      }
    }
    assertTrue(onGone > 50 && onGone < 150, "about a quarter preferred the removed worker: " + onGone);
  }
}
