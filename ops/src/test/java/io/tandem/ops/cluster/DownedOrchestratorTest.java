package io.tandem.ops.cluster;

import static io.tandem.ops.cluster.ClusterFailoverTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.Address;
import akka.actor.CoordinatedShutdown;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Down;
import com.typesafe.config.ConfigFactory;
import io.tandem.ops.TandemNode;
import io.tandem.orchestrator.session.NodeStanding;
import io.tandem.orchestrator.session.SessionEvent;
import io.tandem.orchestrator.session.StepTimings;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.Role;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An orchestrator node downed by the others (as after a stall they could not wait for: a long GC
 * pause, SIGSTOP, the network) loses every remote worker at once; its sessions fail saying that
 * this node left the cluster, not that their workers did, and with the small model alone left to
 * no one, they do not degrade.
 */
class DownedOrchestratorTest {

  @Test
  void theSessionsOfADownedOrchestratorFailNamingItsRemovalNotTheirWorkers(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 400, 20, 20)) {
      TandemNode front = c.node(ConfigFactory.parseString("tandem.session.on-large-loss = degrade"), "orchestrator");
      TandemNode small = c.node(ConfigFactory.empty(), "small");
      c.node(ConfigFactory.empty(), "large");
      ConcurrentLinkedQueue<StepTimings> steps = ClusterFailoverTest.steps(front);
      ClusterFailoverTest.awaitWorkers(front);
      List<CompletableFuture<ClusterFailoverTest.Run>> runs = ClusterFailoverTest.start(front, 2, "downed-");
      await(() -> steps.stream().anyMatch(s -> s.role() == Role.small), Duration.ofSeconds(30), "a session drafted");

      Address frontAddress = Cluster.get(front.system()).selfMember().address();
      Cluster.get(small.system()).manager().tell(new Down(frontAddress));

      for (CompletableFuture<ClusterFailoverTest.Run> run : runs) {
        SessionEvent end = run.get(60, TimeUnit.SECONDS).end();
        SessionEvent.Failed failed = assertInstanceOf(SessionEvent.Failed.class, end, "not degraded: " + end);
        assertEquals(FailureCode.WORKER_LOST, failed.code(), failed.toString());
        assertTrue(failed.message().startsWith("this node was downed and removed from the cluster"), failed.message());
        assertTrue(failed.message().contains("retry the request"), failed.message());
      }
    }
  }

  /**
   * The cluster shuts a downed node down through CoordinatedShutdown with ClusterDowningReason; when
   * that comes before the MemberDowned event reaches the sessions (the event can be lost with the
   * cluster's publisher), they still fail and tell their clients, not stopped silently with the
   * actor system (their clients then waited for ever).
   */
  @Test
  void aShutdownForDowningEndsTheSessionsEvenWithoutTheMemberDownedEvent(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 400, 20, 20)) {
      TandemNode front = c.node(ConfigFactory.empty(), "orchestrator");
      c.node(ConfigFactory.empty(), "small");
      c.node(ConfigFactory.empty(), "large");
      ConcurrentLinkedQueue<StepTimings> steps = ClusterFailoverTest.steps(front);
      ClusterFailoverTest.awaitWorkers(front);
      List<CompletableFuture<ClusterFailoverTest.Run>> runs = ClusterFailoverTest.start(front, 2, "shut-down-");
      await(() -> steps.stream().anyMatch(s -> s.role() == Role.small), Duration.ofSeconds(30), "a session drafted");

      // What the cluster runs on a node it downed, here before the node has seen itself downed.
      CoordinatedShutdown.get(front.system()).run(CoordinatedShutdown.clusterDowningReason());

      for (CompletableFuture<ClusterFailoverTest.Run> run : runs) {
        SessionEvent end = run.get(20, TimeUnit.SECONDS).end();
        SessionEvent.Failed failed = assertInstanceOf(SessionEvent.Failed.class, end, "not failed: " + end);
        assertEquals(FailureCode.WORKER_LOST, failed.code(), failed.toString());
        assertTrue(failed.message().startsWith(NodeStanding.DOWNED), failed.message());
      }
    }
  }
}
