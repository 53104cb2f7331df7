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
