package io.tandem.orchestrator.http;

import static io.tandem.orchestrator.http.TestServer.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * A stream whose client reads nothing runs to its end, as vLLM's does, and when the client then
 * closes, its usage, log line and metrics count every token the session wrote and its true finish
 * reason: the outputs are read as the session writes them, not as the socket takes them (tester60e:
 * a 15,000-token answer nobody read was counted as 10,621 tokens and an abort, 4,096 outputs having
 * been read ahead of the socket).
 */
class UnreadStreamTest {
  /**
   * Enough chunks (some 9 MB) that most wait in the server, past what the kernel's socket buffers
   * take (4 MB at most by default on Linux, tcp_wmem), as they did for tester60e's client.
   */
  private static final int TOKENS = 30_000;

  @Test
  void aStreamNobodyReadIsCountedWholeWhenItsClientCloses() throws Exception {
    List<String> words = new ArrayList<>(Collections.nCopies(TOKENS + 100, " " + "word".repeat(16)));
    try (TestServer server = TestServer.start("", words, words)) {
      Logger requests = (Logger) LoggerFactory.getLogger("tandem.http.requests");
      ListAppender<ILoggingEvent> lines = new ListAppender<>();
      lines.start();
      requests.addAppender(lines);
      double gapsBefore = server.count("tandem:inter_token_latency_seconds_count");
      try {
        String body = "{\"model\":\"tandem\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":" + TOKENS
            + ",\"stream\":true,\"tandem\":{\"mode\":\"small\"}}";
        try (Socket socket = new Socket()) {
          // A small window, so that the answer's chunks back up into the server rather than into this socket.
          socket.setReceiveBufferSize(4096);
          socket.connect(new InetSocketAddress("127.0.0.1", server.server.port()));
          socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type:"
              + " application/json\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body)
              .getBytes(StandardCharsets.UTF_8));
          // Nothing is read: the session writes on to its end, each token timed as the server takes it from the session
          // (ahead of the socket); only then does the client close.
          eventually("the server took the whole answer from the session",
              () -> server.count("tandem:inter_token_latency_seconds_count") == gapsBefore + TOKENS - 1);
        }
        eventually("the request ended", () -> server.inFlight() == 0);
        String line;
        synchronized (lines) { // the appender writes under its own lock
          line = lines.list.stream().map(ILoggingEvent::getFormattedMessage).findFirst().orElse("{}");
        }
        JsonNode logged = new ObjectMapper().readTree(line);
        assertEquals(TOKENS, logged.path("completion_tokens").asInt(), line);
        assertEquals("length", logged.path("finish_reason").asText(), line);
        assertEquals(TOKENS, server.count("tandem:generation_tokens_total{model=\"small\"}"));
        assertEquals(1.0, server.count("tandem:request_success_total{finished_reason=\"length\"}"));
      } finally {
        requests.detachAppender(lines);
      }
    }
  }
}
