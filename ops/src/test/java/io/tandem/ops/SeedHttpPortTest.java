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
      assertEquals("; 127.0.0.1:" + http.getAddress().getPort() + " answers HTTP: an HTTP port (--port), not a cluster port;"
          + " give the seed node's --cluster-port (25520 by default)", TandemNode.httpPortsAmong(List.of(quietSeed, httpSeed)));
      assertEquals("", TandemNode.httpPortsAmong(List.of(quietSeed)));
      // An orchestrator's own HTTP port, closed until it joins, is named too (tester57e).
      com.typesafe.config.Config own = com.typesafe.config.ConfigFactory.parseString(
          "tandem.http.host = \"127.0.0.1\", tandem.http.port = " + quiet.getLocalPort() + ", akka.cluster.roles = [orchestrator]");
      assertEquals(true, TandemNode.seedHints(own, List.of(quietSeed)).startsWith("; 127.0.0.1:" + quiet.getLocalPort()
          + " is this node's own HTTP port (--port), not a cluster port; a seed node that runs drops a join"),
          TandemNode.seedHints(own, List.of(quietSeed)));
    } finally {
      http.stop(0);
    }
  }
}
