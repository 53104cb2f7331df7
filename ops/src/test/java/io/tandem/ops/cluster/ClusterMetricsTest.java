package io.tandem.ops.cluster;

import static io.tandem.ops.cluster.ClusterFailoverTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.Address;
import akka.cluster.Member;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Down;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.tandem.ops.TandemNode;
import io.tandem.orchestrator.http.HttpSettings;
import io.tandem.orchestrator.http.TandemHttpServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /metrics} of an orchestrator node in a cluster with two large nodes, whose workers have the
 * same name: the {@code node} label tells their series apart. When one large node crashes, its
 * worker is shown as {@code tandem:worker_up 0} without being asked (its node is unreachable: asking
 * would hold the scrape for {@code worker-figures-timeout}, here longer than the client waits), and
 * {@code tandem:num_workers} counts the one left; once the node is downed, its series go.
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
      TandemHttpServer http = TandemHttpServer.start(a.system(), a.sessions(),
          HttpSettings.fromConfig(a.system().settings().config()).withPort(0)).toCompletableFuture().get(60, TimeUnit.SECONDS);
      HttpClient client = HttpClient.newHttpClient();
      HttpRequest scrape = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http.port() + "/metrics"))
          .timeout(Duration.ofSeconds(20)).build();
      String live = "node=\"127.0.0.1:" + b.port() + "\"";
      String lost = "node=\"127.0.0.1:" + doomed.port() + "\"";

      await(() -> metrics(client, scrape).contains("tandem:num_workers{role=\"large\"} 2"), Duration.ofSeconds(30),
          "both large workers are offered");
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
      doomed.close();
      await(() -> unreachable(a).contains(doomedAddress), Duration.ofSeconds(30), "the crashed node is unreachable");
      String after = metrics(client, scrape);
      assertTrue(after.contains("tandem:num_workers{role=\"large\"} 1\n"), after);
      List<String> lostLines = after.lines().filter(l -> l.contains(lost)).toList();
      assertEquals(1, lostLines.size(), "the unreachable worker's up alone: " + lostLines);
      assertTrue(lostLines.get(0).startsWith("tandem:worker_up{role=\"large\"," + lost + ",worker=")
          && lostLines.get(0).endsWith(" 0"), lostLines.get(0));
      assertTrue(after.lines().anyMatch(l -> l.startsWith("tandem:worker_up{role=\"large\"," + live) && l.endsWith(" 1")), after);

      Cluster.get(a.system()).manager().tell(new Down(doomedAddress));
      await(() -> !metrics(client, scrape).contains(lost), Duration.ofSeconds(30), "a downed node's worker has no series");
    }
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
