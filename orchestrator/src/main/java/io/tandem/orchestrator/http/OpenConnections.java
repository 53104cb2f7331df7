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
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;

/**
 * The server's open HTTP connections, tracked for two ends. Connections with no request in flight
 * are closed after {@code tandem.http.keep-alive-timeout}, and the longest idle of them at once when
 * the open ones near akka-http's {@code max-connections}: a tester's 1,030 connections that sent
 * nothing (or their request head a byte a second), or sat in clients' pools, held them for akka-http's
 * {@code idle-timeout} (an hour), and past the limit new connections waited unanswered. And shutdown closes each one itself, gracefully, once
 * its last response has gone out, rather than leave them to {@code ServerBinding.terminate}: akka-http
 * fails a connection it sees as idle at once, and one whose response has just left the handler but
 * is not yet written counts as idle (akka-http issue 3209), so the client got nothing. While the
 * server drains, a response leaves with {@code Connection: close} (akka-http then closes after
 * writing it), and a connection with nothing in flight has its request side completed (akka-http then
 * closes it after what it is still writing). Thread-safe.
 */
final class OpenConnections {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TandemHttpServer.class);
  /** How often reaching the connection limit is logged at most. */
  private static final long LIMIT_LOG_NANOS = java.util.concurrent.TimeUnit.MINUTES.toNanos(1);

  /** Runs a task after a delay; returns what cancels it. */
  interface Timers {
    Runnable after(Duration delay, Runnable task);
  }

  private final Set<Open> open = ConcurrentHashMap.newKeySet();
  private final BooleanSupplier draining;
  private final Duration keepAlive;
  private final Timers timers;
  private final int maxConnections;
  private final java.util.concurrent.atomic.AtomicLong limitLogged = new java.util.concurrent.atomic.AtomicLong(System.nanoTime() - LIMIT_LOG_NANOS);

  /**
   * @param keepAlive how long a connection with nothing in flight stays open
   * @param maxConnections akka-http's {@code akka.http.server.max-connections}, whose reaching is logged
   */
  OpenConnections(BooleanSupplier draining, Duration keepAlive, Timers timers, int maxConnections) {
    this.draining = draining;
    this.keepAlive = keepAlive;
    this.timers = timers;
    this.maxConnections = maxConnections;
  }

  /** One connection: the requests on it whose response is not yet fully handed to akka-http. */
  private final class Open {
    private int busy;
    private boolean closing;
    private UniqueKillSwitch requests;
    /** Cancels the keep-alive timer running while nothing is in flight. */
    private Runnable idleTimer = () -> {};
    /** When nothing was last in flight ({@link System#nanoTime}); Long.MAX_VALUE while something is. */
    private long idleSince = System.nanoTime();

    synchronized void received() {
      busy++;
      idleSince = Long.MAX_VALUE;
      idleTimer.run();
    }

    synchronized long idleSince() {
      return idleSince;
    }

    synchronized void answered() {
      if (--busy == 0) idle();
    }

    /** Nothing is in flight: the connection closes after {@code keepAlive} unless a request comes. */
    synchronized void idle() {
      idleSince = System.nanoTime();
      idleTimer.run();
      idleTimer = timers.after(keepAlive, this::closeIfStillIdle);
    }

    /** Closes the connection if nothing is in flight on it; true if it closed now. */
    synchronized boolean closeIfStillIdle() {
      if (closing || busy != 0 || requests == null) return false;
      closing = true;
      requests.shutdown();
      return true;
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
    makeRoomNearLimit();
    return Flow.<HttpRequest>create()
        .viaMat(KillSwitches.single(), Keep.right())
        .mapMaterializedValue(sw -> {
          synchronized (connection) {
            connection.requests = sw;
            connection.idle();
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
          done.whenComplete((d, t) -> {
            open.remove(connection);
            synchronized (connection) {
              connection.idleTimer.run();
            }
          });
          return m;
        });
  }

  /**
   * Near akka-http's limit (within an eighth of it), closes the connections idle longest, as many as
   * that eighth, as nginx reuses keep-alive connections when it runs short: past the limit, new
   * connections wait unanswered. Logged at most once a minute, and so is reaching the limit with
   * nothing idle to close.
   */
  private void makeRoomNearLimit() {
    int headroom = Math.max(1, maxConnections / 8);
    int n = open.size();
    if (n < maxConnections - headroom) return;
    List<Open> idle = new ArrayList<>();
    for (Open c : open) if (c.idleSince() != Long.MAX_VALUE) idle.add(c);
    idle.sort(Comparator.comparingLong(Open::idleSince));
    int closed = 0;
    for (Open c : idle) {
      if (closed >= headroom) break;
      if (c.closeIfStillIdle()) closed++;
    }
    long now = System.nanoTime();
    long last = limitLogged.get();
    if ((closed > 0 || n >= maxConnections) && now - last >= LIMIT_LOG_NANOS && limitLogged.compareAndSet(last, now))
      LOG.warn("tandem serve: {} connections open, near akka.http.server.max-connections ({}): closed {} idle ones;"
          + " at the limit new connections wait unanswered until one closes. Raise the limit if clients need more at once",
          n, maxConnections, closed);
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
