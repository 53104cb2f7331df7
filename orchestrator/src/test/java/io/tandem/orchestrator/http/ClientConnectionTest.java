package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import akka.http.javadsl.model.HttpProtocols;
import akka.http.javadsl.model.HttpRequest;
import akka.http.javadsl.model.headers.RawHeader;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * When the end of a connection's requests means that its client left: not after a request that
 * asked for the connection to close after its answer (Python's urllib sends {@code Connection:
 * close}), whose client still reads that answer; a stream cut there ended without its last events.
 */
class ClientConnectionTest {

  private static int hooksRunAfter(HttpRequest last, Throwable ended) {
    ClientConnection c = new ClientConnection();
    AtomicInteger ran = new AtomicInteger();
    c.onClose(ran::incrementAndGet);
    c.requested(last);
    c.requestsEnded(ended);
    return ran.get();
  }

  @Test
  void theRequestsEndingAfterARequestThatAskedToCloseIsNotTheClientLeaving() {
    HttpRequest close = HttpRequest.POST("/v1/chat/completions").addHeader(RawHeader.create("Connection", "close"));
    HttpRequest http10 = HttpRequest.POST("/v1/chat/completions").withProtocol(HttpProtocols.HTTP_1_0);
    assertEquals(0, hooksRunAfter(close, null));
    assertEquals(0, hooksRunAfter(http10, null));
    assertEquals(1, hooksRunAfter(close, new RuntimeException("connection reset")), "a failed connection is the client gone");
  }

  @Test
  void theRequestsEndingOnAConnectionKeptAliveIsTheClientLeaving() {
    assertEquals(1, hooksRunAfter(HttpRequest.POST("/v1/chat/completions"), null));
    assertEquals(1, hooksRunAfter(HttpRequest.POST("/v1/chat/completions").withProtocol(HttpProtocols.HTTP_1_0)
        .addHeader(RawHeader.create("Connection", "Keep-Alive")), null));
    assertEquals(1, hooksRunAfter(HttpRequest.POST("/").addHeader(RawHeader.create("Connection", "keep-alive, Upgrade")), null));
  }
}
