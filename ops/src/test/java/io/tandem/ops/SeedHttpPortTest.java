package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A seed node given by its HTTP port is named in the join warning as such: Akka says only "Unexpected
 * incoming bytes", and the warning told the user to start an orchestrator that ran (tester57c).
 */
class SeedHttpPortTest {

  @Test
  void aSeedWhosePortAnswersHttpIsNamedAndOneThatDoesNotIsNot() throws Exception {
    com.sun.net.httpserver.HttpServer http = com.sun.net.httpserver.HttpServer.create(
        new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    http.createContext("/", exchange -> {
      exchange.sendResponseHeaders(200, -1);
      exchange.close();
    });
    http.start();
    // A port that takes the connection and says nothing, as a cluster port does to bytes it does not read as Artery's.
    try (ServerSocket quiet = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      String httpSeed = "akka://tandem@127.0.0.1:" + http.getAddress().getPort();
      String quietSeed = "akka://tandem@127.0.0.1:" + quiet.getLocalPort();
      int closedPort = io.tandem.ops.cluster.LoopbackCluster.freePort();
      String closedSeed = "akka://tandem@127.0.0.1:" + closedPort;
      com.typesafe.config.Config worker = com.typesafe.config.ConfigFactory.parseString("akka.cluster.roles = [small]");
      assertEquals("; 127.0.0.1:" + closedPort + " refuses connections: no node runs there; 127.0.0.1:" + http.getAddress().getPort()
          + " answers HTTP: an HTTP port (--port), not a cluster port; give the seed node's --cluster-port (25520 by default);"
          + " 127.0.0.1:" + quiet.getLocalPort() + " takes connections, so a node may run there: it drops a join sent to"
          + " another spelling of its host than its own --cluster-host, letter case included (127.0.0.1, localhost and a name"
          + " are three addresses to Akka), which only its own log says (\"Dropping Handshake Request ... addressed to unknown"
          + " local address\"), and lets no one in while it is not in a cluster itself",
          TandemNode.seedHints(worker, List.of(closedSeed, httpSeed, quietSeed)));
      // An orchestrator's own HTTP port, closed until it joins, whatever the spelling of this machine (tester57e, tester57h).
      com.typesafe.config.Config own = com.typesafe.config.ConfigFactory.parseString(
          "tandem.http.host = \"127.0.0.1\", tandem.http.port = " + closedPort + ", akka.cluster.roles = [orchestrator]");
      assertEquals("; localhost:" + closedPort + " is this node's own HTTP port (--port), not a cluster port",
          TandemNode.seedHints(own, List.of("akka://tandem@localhost:" + closedPort)));
    } finally {
      http.stop(0);
    }
  }
}
