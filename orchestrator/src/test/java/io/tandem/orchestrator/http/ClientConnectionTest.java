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

  /** A request's timeout as akka-http gives it, recording what it is set to. */
  private static final class RecordedTimeout implements akka.http.scaladsl.TimeoutAccess {
    final java.util.List<scala.concurrent.duration.Duration> updates = new java.util.ArrayList<>();

    @Override
    public scala.concurrent.duration.Duration timeout() {
      return scala.concurrent.duration.Duration.create(1, "hour");
    }

    @Override
    public void updateTimeout(scala.concurrent.duration.Duration timeout) {
      updates.add(timeout);
    }

    @Override
    public void updateHandler(scala.Function1<akka.http.scaladsl.model.HttpRequest, akka.http.scaladsl.model.HttpResponse> h) {}

    @Override
    public void update(scala.concurrent.duration.Duration timeout,
        scala.Function1<akka.http.scaladsl.model.HttpRequest, akka.http.scaladsl.model.HttpResponse> h) {}

    @Override
    public void updateHandler(akka.japi.Function<akka.http.javadsl.model.HttpRequest, akka.http.javadsl.model.HttpResponse> h) {}

    @Override
    public void update(scala.concurrent.duration.Duration timeout,
        akka.japi.Function<akka.http.javadsl.model.HttpRequest, akka.http.javadsl.model.HttpResponse> h) {}
  }

  /**
   * A connection whose answers end (its client reset it) turns off the request timeout of each
   * request it never answered: akka-http 10.5 keeps that timeout scheduled, and with it the
   * connection's whole stream, for tandem.http.request-timeout (an hour; tester43a measured some 30
   * KB kept per reset). An answered request's timeout akka-http cancelled itself.
   */
  @Test
  void theTimeoutsOfRequestsNeverAnsweredAreTurnedOffWhenTheAnswersEnd() {
    ClientConnection c = new ClientConnection();
    RecordedTimeout first = new RecordedTimeout();
    RecordedTimeout second = new RecordedTimeout();
    c.requested(HttpRequest.POST("/v1/chat/completions").addHeader(akka.http.javadsl.model.headers.TimeoutAccess.create(first)));
    c.requested(HttpRequest.POST("/v1/chat/completions").addHeader(akka.http.javadsl.model.headers.TimeoutAccess.create(second)));
    c.answered();
    c.answersEnded();
    assertEquals(java.util.List.of(), first.updates, "answered: akka-http cancelled its timeout");
    assertEquals(java.util.List.of(scala.concurrent.duration.Duration.Inf()), second.updates);
    c.answersEnded();
    assertEquals(1, second.updates.size(), "once");
  }
}
