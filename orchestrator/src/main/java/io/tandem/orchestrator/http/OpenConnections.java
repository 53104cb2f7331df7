package io.tandem.orchestrator.http;

import akka.NotUsed;
import akka.http.javadsl.model.HttpEntities;
import akka.http.javadsl.model.HttpEntity;
import akka.http.javadsl.model.HttpRequest;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.headers.Connection;
import akka.stream.KillSwitches;
import akka.stream.UniqueKillSwitch;
import akka.stream.javadsl.Flow;
import akka.stream.javadsl.Keep;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;

/**
 * The server's open HTTP connections, so that shutdown can close each one itself, gracefully, once
 * its last response has gone out, rather than leave them to {@code ServerBinding.terminate}: akka-http
 * fails a connection it sees as idle at once, and one whose response has just left the handler but
 * is not yet written counts as idle (akka-http issue 3209), so the client got nothing. While the
 * server drains, a response leaves with {@code Connection: close} (akka-http then closes after
 * writing it), and a connection with nothing in flight has its request side completed (akka-http then
 * closes it after what it is still writing). Thread-safe.
 */
final class OpenConnections {
  private final Set<Open> open = ConcurrentHashMap.newKeySet();
  private final BooleanSupplier draining;

  OpenConnections(BooleanSupplier draining) {
    this.draining = draining;
  }

  /** One connection: the requests on it whose response is not yet fully handed to akka-http. */
  private final class Open {
    private int busy;
    private boolean closing;
    private UniqueKillSwitch requests;

    synchronized void received() {
      busy++;
    }

    synchronized void answered() {
      busy--;
    }

    synchronized int busy() {
      return busy;
    }

    /** While draining: closes the connection if nothing is in flight on it; true if it is closing. */
    synchronized boolean closeIfIdle() {
      if (!closing && busy == 0 && requests != null) {
        closing = true;
        requests.shutdown();
      }
      return closing;
    }

    synchronized void closeAfterResponse() {
      closing = true;
    }

    HttpResponse responding(HttpResponse response) {
      if (draining.getAsBoolean()) {
        closeAfterResponse();
        response = response.addHeader(Connection.create("close"));
      }
      HttpEntity entity = response.entity();
      if (!entity.isChunked()) {
        // Every other entity this server sends is strict: handed over whole with the response.
        answered();
        return response;
      }
      // A stream (server-sent events): in flight until its last chunk is handed over.
      return response.withEntity(HttpEntities.createChunked(entity.getContentType(), entity.getDataBytes()
          .watchTermination((m, done) -> {
            done.whenComplete((d, t) -> answered());
            return m;
          })));
    }
  }

  /**
   * {@code handler} as one connection runs it, tracked from its first request to its close.
   *
   * @param handler the connection's request handler (the routes)
   */
  Flow<HttpRequest, HttpResponse, NotUsed> track(Flow<HttpRequest, HttpResponse, ?> handler) {
    Open connection = new Open();
    open.add(connection);
    return Flow.<HttpRequest>create()
        .viaMat(KillSwitches.single(), Keep.right())
        .mapMaterializedValue(sw -> {
          synchronized (connection) {
            connection.requests = sw;
          }
          return NotUsed.getInstance();
        })
        .map(r -> {
          // Whether the server drained when the request came, read before it is counted as in flight:
          // a shutdown that counts it has not refused it (ApiRoutes.RECEIVED_DRAINING).
          boolean receivedDraining = draining.getAsBoolean();
          connection.received();
          return r.addAttribute(ApiRoutes.RECEIVED_DRAINING, receivedDraining);
        })
        .via(handler)
        .map(connection::responding)
        .watchTermination((m, done) -> {
          done.whenComplete((d, t) -> open.remove(connection));
          return m;
        });
  }

  /**
   * While the server drains: closes every connection with nothing in flight, and says whether all
   * are closed but those still answering (none, once every response is written).
   *
   * @return true when no connection is left open
   */
  boolean closeIdle() {
    for (Open c : open) c.closeIfIdle();
    return open.isEmpty();
  }

  /**
   * Requests received whose response is not yet wholly handed to akka-http: those admitted, and
   * those still being read or parsed (a body still coming, a first request on a cold server).
   */
  int requestsInFlight() {
    int n = 0;
    for (Open c : open) n += c.busy();
    return n;
  }

  /** How many connections are open. */
  int count() {
    return open.size();
  }
}
