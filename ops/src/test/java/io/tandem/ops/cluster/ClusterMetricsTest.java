package io.tandem.ops.cluster;

import static io.tandem.ops.cluster.ClusterFailoverTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.Done;
import akka.actor.Address;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import akka.cluster.Member;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Down;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.tandem.ops.TandemNode;
import io.tandem.ops.cluster.ClusterFailoverTest.Run;
import io.tandem.orchestrator.http.HttpSettings;
import io.tandem.orchestrator.http.TandemHttpServer;
import io.tandem.orchestrator.session.StepTimings;
import io.tandem.orchestrator.session.WorkerDirectory;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.worker.WorkerProtocol;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /metrics} of an orchestrator node in a cluster with two large nodes, whose workers have the
 * same name: the {@code node} label tells their series apart. When one large node crashes, its
 * worker is shown as {@code tandem:worker_up 0} without being asked (its node is unreachable: asking
 * would hold the scrape for {@code worker-figures-timeout}, here longer than the client waits), and
 * {@code tandem:num_workers} counts the one left; once the node is downed, its series go. A node
 * stopped as SIGTERM stops it keeps its draining worker on {@code /metrics} until it has left.
 */
class ClusterMetricsTest {
  /** The crashed node stays unreachable, not downed, until the test downs it. */
  private static final Config NO_DOWNING = ConfigFactory.parseString("akka.cluster.split-brain-resolver.stable-after = 1h");

