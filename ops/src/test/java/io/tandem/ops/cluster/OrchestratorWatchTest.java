package io.tandem.ops.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.typesafe.config.ConfigFactory;
import io.tandem.ops.TandemNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * A worker node whose cluster has no orchestrator serves nobody (an orchestrator restarted with no
 * other seed node answering founds a cluster of its own): it says so, and says when one comes.
 */
class OrchestratorWatchTest {

  @Test
  void aWorkerNodeWithNoOrchestratorWarnsOnceAndSaysWhenOneJoins(@TempDir Path dir) throws Exception {
    Logger logger = (Logger) LoggerFactory.getLogger(OrchestratorWatch.class);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    logger.addAppender(lines);
    // Whatever level another test of this JVM left on the logger or its parents.
    Level before = logger.getLevel();
    logger.setLevel(Level.INFO);
    try (LoopbackCluster c = new LoopbackCluster(dir, 50, 0.2, 0.5)) {
      TandemNode small = c.node(ConfigFactory.parseString("tandem.cluster.no-orchestrator-warning-after = 1s"), "small");
      List<String> warned = awaitLine(lines, Level.WARN);
      assertEquals(List.of(OrchestratorWatch.warning(small.address(), Duration.ofSeconds(1))), warned);
      assertTrue(warned.get(0).contains("restart this node"), warned.get(0));
      TandemNode orchestrator = c.node(ConfigFactory.empty(), "orchestrator");
      assertEquals(List.of("orchestrator " + orchestrator.address() + " is in the cluster: this node's workers serve its sessions"),
          awaitLine(lines, Level.INFO));
    } finally {
      logger.setLevel(before);
      logger.detachAppender(lines);
    }
  }

  /**
   * A node still joining is in no cluster: it says that it has not joined (TandemNode), not that its
   * cluster has no orchestrator (the advice to restart it to rejoin would not fit), however long the wait.
   */
  @Test
  void aWorkerStillJoiningDoesNotSayItsClusterHasNoOrchestrator(@TempDir Path dir) throws Exception {
    Logger watch = (Logger) LoggerFactory.getLogger(OrchestratorWatch.class);
    Logger node = (Logger) LoggerFactory.getLogger(TandemNode.class);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    watch.addAppender(lines);
    node.addAppender(lines);
    Level watchBefore = watch.getLevel(), nodeBefore = node.getLevel();
    watch.setLevel(Level.INFO);
    node.setLevel(Level.INFO);
    try (LoopbackCluster c = new LoopbackCluster(dir, 50, 0.2, 0.5)) {
      // Its only seed node does not run; the watch's wait is half the join warning's.
      TandemNode small = c.joining(ConfigFactory.parseString("""
          tandem.cluster.no-orchestrator-warning-after = 500ms
          tandem.cluster.join-warning-after = 1s
          """), List.of("127.0.0.1:" + LoopbackCluster.freePort()), "small");
      java.util.concurrent.CompletableFuture.runAsync(() -> {
        try {
          small.awaitUp();
        } catch (Exception stopped) {
          // closed below
        }
      });
      List<String> warned = awaitLine(lines, Level.WARN);
      assertEquals(1, warned.size(), warned.toString());
      assertTrue(warned.get(0).startsWith("node " + small.address() + " has not joined the cluster after 1 s: none of its seed"
          + " nodes"), warned.get(0));
    } finally {
      watch.setLevel(watchBefore);
      node.setLevel(nodeBefore);
      watch.detachAppender(lines);
      node.detachAppender(lines);
    }
  }

  /**
   * An orchestrator that is its own only seed node says what that means on a restart: a new, empty cluster beside its
   * running workers, which only their WARN said (tester57c); a node of every role, a cluster by itself, does not, nor a
   * worker. Said by serve alone (tester57f: simulate's own cluster warned of seed nodes its user never gave).
   */
  @Test
  void anOrchestratorThatIsItsOwnOnlySeedSaysWhatARestartWouldFound(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 50, 0.2, 0.5)) {
      TandemNode orchestrator = c.node(ConfigFactory.empty(), "orchestrator");
      assertEquals(java.util.Optional.of("node " + orchestrator.address() + " has no seed node but itself: it founds a cluster"
          + " of its own, which workers join through it; restarted, it founds a new, empty one beside the workers still"
          + " running in the old one, which do not join it. Give every node the same --seed-nodes, every long-lived node"
          + " listed, this one first (as ops/cluster/local.sh does)"), orchestrator.ownOnlySeedWarning());
      assertEquals(java.util.Optional.empty(), c.node(ConfigFactory.empty(), "small").ownOnlySeedWarning());
    }
    try (LoopbackCluster c = new LoopbackCluster(dir, 50, 0.2, 0.5)) {
      assertEquals(java.util.Optional.empty(), c.node(ConfigFactory.empty(), "orchestrator", "small", "large").ownOnlySeedWarning());
    }
  }

  /** A sub-second no-orchestrator-warning-after is said as set, not as the whole seconds in it (0). */
  @Test
  void theWarningSaysASubSecondWaitAsSet() {
    String warning = OrchestratorWatch.warning("akka://tandem@127.0.0.1:18100", Duration.ofMillis(500));
    assertTrue(warning.contains("no orchestrator in its cluster for 0.5 s:"), warning);
  }

  /** The messages of {@code level} logged so far, once there is one (30 s at most). */
  private static List<String> awaitLine(ListAppender<ILoggingEvent> lines, Level level) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (true) {
      List<String> found = List.copyOf(lines.list).stream().filter(e -> e.getLevel() == level)
          .map(ILoggingEvent::getFormattedMessage).toList();
      if (!found.isEmpty() || System.nanoTime() > deadline) return found;
      Thread.sleep(50);
    }
  }
}
