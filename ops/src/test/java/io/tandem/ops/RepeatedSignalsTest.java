package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A second SIGTERM to a process that is shutting down (its shutdown hooks running, as Akka's
 * CoordinatedShutdown drains a node) gets one line saying so and that SIGKILL stops it at once,
 * where the JVM alone says nothing; the first still runs the hooks, and the process exits with the
 * JVM's status for SIGTERM, 143. A real child JVM ({@link Probe}) and real signals.
 */
class RepeatedSignalsTest {

  /**
   * On a node with model workers, the line names the wait for a forward pass in flight after the drain (tester59e:
   * "within 0 s at the latest" while a worker still waited half a minute for its pass).
   */
  @Test
  void onANodeWithWorkersTheLineNamesTheWaitForAPassInFlight() {
    ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(RepeatedSignals.class);
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines = new ch.qos.logback.core.read.ListAppender<>();
    lines.start();
    logger.addAppender(lines);
    try {
      long[] now = {1_000_000_000L};
      java.util.concurrent.atomic.AtomicBoolean stopping = new java.util.concurrent.atomic.AtomicBoolean();
      RepeatedSignals handler = new RepeatedSignals(s -> stopping.set(true), stopping::get,
          new TandemNode.DrainLimit(Duration.ofSeconds(40), "the phase", true), () -> now[0],
          new java.util.concurrent.atomic.AtomicLong(), new java.util.concurrent.atomic.AtomicReference<>());
      sun.misc.Signal term = new sun.misc.Signal("TERM");
      handler.handle(term);
      now[0] += 50_000_000_000L;
      handler.handle(term);
      String line = lines.list.get(0).getFormattedMessage();
      assertTrue(line.startsWith("SIGTERM again: the node is already shutting down for 50 s; its drain ends within 0 s at the"
          + " latest (the phase), and a model's forward pass still running then holds the exit up to 60 s more (a pass cannot be"
          + " stopped midway); send SIGKILL"), line);
    } finally {
      logger.detachAppender(lines);
    }
  }

  @Test
  void aSecondSigtermWhileTheHooksRunIsAnsweredWithALineAndTheFirstStillExitsWith143(@TempDir Path dir) throws Exception {
    Path release = dir.resolve("release");
    Path out = dir.resolve("out");
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), Probe.class.getName(), release.toString())
        .redirectErrorStream(true).redirectOutput(out.toFile()).start();
    try {
      awaitLine(p, out, "probe: ready");
      signal(p, "TERM");
      awaitLine(p, out, "probe: shutdown hook running");
      signal(p, "TERM");
      String line = awaitLine(p, out, "SIGTERM again: the node is already shutting down");
      assertTrue(line.contains("; its drain ends within ") && line.contains(" s at the latest ("
          + "tandem.http.shutdown-deadline plus shutdown-grace); send SIGKILL (kill -9 " + p.pid() + ") to stop it at once"), line);
      // Ctrl-C after the SIGTERM: the same line, with how long the drain has run (it had no timing).
      signal(p, "INT");
      String interrupt = awaitLine(p, out, "SIGINT after SIGTERM: the node is already shutting down for ");
      assertTrue(interrupt.contains("; its drain ends within "), interrupt);
      Files.writeString(release, "");
      assertTrue(p.waitFor(30, TimeUnit.SECONDS), "exits once its hook ends");
      assertEquals(143, p.exitValue(), "the JVM's status for SIGTERM: " + Files.readString(out));
    } finally {
      p.destroyForcibly();
    }
  }

  /** The line's "within N s" is the drain this node runs, not the phase's timeout around every drain (a tester's 8 s serve read 39 s). */
  @Test
  void theDrainLimitIsTheLongestDrainTheNodeRuns() {
    com.typesafe.config.Config base = TandemNode.withDrainTime(com.typesafe.config.ConfigFactory.parseString(
        "tandem.http.shutdown-deadline = 8s\ntandem.worker.shutdown-deadline = 20s\n").withFallback(
        com.typesafe.config.ConfigFactory.load()));
    assertEquals(new TandemNode.DrainLimit(Duration.ofSeconds(10), "tandem.http.shutdown-deadline plus shutdown-grace", true),
        TandemNode.drainLimit(base, true, true), "outside a cluster workers do not drain (but wait for their pass after it)");
    assertEquals(false, TandemNode.drainLimit(base, true, false).workers(), "an orchestrator alone has no pass to wait for");
    com.typesafe.config.Config clustered = base.withValue("tandem.cluster.enabled",
        com.typesafe.config.ConfigValueFactory.fromAnyRef(true));
    assertEquals(new TandemNode.DrainLimit(Duration.ofSeconds(20), "tandem.worker.shutdown-deadline", true),
        TandemNode.drainLimit(clustered, false, true));
    assertEquals(Duration.ofSeconds(20), TandemNode.drainLimit(clustered, true, true).duration(), "the longer of both");
    com.typesafe.config.Config shortPhase = clustered.withValue(TandemNode.DRAIN_PHASE_TIMEOUT,
        com.typesafe.config.ConfigValueFactory.fromAnyRef("5s"));
    assertEquals(new TandemNode.DrainLimit(Duration.ofSeconds(5), TandemNode.DRAIN_PHASE_TIMEOUT, true),
        TandemNode.drainLimit(shortPhase, true, true), "Akka ends the phase there");
  }

  private static void signal(Process p, String name) throws Exception {
    assertEquals(0, new ProcessBuilder("kill", "-" + name, String.valueOf(p.pid())).inheritIO().start().waitFor());
  }

  /** The first line of the process's output that contains {@code text}, waiting for it while the process runs (30 s at most). */
  private static String awaitLine(Process p, Path out, String text) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      for (String l : Files.readAllLines(out)) if (l.contains(text)) return l;
      if (!p.isAlive()) break;
      Thread.onSpinWait();
    }
    throw new AssertionError("no line with \"" + text + "\"; the output: " + Files.readString(out));
  }

  /** A process that installs the handler and whose shutdown hook holds it until a file appears. */
  public static final class Probe {
    public static void main(String[] args) throws Exception {
      Path release = Path.of(args[0]);
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        System.out.println("probe: shutdown hook running");
        System.out.flush();
        try {
          while (!Files.exists(release)) Thread.sleep(20);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }));
      RepeatedSignals.install(() -> false, new TandemNode.DrainLimit(Duration.ofSeconds(10),
          "tandem.http.shutdown-deadline plus shutdown-grace"));
      System.out.println("probe: ready");
      System.out.flush();
      Thread.sleep(Long.MAX_VALUE);
    }
  }
}
