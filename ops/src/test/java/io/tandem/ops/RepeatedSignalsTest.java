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
          + TandemNode.DRAIN_PHASE_TIMEOUT + "); send SIGKILL (kill -9 " + p.pid() + ") to stop it at once"), line);
      Files.writeString(release, "");
      assertTrue(p.waitFor(30, TimeUnit.SECONDS), "exits once its hook ends");
      assertEquals(143, p.exitValue(), "the JVM's status for SIGTERM: " + Files.readString(out));
    } finally {
      p.destroyForcibly();
    }
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
      RepeatedSignals.install(() -> false, Duration.ofSeconds(40));
      System.out.println("probe: ready");
      System.out.flush();
      Thread.sleep(Long.MAX_VALUE);
    }
  }
}
