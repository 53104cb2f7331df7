package io.tandem.ops.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A node the cluster removes while it cannot answer (here: a process stopped with SIGSTOP for
 * longer than the split brain resolver's stable-after, as a long GC pause or a frozen VM would)
 * must not carry on, nor vanish with exit status 0 and nothing said: once it runs again it learns
 * it was downed, says so in one line and exits with status 1, so that a supervisor restarts it. The
 * line blames the pause, not what its own resolver, waking with a stale view, then decides (it downs
 * every member it knew: the CI run of 33cf640a, whose line told the operator to restart every node).
 */
class DownedNodeIT {

  @Test
  void aNodeDownedWhileStoppedSaysWhyAndExitsWithStatus1() throws Exception {
    Path dir = Files.createDirectories(TandemProcesses.repo().resolve("ops/target/downed-node-it"));
    Path s = dir.resolve("small.json"), l = dir.resolve("large.json");
    Files.writeString(s, TandemProcesses.JSON.writeValueAsString(Map.of("tokens", LoopbackCluster.script(50, false))));
    Files.writeString(l, TandemProcesses.JSON.writeValueAsString(Map.of("tokens", LoopbackCluster.script(50, true))));
    Path latency = dir.resolve("latency.json");
    Files.writeString(latency, "{\"decode_ms_per_step\": 2, \"prefill_ms_per_token\": 0.01, \"batch_growth\": 0.01}");
    try (TandemProcesses c = new TandemProcesses(dir, "simulated:" + s + "?latency=" + latency,
        "simulated:" + l + "?latency=" + latency)) {
      TandemProcesses.Node orchestrator = c.start("orchestrator", List.of("orchestrator"), Map.of());
      c.start("small", List.of("small"), Map.of());
      TandemProcesses.Node large = c.start("large", List.of("large"), Map.of());
      c.awaitWorkers(orchestrator, 1, 1, Duration.ofSeconds(90));
      // The others may list its worker before the node has seen itself Up; stopped before that, it says so instead.
      c.awaitLog(large, LocalTime.MIN, line -> line.contains("node akka://tandem@127.0.0.1:" + large.clusterPort + " is up in the cluster"),
          "the large node up in its own view", Duration.ofSeconds(60));

      LocalTime stopped = LocalTime.now();
      signal("STOP", large.process);
      try {
        // The two others are the majority: after stable-after (7 s) their leader removes the large node.
        String self = "node akka://tandem@127.0.0.1:" + large.clusterPort + " (incarnation";
        c.awaitLog(orchestrator, stopped, line -> line.contains(self) && line.contains("was removed: downed after ")
            && line.endsWith(" s unreachable (crashed, stopped or cut off), and with it its roles [large]; start it again with its"
            + " command to rejoin"), "removal of the stopped node, saying what to do", Duration.ofSeconds(60));
        // Stopped 12 s at least, as the scenario says: the removal can come from 9 s (acceptable-heartbeat-pause, 2 s, and
        // stable-after, 7 s), and a node stopped that briefly cannot be told apart from one stalled as all are downed.
        long stoppedFor = Duration.between(stopped, LocalTime.now()).toMillis();
        if (stoppedFor < 12_000) Thread.sleep(12_000 - stoppedFor);
      } finally {
        signal("CONT", large.process);
      }

      assertTrue(large.process.waitFor(60, TimeUnit.SECONDS), "the downed node stops by itself: " + c.tail(large));
      assertEquals(1, large.process.exitValue(), c.tail(large));
      String said = "tandem serve: node akka://tandem@127.0.0.1:" + large.clusterPort + " was removed from the cluster";
      assertTrue(Files.readAllLines(large.log).stream().anyMatch(line -> line.startsWith(said)
          && line.contains(": this node did not run for ") && line.endsWith(" s (a long GC pause, a stopped process or a frozen VM),"
          + " so the others could not reach it and the split brain resolver (keep-majority) downed it. Start it again to rejoin")),
          "it says why: " + c.tail(large));
    }
  }

  /** Sends {@code kill -SIG} to {@code process}. */
  private static void signal(String sig, Process process) throws Exception {
    Process kill = new ProcessBuilder("kill", "-" + sig, String.valueOf(process.pid())).inheritIO().start();
    assertTrue(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0, "kill -" + sig + " " + process.pid());
  }
}
