package io.tandem.ops.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A node stopped twice with a moment of running between (back-to-back GC pauses, a CPU quota's
 * throttling, a VM frozen twice) must not take its healthy peers down with it. Akka's failure
 * detector on the stopped node found every peer silent for the length of its own stop; in the
 * moment it ran it marked them all unreachable and gossiped it, and the peers' record of it
 * unreachable closed a cycle, which Akka's split brain resolver reads as indirectly connected nodes
 * and downs every one of them (tester61k: an orchestrator stopped 6 s, run 300 ms, stopped 6 s
 * downed both its workers and itself). With {@link PauseAwareFailureDetector} a node's own stop is no
 * evidence against its peers: the orchestrator marks no one, nobody is downed, and it serves on, not
 * taking the two stops for one its peers would have downed it for.
 */
class SplitStopIT {

  @Test
  void aNodeStoppedTwiceInQuickSuccessionDownsNoPeerAndServesAgain() throws Exception {
    Path dir = Files.createDirectories(TandemProcesses.repo().resolve("ops/target/split-stop-it"));
    Path s = dir.resolve("small.json"), l = dir.resolve("large.json");
    Files.writeString(s, TandemProcesses.JSON.writeValueAsString(Map.of("tokens", LoopbackCluster.script(50, false))));
    Files.writeString(l, TandemProcesses.JSON.writeValueAsString(Map.of("tokens", LoopbackCluster.script(50, true))));
    try (TandemProcesses c = new TandemProcesses(dir, "scripted:" + s, "scripted:" + l)) {
      TandemProcesses.Node orchestrator = c.start("orchestrator", List.of("orchestrator"), Map.of());
      TandemProcesses.Node small = c.start("small", List.of("small"), Map.of());
      TandemProcesses.Node large = c.start("large", List.of("large"), Map.of());
      c.awaitWorkers(orchestrator, 1, 1, Duration.ofSeconds(90));
      for (TandemProcesses.Node n : List.of(orchestrator, small, large))
        c.awaitLog(n, LocalTime.MIN, line -> line.contains("is up in the cluster"), n.name + " up in its own view",
            Duration.ofSeconds(60));

      // Each stop past acceptable-heartbeat-pause (2 s), so the workers mark the orchestrator unreachable twice, and it
      // answers their heartbeats in between, so they never hold it unreachable for the 2.5-4 s + stable-after (7 s) they
      // take to down it. Its own PauseWatch does not join the stops into one of 12.7 s (past the 10 s the workers down a
      // node for): that ended its requests in flight and refused new ones for 23 s (tester62a).
      LocalTime first = LocalTime.now();
      signal("STOP", orchestrator.process);
      Thread.sleep(6_000); // the scenario's timing: stopped 6 s
      signal("CONT", orchestrator.process);
      Thread.sleep(700); // run 700 ms
      signal("STOP", orchestrator.process);
      Thread.sleep(6_000);
      signal("CONT", orchestrator.process);
      String unreachable = "Marking node as UNREACHABLE [Member(akka://tandem@127.0.0.1:" + orchestrator.clusterPort;
      c.awaitLog(small, first, line -> line.contains(unreachable), "the stopped orchestrator marked unreachable",
          Duration.ofSeconds(30));

      c.awaitWorkers(orchestrator, 1, 1, Duration.ofSeconds(60));
      String body = "{\"model\": \"tandem\", \"messages\": [{\"role\": \"user\", \"content\": \"Compute.\"}],"
          + " \"max_tokens\": 60, \"temperature\": 0}";
      HttpResponse<String> r = c.http.send(HttpRequest.newBuilder(orchestrator.uri("/v1/chat/completions"))
          .timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), r.body());

      for (TandemProcesses.Node n : List.of(orchestrator, small, large)) {
        assertTrue(n.process.isAlive(), n.name + " runs: " + c.tail(n));
        assertEquals(List.of(), c.logTimes(n, first, line -> line.contains("SBR took decision")), n.name + " downed no one: "
            + c.tail(n));
      }
      assertEquals(List.of(), c.logTimes(orchestrator, first, line -> line.contains("Marking node as UNREACHABLE")),
          "the stopped node blamed no peer for its own stop: " + c.tail(orchestrator));
      assertEquals(List.of(), c.logTimes(orchestrator, first, line -> line.contains("this node did not run for")),
          "two stops its peers saw it between are not one pause: " + c.tail(orchestrator));
    }
  }

  /** Sends {@code kill -SIG} to {@code process}. */
  private static void signal(String sig, Process process) throws Exception {
    Process kill = new ProcessBuilder("kill", "-" + sig, String.valueOf(process.pid())).inheritIO().start();
    assertTrue(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0, "kill -" + sig + " " + process.pid());
  }
}
