package io.tandem.ops.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.ops.cluster.LocalClusterScriptIT.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ops/cluster/local.sh} refuses a setting it cannot use, or a node it does not have, in one
 * line and exit status 2 before it starts anything: a cluster half up is no use. (Nothing here starts
 * a node; {@link LocalClusterScriptIT} runs real clusters.)
 */
class LocalScriptSettingsTest {

  private static Map<String, String> env(Path dir, String... more) {
    Map<String, String> env = new java.util.HashMap<>(Map.of("TANDEM_CLUSTER_DIR", dir.toString(),
        "TANDEM_HTTP_PORT", "18057", "TANDEM_CLUSTER_PORT", "18110"));
    for (int i = 0; i < more.length; i += 2) env.put(more[i], more[i + 1]);
    return env;
  }

  /** Bash evaluates a variable's text in $((...)) as an expression: it is checked as text first. */
  @Test
  void aTimeoutThatIsNoWholeNumberOfSecondsIsRefusedBeforeAnyNodeStarts(@TempDir Path dir) throws Exception {
    Path marker = dir.resolve("evaluated");
    for (String bad : List.of("abc", "-5", "0", "1+1", "x[$(touch " + marker + ")]")) {
      Run up = LocalClusterScriptIT.run(env(dir, "TANDEM_UP_TIMEOUT", bad), "up");
      assertEquals(2, up.exit(), up.output());
      assertEquals("local.sh: TANDEM_UP_TIMEOUT=" + bad + ": not a number of seconds; give a whole number from 1 to 999999"
          + " (default 120)", up.output().strip());
      assertEquals(List.of(), Files.exists(dir) ? LocalClusterScriptIT.pidFiles(dir) : List.of(), "nothing started for " + bad);
    }
    assertFalse(Files.exists(marker), "the value was not run as a command");
  }

  @Test
  void aPortWithALeadingZeroIsRefusedAsNoPort(@TempDir Path dir) throws Exception {
    assertEquals("local.sh: TANDEM_CLUSTER_PORT=08080: not a port; give a number from 1 to 65533 (the cluster ports of the 3"
        + " nodes are it and the 2 after it)", refusedUp(dir, "TANDEM_CLUSTER_PORT", "08080"));
  }

  /**
   * A port whose nodes' ports would run past 65535 is a port: the refusal says which ports the
   * nodes would take and the highest first port there is room for, counting the nodes that run.
   */
  @Test
  void portsPastTheLastPortAreRefusedNamingThemAndTheHighestThatFits(@TempDir Path dir) throws Exception {
    assertEquals("local.sh: TANDEM_CLUSTER_PORT=65534: the cluster ports of the 3 nodes would be 65534 to 65536, past 65535,"
        + " the last port there is; give a number from 1 to 65533", refusedUp(dir, "TANDEM_CLUSTER_PORT", "65534"));
    assertEquals("local.sh: TANDEM_HTTP_PORT=65535: the HTTP ports of the 2 orchestrators would be 65535 to 65536, past 65535,"
        + " the last port there is; give a number from 1 to 65534",
        refusedUp(dir, "TANDEM_HTTP_PORT", "65535", "TANDEM_ORCHESTRATORS", "2"));
    // One orchestrator takes one HTTP port: 65535 is taken, and the next setting is the one refused.
    assertEquals("local.sh: TANDEM_UP_TIMEOUT=soon: not a number of seconds; give a whole number from 1 to 999999 (default 120)",
        refusedUp(dir, "TANDEM_HTTP_PORT", "65535", "TANDEM_UP_TIMEOUT", "soon"));
  }

  /** What {@code up} with these settings says, refusing them with exit status 2 before it starts any node. */
  private static String refusedUp(Path dir, String... settings) throws Exception {
    Run up = LocalClusterScriptIT.run(env(dir, settings), "up");
    assertEquals(2, up.exit(), up.output());
    assertEquals(List.of(), Files.exists(dir) ? LocalClusterScriptIT.pidFiles(dir) : List.of(), "nothing started");
    return up.output().strip();
  }