  @Test
  void eachWorkerIsLabelledWithItsNodeAndAnUnreachableOneIsUpZeroWithoutHoldingTheScrape(@TempDir Path dir)
      throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 200, 1, 1)) {
      TandemNode a = c.node(ConfigFactory.parseString("tandem.http.worker-figures-timeout = 60s").withFallback(NO_DOWNING),
          "orchestrator", "small");
      TandemNode b = c.node(NO_DOWNING, "large");
      TandemNode doomed = c.node(ConfigFactory.parseString("akka.coordinated-shutdown.run-by-actor-system-terminate = off")
          .withFallback(NO_DOWNING), "large");
      HttpClient client = HttpClient.newHttpClient();
      HttpRequest scrape = serveMetrics(a);
      String live = node(b);
      String lost = node(doomed);

      awaitLargeOffered(client, scrape, 2);
      List<String> lines = metrics(client, scrape).lines().toList();
      for (String node : new String[] {live, lost})
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("tandem:kv_cache_sessions{role=\"large\"," + node + ",worker=")),
            "a large worker's series on " + node + ":\n" + String.join("\n", lines));
      Set<String> series = new HashSet<>();
      for (String l : lines)
        if (!l.startsWith("#")) assertTrue(series.add(l.substring(0, l.lastIndexOf(' '))), "one series each: " + l);
      assertEquals(2, lines.stream().filter(l -> l.startsWith("tandem:kv_cache_sessions{role=\"large\"")).count(),
          "as many series as large workers");

      Address doomedAddress = Cluster.get(doomed.system()).selfMember().address();
      // Its worker withdraws first, as when a node's actor system stops (its receptionist may tell the
      // others before it goes silent), and shows as draining while its node is reachable.
      TestProbe<Receptionist.Listing> own = TestProbe.create(doomed.system());
      doomed.system().receptionist().tell(Receptionist.find(ServiceKeys.forRole(Role.large), own.getRef()));
      for (ActorRef<WorkerProtocol.Command> w : own.receiveMessage(Duration.ofSeconds(10)).getServiceInstances(ServiceKeys.forRole(Role.large)))
        doomed.system().receptionist().tell(Receptionist.deregister(ServiceKeys.forRole(Role.large), w));
      await(() -> metrics(client, scrape).lines().anyMatch(l -> l.startsWith("tandem:worker_draining{role=\"large\"," + lost)
          && l.endsWith(" 1")), Duration.ofSeconds(30), "the withdrawn worker shows as draining");
      doomed.close();
      await(() -> unreachable(a).contains(doomedAddress), Duration.ofSeconds(30), "the crashed node is unreachable");
      String after = metrics(client, scrape);
      assertTrue(after.contains("tandem:num_workers{role=\"large\"} 1\n"), after);
      List<String> lostLines = after.lines().filter(l -> l.contains(lost)).toList();
      assertEquals(2, lostLines.size(), "the unreachable worker's up and draining alone: " + lostLines);
      assertTrue(lostLines.get(0).startsWith("tandem:worker_up{role=\"large\"," + lost + ",worker=")
          && lostLines.get(0).endsWith(" 0"), lostLines.get(0));
      // Of an unreachable node nothing is known, its drain included.
      assertTrue(lostLines.get(1).startsWith("tandem:worker_draining{role=\"large\"," + lost + ",worker=")
          && lostLines.get(1).endsWith(" 0"), lostLines.get(1));
      assertTrue(after.lines().anyMatch(l -> l.startsWith("tandem:worker_up{role=\"large\"," + live) && l.endsWith(" 1")), after);

      // Scraped without a pause across the removal: the cluster's membership, the receptionist and
      // the death watch of the withdrawn worker each hear of it on their own, and no scrape in
      // between may ask the stopped worker (held for worker-figures-timeout, longer than the client waits).
      Cluster.get(a.system()).manager().tell(new Down(doomedAddress));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (metrics(client, scrape).contains(lost))
        assertTrue(System.nanoTime() < deadline, "a downed node's worker has no series");
    }
  }

  /**
   * A large node stopped as SIGTERM stops it withdraws its worker from the Receptionist at once
   * (another large worker is listed) and drains: the worker still serves the sessions bound to it,
   * and {@code /metrics} still asks it for its figures, marked {@code tandem:worker_draining 1},
   * until its node has left the cluster.
   */
  @Test
  void aDrainingWorkerStaysOnTheMetricsWithItsFiguresUntilItsNodeLeaves(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 4000, 1, 3)) {
      TandemNode a = c.node(ConfigFactory.empty(), "orchestrator", "small");
      TandemNode leaving = c.node(ConfigFactory.empty(), "large");
      TandemNode staying = c.node(ConfigFactory.empty(), "large");
      ConcurrentLinkedQueue<StepTimings> steps = ClusterFailoverTest.steps(a);
      HttpClient client = HttpClient.newHttpClient();
      HttpRequest scrape = serveMetrics(a);
      String gone = node(leaving);
      String stays = node(staying);
      awaitLargeOffered(client, scrape, 2);
      assertTrue(metrics(client, scrape).lines().anyMatch(l -> l.startsWith("tandem:worker_draining{role=\"large\"," + gone)
          && l.endsWith(" 0")), "a worker taking sessions is not draining");

      List<CompletableFuture<Run>> runs = ClusterFailoverTest.start(a, 8, "held-");
      String leavingAddress = leaving.address() + "/";
      await(() -> steps.stream().filter(s -> s.worker().startsWith(leavingAddress)).count() >= 4, Duration.ofSeconds(60),
          "sessions are bound to the leaving large worker");
      CompletableFuture<Done> stopped = ClusterDrainTest.stop(leaving);
      awaitLargeOffered(client, scrape, 1); // the leaving worker withdrew
      String during = metrics(client, scrape);
      assertFalse(stopped.isDone(), "still draining: the sessions bound to it have not finished yet");
      for (String line : new String[] {"tandem:worker_up{role=\"large\"," + gone, "tandem:worker_draining{role=\"large\"," + gone,
          "tandem:worker_up{role=\"large\"," + stays})
        assertTrue(during.lines().anyMatch(l -> l.startsWith(line) && l.endsWith(" 1")), line + " ... 1 in:\n" + during);
      assertTrue(during.lines().anyMatch(l -> l.startsWith("tandem:worker_draining{role=\"large\"," + stays) && l.endsWith(" 0")),
          during);
      assertTrue(during.lines().anyMatch(l -> l.startsWith("tandem:worker_num_running{role=\"large\"," + gone)),
          "the draining worker's figures:\n" + during);

      for (CompletableFuture<Run> f : runs) ClusterDrainTest.finishedInFull(f.get(120, TimeUnit.SECONDS));
      stopped.get(60, TimeUnit.SECONDS);
      await(() -> !metrics(client, scrape).contains(gone), Duration.ofSeconds(30), "a node that left has no series");
    }
  }

  /**
   * The only large worker does not withdraw while sessions may still need it, so the Receptionist
   * still lists it as offered: its own figures say that its node is stopping, and the scrape that
   * counts it offered shows it draining.
   */
  @Test
  void theLastWorkerOfItsRoleShowsDrainingFromTheStartOfItsDrain(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 4000, 1, 3)) {
      TandemNode a = c.node(ConfigFactory.empty(), "orchestrator", "small");
      TandemNode large = c.node(ConfigFactory.empty(), "large");
      ConcurrentLinkedQueue<StepTimings> steps = ClusterFailoverTest.steps(a);
      HttpClient client = HttpClient.newHttpClient();
      HttpRequest scrape = serveMetrics(a);
      String label = "tandem:worker_draining{role=\"large\"," + node(large);
      awaitLargeOffered(client, scrape, 1);
      ClusterDrainTest.awaitSessionsListed(large);
      List<CompletableFuture<Run>> runs = ClusterFailoverTest.start(a, 8, "last-");
      String largeAddress = large.address() + "/";
      await(() -> steps.stream().filter(s -> s.worker().startsWith(largeAddress)).count() >= 4, Duration.ofSeconds(60),
          "sessions are bound to the large worker");
      assertTrue(metrics(client, scrape).lines().anyMatch(l -> l.startsWith(label) && l.endsWith(" 0")), "not draining yet");
      CompletableFuture<Done> stopped = ClusterDrainTest.stop(large);
      // One scrape: still offered (a withdrawn worker is not counted) and draining.
      await(() -> {
        String m = metrics(client, scrape);
        return m.contains("tandem:num_workers{role=\"large\"} 1\n") && m.lines().anyMatch(l -> l.startsWith(label) && l.endsWith(" 1"));
      }, Duration.ofSeconds(30), "the large worker, still offered, shows draining");
      assertFalse(stopped.isDone(), "still draining: sessions still need the large worker");
      for (CompletableFuture<Run> f : runs) ClusterDrainTest.finishedInFull(f.get(120, TimeUnit.SECONDS));
      stopped.get(60, TimeUnit.SECONDS);
    }
  }

  /**
   * A worker that withdrew is remembered as draining only while it runs: one that stops while its
   * node stays a member (an engine worker that lost its engine) is forgotten, not shown forever.
   */
  @Test
  void aWithdrawnWorkerIsForgottenOnceItStops(@TempDir Path dir) throws Exception {
    try (LoopbackCluster c = new LoopbackCluster(dir, 100, 1, 1)) {
      TandemNode a = c.node(ConfigFactory.empty(), "orchestrator");
      // A stand-in that ignores what workers are asked (the directory's polls), and stops when told.
      ActorRef<Object> stand = a.system().systemActorOf(
          Behaviors.receive(Object.class).onMessageEquals("stop", Behaviors::stopped).onAnyMessage(m -> Behaviors.same())
              .build(), "fake-large", Props.empty());
      ActorRef<WorkerProtocol.Command> worker = stand.narrow();
      a.system().receptionist().tell(Receptionist.register(ServiceKeys.forRole(Role.large), worker));
      await(() -> ClusterDrainTest.largeWorkersListed(a) == 1, Duration.ofSeconds(20), "the worker is listed");
      assertTrue(withdrawn(a).isEmpty(), "a listed worker is not draining");
      a.system().receptionist().tell(Receptionist.deregister(ServiceKeys.forRole(Role.large), worker));
      await(() -> Role.large.equals(withdrawn(a).get(worker)), Duration.ofSeconds(20), "the withdrawn worker is draining");
      stand.tell("stop");
      await(() -> withdrawn(a).isEmpty(), Duration.ofSeconds(20), "the stopped worker is forgotten");
    }
  }

  private static Map<ActorRef<WorkerProtocol.Command>, Role> withdrawn(TandemNode node) {
    TestProbe<WorkerDirectory.Withdrawn> probe = TestProbe.create(node.system());
    node.directory().tell(new WorkerDirectory.GetWithdrawn(probe.getRef()));
    return probe.receiveMessage(Duration.ofSeconds(10)).workers();
  }

  /** Starts the HTTP server on {@code orchestrator}; the request that scrapes its {@code /metrics}. */
  private static HttpRequest serveMetrics(TandemNode orchestrator) throws Exception {
    TandemHttpServer http = TandemHttpServer.start(orchestrator.system(), orchestrator.sessions(),
        HttpSettings.fromConfig(orchestrator.system().settings().config()).withPort(0)).toCompletableFuture()
        .get(60, TimeUnit.SECONDS);
    return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http.port() + "/metrics")).timeout(Duration.ofSeconds(10))
        .build();
  }

  /** Waits until the scrape counts {@code n} large workers offered to sessions. */
  private static void awaitLargeOffered(HttpClient client, HttpRequest scrape, int n) throws InterruptedException {
    await(() -> metrics(client, scrape).contains("tandem:num_workers{role=\"large\"} " + n + "\n"), Duration.ofSeconds(30),
        n + " large workers are offered");
  }

  /** The {@code node} label of {@code node}'s workers. */
  private static String node(TandemNode node) {
    return "node=\"127.0.0.1:" + node.port() + "\"";
  }

  private static String metrics(HttpClient client, HttpRequest scrape) {
    try {
      HttpResponse<String> r = client.send(scrape, HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), r.body());
      return r.body();
    } catch (Exception e) {
      throw new AssertionError("the scrape did not answer: " + e, e);
    }
  }

  private static Set<Address> unreachable(TandemNode node) {
    Set<Address> out = new HashSet<>();
    for (Member m : Cluster.get(node.system()).state().getUnreachable()) out.add(m.address());
    return out;
  }
}
