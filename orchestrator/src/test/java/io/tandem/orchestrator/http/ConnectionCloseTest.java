package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A client that asks the server to close the connection after its request ({@code Connection:
 * close}, as Python's {@code urllib} sends, or HTTP/1.0 without keep-alive) has sent everything it
 * will send, and still reads the answer: its stream runs to its end. akka-http ends the stream of
 * requests on such a connection as soon as the request is read, which is not the client leaving.
 */
class ConnectionCloseTest {
  @RegisterExtension
  static final TestServer server = TestServer.start("");

  static final String BODY = "{\"model\":\"tandem\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":6,"
      + "\"stream\":true,\"temperature\":0}";

  @Test
  void aStreamOnAConnectionTheClientAskedToCloseRunsToItsEnd() throws Exception {
    for (String version : new String[] {"HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close", "HTTP/1.0"}) {
      String raw = "POST /v1/chat/completions " + version + "\r\nContent-Type: application/json\r\nContent-Length: "
          + BODY.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + BODY;
      server.gate.close();
      CompletableFuture<RawExchange> answer = CompletableFuture.supplyAsync(() -> {
        try {
          return RawExchange.send(server, raw);
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      try {
        // The session's first model step waits at the gate, long after the request was read (or the
        // answer is already complete: the stream was cut).
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (server.gate.held() == 0 && !answer.isDone()) {
          assertTrue(System.nanoTime() < deadline, "no model step reached the gate");
          Thread.sleep(5);
        }
      } finally {
        server.gate.open();
      }
      RawExchange r = answer.get(30, TimeUnit.SECONDS);
      assertEquals(200, r.status(), r.head());
      assertTrue(r.body().contains("\"finish_reason\":\"length\""), version + ": the stream ends with its finish reason: " + r.body());
      assertTrue(r.body().contains("data: [DONE]"), version + ": " + r.body());
    }
  }
}