  @Test
  void anHttpPortThatIsAlsoANodesClusterPortIsRefusedBeforeAnyNodeStarts(@TempDir Path dir) throws Exception {
    Run up = LocalClusterScriptIT.run(env(dir, "TANDEM_HTTP_PORT", "18111"), "up");
    assertEquals(2, up.exit(), up.output());
    assertEquals("local.sh: port 18111 is both the HTTP port of orchestrator and the cluster port of small; choose ports"
        + " that do not overlap: the cluster ports are TANDEM_CLUSTER_PORT and the 2 after it, the HTTP ports"
        + " TANDEM_HTTP_PORT and, with TANDEM_ORCHESTRATORS=2, the one after it", up.output().strip());
    assertEquals(List.of(), Files.exists(dir) ? LocalClusterScriptIT.pidFiles(dir) : List.of(), "nothing started");
  }

  /** A cluster that `up` started, as its settings and pid files say (the pid is no process: nothing runs). */
  @Test
  void restartingANodeTheClusterDoesNotHaveSaysSoAndListsItsNodes(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("settings"), "cluster_port=18110\nhttp_port=18057\nsmall=s\nlarge=l\norchestrators=1\n"
        + "java_opts=-Xmx1g\nworkdir=" + dir + "\n");
    Files.writeString(dir.resolve("small.pid"), "999999999\n");
    Run foo = LocalClusterScriptIT.run(env(dir), "restart", "foo");
    assertEquals(2, foo.exit(), foo.output());
    assertEquals("local.sh: restart foo: no such node in this cluster; give one of orchestrator small large", foo.output().strip());
    Run second = LocalClusterScriptIT.run(env(dir), "restart", "orchestrator2");
    assertEquals(2, second.exit(), second.output());
    assertEquals("local.sh: orchestrator2 is not in this cluster (up ran with TANDEM_ORCHESTRATORS=1; up with"
        + " TANDEM_ORCHESTRATORS=2 starts it); give one of orchestrator small large", second.output().strip());
    Run timeout = LocalClusterScriptIT.run(env(dir, "TANDEM_UP_TIMEOUT", "soon"), "restart", "small");
    assertEquals(2, timeout.exit(), timeout.output());
    assertEquals(List.of("small.pid"), LocalClusterScriptIT.pidFiles(dir), "nothing started");
  }

  /**
   * On SIGTERM an orchestrator finishes its requests in flight, which need the workers: {@code down}
   * signals the orchestrators together and waits for them to exit, then signals the workers together.
   * (Stand-ins for the nodes record, as they are stopped, whether the other node of their step was
   * signalled too, and which nodes of the other step still run.)
   */
  @Test
  void downStopsTheOrchestratorsTogetherWhileTheWorkersStillRunThenTheWorkersTogether(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("settings"), "cluster_port=18110\nhttp_port=18057\nsmall=s\nlarge=l\norchestrators=2\n"
        + "java_opts=-Xmx1g\nworkdir=" + dir + "\n");
    Map<String, String> partner = Map.of("orchestrator", "orchestrator2", "orchestrator2", "orchestrator", "small", "large",
        "large", "small");
    List<Process> nodes = new java.util.ArrayList<>();
    try {
      for (String node : List.of("large", "small", "orchestrator2", "orchestrator")) {
        String other = partner.get(node);
        // On SIGTERM: wait (10 s at most) for the other node of its step to be signalled too, then one
        // line, "NODE stopped, OTHER signalled too|alone; running: ..." naming the other step's stand-ins still running.
        String onTerm = "touch " + dir + "/" + node + ".signalled;"
            + " for i in $(seq 1 100); do [ -e " + dir + "/" + other + ".signalled ] && break; sleep 0.1; done;"
            + " t=alone; [ -e " + dir + "/" + other + ".signalled ] && t=\"" + other + " signalled too\";"
            + " r=; for n in orchestrator orchestrator2 small large; do [ $n = " + node + " ] || [ $n = " + other + " ] && continue;"
            + " kill -0 \"$(cat " + dir + "/$n.pid)\" 2>/dev/null && r=\"$r $n\"; done;"
            + " echo \"" + node + " stopped, $t; running:$r\" >> " + dir + "/order; exit 0";
        Process p = new ProcessBuilder("bash", "-c", "trap '" + onTerm + "' TERM; while :; do sleep 0.1; done").start();
        nodes.add(p);
        Files.writeString(dir.resolve(node + ".pid"), p.pid() + "\n");
      }
      Run down = LocalClusterScriptIT.run(env(dir), "down");
      assertEquals(0, down.exit(), down.output());
      List<String> order = Files.readAllLines(dir.resolve("order"));
      assertEquals(4, order.size(), order.toString());
      assertEquals(java.util.Set.of("orchestrator stopped, orchestrator2 signalled too; running: small large",
          "orchestrator2 stopped, orchestrator signalled too; running: small large"), java.util.Set.copyOf(order.subList(0, 2)));
      assertEquals(java.util.Set.of("small stopped, large signalled too; running:", "large stopped, small signalled too; running:"),
          java.util.Set.copyOf(order.subList(2, 4)));
    } finally {
      for (Process p : nodes) p.destroyForcibly();
    }
  }
  /**
   * The orchestrator restarted while every other node is in the cluster lists them first among its
   * seed nodes and itself last, so that it joins them and never founds a cluster of its own
   * (tester50b: a restarted orchestrator, the first seed, founded a second, empty cluster on a busy
   * machine, its workers running). With any other node not in it (not joined: every node crashed, a
   * worker restarted first; or down: a worker that crashed with it, which its partner's resolver
   * downs moments later, tester50f), the orchestrator comes first as at {@code up}, to found the
   * cluster if need be. (A copy of the script runs a stand-in {@code tandem} that writes its
   * arguments down and exits; stand-in workers sleep, their logs saying whether they joined.)
   */
  @Test
  void aNodeRestartedBesideRunningNodesListsThemFirstAmongItsSeedNodes(@TempDir Path dir) throws Exception {
    Path repo = dir.resolve("repo");
    Files.createDirectories(repo.resolve("ops/cluster"));
    Files.copy(LocalClusterScriptIT.repo().resolve("ops/cluster/local.sh"), repo.resolve("ops/cluster/local.sh"));
    Path cluster = dir.resolve("cluster");
    Files.createDirectories(cluster);
    Files.writeString(repo.resolve("tandem"), "#!/usr/bin/env bash\necho \"$*\" >> " + cluster.resolve("args") + "\nexit 3\n");
    repo.resolve("tandem").toFile().setExecutable(true);
    repo.resolve("ops/cluster/local.sh").toFile().setExecutable(true);
    Files.writeString(cluster.resolve("settings"), "cluster_port=18110\nhttp_port=18057\nsmall=s\nlarge=l\norchestrators=1\n"
        + "java_opts=-Xmx1g\nworkdir=" + dir + "\n");
    List<Process> workers = new java.util.ArrayList<>();
    try {
      for (String node : List.of("small", "large")) {
        Process p = new ProcessBuilder("bash", "-c", "while :; do sleep 0.1; done").start();
        workers.add(p);
        Files.writeString(cluster.resolve(node + ".pid"), p.pid() + "\n");
      }
      for (String node : List.of("small", "large"))
        Files.writeString(cluster.resolve(node + ".log"), "local.sh: starting " + node + "\nnode akka://tandem@127.0.0.1:"
            + (node.equals("small") ? 18111 : 18112) + " is up in the cluster (roles [" + node + "])\n");
      restart(repo, cluster);
      // One worker down (crashed with the orchestrator): the other, alone, is downed moments later.
      workers.get(1).destroyForcibly();
      workers.get(1).waitFor();
      restart(repo, cluster);
      // A run that has not joined yet: the line of an earlier run does not count.
      Files.writeString(cluster.resolve("small.log"), "local.sh: starting small\n", java.nio.file.StandardOpenOption.APPEND);
      Files.writeString(cluster.resolve("large.log"), "tandem serve: node akka://tandem@127.0.0.1:18112 was removed from the"
          + " cluster: downed\n", java.nio.file.StandardOpenOption.APPEND);
      restart(repo, cluster);
      workers.forEach(Process::destroyForcibly);
      for (Process p : workers) p.waitFor();
      restart(repo, cluster);
    } finally {
      workers.forEach(Process::destroyForcibly);
    }
    List<String> seeds = Files.readAllLines(cluster.resolve("args")).stream()
        .map(line -> line.replaceAll(".*--seed-nodes (\\S+).*", "$1")).toList();
    String first = "127.0.0.1:18110,127.0.0.1:18111,127.0.0.1:18112";
    assertEquals(List.of("127.0.0.1:18111,127.0.0.1:18112,127.0.0.1:18110", first, first, first), seeds,
        "beside the workers in the cluster; beside one of them; beside a worker running but not in it; with none running");
  }

  /**
   * A node restarted while another crashed and is still a member (not yet removed) leaves only once
   * the cluster has removed that one, as a running orchestrator's log says: a node leaving while
   * another is unreachable made the split brain resolver down the third, healthy node too (tester50f:
   * kill -9 of the orchestrator, then at once restart small, downed large). With no orchestrator
   * running to tell, a worker's restart is refused and the worker left running. (Stand-ins: the
   * orchestrator sleeps, the small worker records its SIGTERM, the large one has exited.)
   */
  @Test
  void aNodeLeavesOnlyOnceTheClusterHasRemovedOneThatCrashed(@TempDir Path dir) throws Exception {
    Path repo = dir.resolve("repo");
    Files.createDirectories(repo.resolve("ops/cluster"));
    Files.copy(LocalClusterScriptIT.repo().resolve("ops/cluster/local.sh"), repo.resolve("ops/cluster/local.sh"));
    repo.resolve("ops/cluster/local.sh").toFile().setExecutable(true);
    Files.writeString(repo.resolve("tandem"), "#!/usr/bin/env bash\nexit 3\n");
    repo.resolve("tandem").toFile().setExecutable(true);
    Path cluster = dir.resolve("cluster");
    Files.createDirectories(cluster);
    Files.writeString(cluster.resolve("settings"), "cluster_port=18110\nhttp_port=18057\nsmall=s\nlarge=l\norchestrators=1\n"
        + "java_opts=-Xmx1g\nworkdir=" + dir + "\n");
    Path signalled = cluster.resolve("small.signalled");
    Process crashed = new ProcessBuilder("true").start();
    crashed.waitFor();
    Files.writeString(cluster.resolve("large.pid"), crashed.pid() + "\n");
    Path orchestratorLog = cluster.resolve("orchestrator.log");
    Files.writeString(orchestratorLog, "local.sh: starting orchestrator\nnode akka://tandem@127.0.0.1:18112 (incarnation 7) is"
        + " up: its workers are offered to sessions once they are listed, when their models have loaded\n");
    Process orchestrator = new ProcessBuilder("bash", "-c", "while :; do sleep 0.1; done").start();
    Process small = smallStandIn(signalled);
    Process restart = null;
    try {
      Files.writeString(cluster.resolve("orchestrator.pid"), orchestrator.pid() + "\n");
      Files.writeString(cluster.resolve("small.pid"), small.pid() + "\n");
      Path out = dir.resolve("restart.out");
      restart = localSh(repo, cluster, "small").redirectOutput(out.toFile()).start();
      String waiting = "local.sh: waiting for the cluster to remove large (not running) before small leaves it";
      until("restart says it waits", () -> Files.readString(out).contains(waiting), () -> Files.readString(out));
      assertFalse(Files.exists(signalled), "small still runs: " + Files.readString(out));
      Files.writeString(orchestratorLog, "node akka://tandem@127.0.0.1:18112 (incarnation 7) was removed: downed after 4.1 s"
          + " unreachable (crashed, stopped or cut off), and with it its roles [large]; start it again with its command to"
          + " rejoin\n", java.nio.file.StandardOpenOption.APPEND);
      until("small is stopped once large was removed", () -> Files.exists(signalled), () -> Files.readString(out));
      assertTrue(restart.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), Files.readString(out));

      // No orchestrator to tell whether large was removed in the run it has now: refused, small left running.
      Files.writeString(orchestratorLog, "local.sh: starting orchestrator\n", java.nio.file.StandardOpenOption.APPEND);
      orchestrator.destroyForcibly().waitFor();
      Files.delete(signalled);
      small = smallStandIn(signalled);
      Files.writeString(cluster.resolve("small.pid"), small.pid() + "\n");
      Process refused = localSh(repo, cluster, "small").redirectErrorStream(true).start();
      String said = new String(refused.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      assertTrue(refused.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), said);
      assertEquals(1, refused.exitValue(), said);
      assertTrue(said.startsWith("local.sh: restart small: orchestrator and large not running"), said);
      assertTrue(said.strip().endsWith("with no orchestrator running, whether the cluster has removed what is down cannot be"
          + " told, and small leaving while that is still a member could make the split brain resolver down a healthy node:"
          + " start the orchestrator first (or resume it, if it is stopped by a signal)"), said);
      assertTrue(small.isAlive() && !Files.exists(signalled), "small left running");
    } finally {
      if (restart != null) restart.destroyForcibly();
      orchestrator.destroyForcibly();
      small.destroyForcibly();
    }
  }

  /** A small worker's stand-in that, on SIGTERM, creates {@code signalled} and exits. */
  private static Process smallStandIn(Path signalled) throws Exception {
    return new ProcessBuilder("bash", "-c", "trap 'touch " + signalled + "; exit 0' TERM; while :; do sleep 0.1; done").start();
  }

  private static ProcessBuilder localSh(Path repo, Path cluster, String node) {
    ProcessBuilder pb = new ProcessBuilder(repo.resolve("ops/cluster/local.sh").toString(), "restart", node)
        .directory(repo.toFile());
    pb.environment().keySet().removeIf(k -> k.startsWith("TANDEM_"));
    pb.environment().putAll(Map.of("TANDEM_CLUSTER_DIR", cluster.toString(), "TANDEM_UP_TIMEOUT", "20"));
    return pb;
  }

  private interface Check {
    boolean holds() throws Exception;
  }

  private interface Words {
    String get() throws Exception;
  }

  /** Polls {@code check} until it holds, for 30 s at most. */
  private static void until(String what, Check check, Words context) throws Exception {
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (!check.holds()) {
      assertTrue(System.nanoTime() < deadline, what + " within 30 s: " + context.get());
      Thread.sleep(100);
    }
  }

  /** Runs the copy of local.sh in {@code repo}: restart orchestrator, whose stand-in exits at once. */
  private static void restart(Path repo, Path cluster) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(repo.resolve("ops/cluster/local.sh").toString(), "restart", "orchestrator")
        .directory(repo.toFile()).redirectErrorStream(true);
    pb.environment().keySet().removeIf(k -> k.startsWith("TANDEM_"));
    pb.environment().putAll(Map.of("TANDEM_CLUSTER_DIR", cluster.toString(), "TANDEM_UP_TIMEOUT", "20"));
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), out);
    assertTrue(out.contains("local.sh: started orchestrator"), out);
  }
}
