package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.tandem.orchestrator.http.HttpSettings;
import io.tandem.orchestrator.http.TandemHttpServer;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Thousands of pipelined requests in one write are all answered, and the node serves on: akka-http's
 * request parser recurses once per request found in one read, and ~600 of them overflowed a default
 * thread stack, which ended the JVM (tester61b: 20 KB from one unauthenticated connection). The
 * node's streams run on {@code tandem.stream-dispatcher}, whose threads have deep stacks; this test
 * runs the node with the configuration {@code serve} ships (application.conf).
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class PipelinedRequestsTest {
  /** Past one read's worth (akka.io.tcp.direct-buffer-size, 128 KiB) of 33-byte requests. */
  private static final int REQUESTS = 5_000;

  @Test
  void thousandsOfPipelinedRequestsInOneWriteAreAllAnswered() throws Exception {
    Config config = ConfigFactory.load();
    assertEquals("tandem.stream-dispatcher", config.getString("akka.stream.materializer.dispatcher"));
    try (TandemNode node = TandemNode.start("pipelined", config, Map.of(), true)) {
      TandemHttpServer http = TandemHttpServer.start(node.system(), node.sessions(), HttpSettings.fromConfig(config)
          .withPort(0)).toCompletableFuture().get(60, TimeUnit.SECONDS);
      byte[] one = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
      byte[] all = new byte[one.length * REQUESTS];
      for (int i = 0; i < REQUESTS; i++) System.arraycopy(one, 0, all, i * one.length, one.length);
      try (Socket socket = new Socket("127.0.0.1", http.port())) {
        socket.getOutputStream().write(all);
        assertEquals(REQUESTS, answers(socket.getInputStream(), REQUESTS), "every request answered");
      }
      try (Socket again = new Socket("127.0.0.1", http.port())) {
        again.getOutputStream().write("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            .getBytes(StandardCharsets.US_ASCII));
        assertEquals(1, answers(again.getInputStream(), 1), "the node serves on");
      }
    }
  }

  /** Reads status lines until {@code expected} have come or the connection ends. */
  private static int answers(InputStream in, int expected) throws Exception {
    byte[] status = "HTTP/1.1 200 ".getBytes(StandardCharsets.US_ASCII);
    byte[] buf = new byte[1 << 16];
    int seen = 0, matched = 0;
    for (int n; seen < expected && (n = in.read(buf)) > 0; ) {
      for (int i = 0; i < n; i++) {
        matched = buf[i] == status[matched] ? matched + 1 : (buf[i] == status[0] ? 1 : 0);
        if (matched == status.length) {
          seen++;
          matched = 0;
        }
      }
    }
    assertTrue(seen <= expected);
    return seen;
  }
}
