package io.tandem.orchestrator.http;

import akka.NotUsed;
import akka.http.javadsl.model.HttpEntities;
import akka.http.javadsl.model.HttpEntity;
import akka.http.javadsl.model.HttpRequest;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.headers.Connection;
import akka.stream.Attributes;
import akka.stream.FlowShape;
import akka.stream.Inlet;
import akka.stream.Outlet;
import akka.stream.javadsl.Flow;
import akka.stream.stage.AbstractInHandler;
import akka.stream.stage.AbstractOutHandler;
import akka.stream.stage.AsyncCallback;
import akka.stream.stage.GraphStage;
import akka.stream.stage.GraphStageLogic;
import io.tandem.protocol.text.Plural;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * The server's open HTTP connections, tracked for two ends.
 *
 * <p>Connections with nothing in flight are closed after {@code tandem.http.keep-alive-timeout},
 * and, once the open ones come within an eighth of akka-http's {@code max-connections}, those that
 * have had nothing in flight for {@link #LEAST_IDLE} or more, longest idle first, as nginx reuses
 * keep-alive connections when short of them: a tester's 1,030 connections that sent nothing (or
 * their request head a byte a second), or sat in clients' pools, held them for akka-http's {@code
 * idle-timeout} (an hour), and past the limit new connections waited unanswered. A connection is
 * closed by completing its stream of requests from within that stream ({@link Gate}), so that the
 * decision and a request's arrival never overlap: a request that has reached the routes is always
 * answered (closing from another thread cut requests already on their way: bare 500s, and 400s
 * saying the client had left). A client that sends on a connection as it closes gets a closed
 * connection, as with any server that closes idle keep-alive connections.
 *
 * <p>And shutdown closes each one itself, gracefully, once its last response has gone out, rather
 * than leave them to {@code ServerBinding.terminate}: akka-http fails a connection it sees as idle
 * at once, and one whose response has just left the handler but is not yet written counts as idle
 * (akka-http issue 3209), so the client got nothing. While the server drains, a response leaves
 * with {@code Connection: close} (akka-http then closes after writing it), and a connection with
 * nothing in flight has its request side completed (akka-http then closes it after what it is still
 * writing). Thread-safe.
 */
final class OpenConnections {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TandemHttpServer.class);
  /** How often closing connections near the limit, or reaching it, is logged at most. */
  private static final long LIMIT_LOG_NANOS = TimeUnit.MINUTES.toNanos(1);
  /**
   * Near the limit, how long a connection must have had nothing in flight to be closed: a client
   * that has just connected is about to send its request.
   */
  static final Duration LEAST_IDLE = Duration.ofSeconds(2);

  /** Runs a task after a delay; returns what cancels it. */
  interface Timers {
    Runnable after(Duration delay, Runnable task);
  }

  private final Set<Open> open = ConcurrentHashMap.newKeySet();
  private final BooleanSupplier draining;
  private final Duration keepAlive;
  private final Timers timers;
  private final int maxConnections;
  private final AtomicLong limitLogged = new AtomicLong(System.nanoTime() - LIMIT_LOG_NANOS);
  /** Connections closed near the limit since the last line that said so (counted as they close). */
  private final AtomicInteger closedNearLimit = new AtomicInteger();
  /** Connections asked to close near the limit whose gate has not yet decided. */
  private final AtomicInteger askedNearLimit = new AtomicInteger();
  /** Whether a look for connections to close near the limit is scheduled. */
  private final AtomicBoolean lookScheduled = new AtomicBoolean();
  /** Whether a report of the connections closed near the limit is scheduled. */
  private final AtomicBoolean reportScheduled = new AtomicBoolean();

  /**
   * @param keepAlive how long a connection with nothing in flight stays open ({@link
   *     io.tandem.protocol.config.ConfigSection#INFINITE}: until its client closes it or the limit nears)
   * @param timers runs the keep-alive timeouts and the looks for room near the limit
   * @param maxConnections akka-http's {@code akka.http.server.max-connections}
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
    /** Whether the request in flight is HTTP/1.0, whose streamed answer (no chunked encoding there) ends with the connection. */
    private volatile boolean http10;
    /** Asks the connection's {@link Gate} to close it if nothing is in flight; null until it runs. */
    private AsyncCallback<NotUsed> close;
    /** Cancels the keep-alive timer running while nothing is in flight. */
    private Runnable idleTimer = () -> {};
    /** When nothing was last in flight ({@link System#nanoTime}); Long.MAX_VALUE while something is. */
    private long idleSince = System.nanoTime();

    /** A request came (called by the gate, before it passes the request on). */
    synchronized void received() {
      busy++;
      idleSince = Long.MAX_VALUE;
      idleTimer.run();
    }

    synchronized void answered() {
      if (--busy == 0) idle();
    }

    synchronized long idleSince() {
      return idleSince;
    }

    synchronized int busy() {
      return busy;
    }

    /** Nothing is in flight: the connection closes after {@code keepAlive} unless a request comes. */
    synchronized void idle() {
      idleSince = System.nanoTime();
      idleTimer.run();
      if (!keepAlive.equals(io.tandem.protocol.config.ConfigSection.INFINITE))
        idleTimer = timers.after(keepAlive, () -> askToClose(false));
      lookForRoomLater();
    }

    /** Whether a close asked near the limit waits for the gate's decision (it is not asked again meanwhile). */
    private boolean askedNearLimit;

    /**
     * Asks the gate to close the connection if nothing is in flight when it looks.
     *
     * @param nearLimit whether the ask is to make room near the limit (counted, and not repeated
     *     while it waits)
     * @return false if it cannot be asked (something in flight, closing, not started, already asked)
     */
    synchronized boolean askToClose(boolean nearLimit) {
      if (closing || busy != 0 || close == null || askedNearLimit) return false;
      if (nearLimit) {
        askedNearLimit = true;
        OpenConnections.this.askedNearLimit.incrementAndGet();
      }
      close.invoke(NotUsed.getInstance());
      return true;
    }

    /**
     * On the gate's own thread: whether the connection closes now (nothing in flight); then it does.
     * One asked near the limit counts as asked until it is gone from the open ones ({@link #gone}), so
     * that a look meanwhile does not ask another in its place.
     */
    synchronized boolean closesNow() {
      if (closing || busy != 0) {
        if (askedNearLimit) {
          askedNearLimit = false;
          OpenConnections.this.askedNearLimit.decrementAndGet();
        }
        return false;
      }
      closing = true;
      idleTimer.run();
      if (askedNearLimit) closedNearLimit();
      return true;
    }

    /** The connection is closed and no longer among the open ones. */
    synchronized void gone() {
      idleTimer.run();
      if (askedNearLimit) {
        askedNearLimit = false;
        OpenConnections.this.askedNearLimit.decrementAndGet();
      }
    }

    /** While draining: closes the connection if nothing is in flight on it. */
    void closeIfIdle() {
      askToClose(false);
    }

    synchronized void closeAfterResponse() {
      closing = true;
    }

    /** Whether an answer on it said {@code Connection: close}, or its gate closed it: nothing more is written on it. */
    synchronized boolean closesAfterResponse() {
      return closing;
    }

    HttpResponse responding(HttpResponse response) {
      // A 413 leaves the rest of its body unread (a compressed one is refused by what it decodes to,
      // before it has all come): the connection cannot carry another request, and a client that
      // reused it got nothing back, so the answer says so, as akka-http's own 413 does.
      boolean closes = draining.getAsBoolean() || response.status().intValue() == 413;
      if (closes && response.getHeader(Connection.class).isEmpty()) {
        closeAfterResponse();
        response = response.addHeader(Connection.create("close"));
      }
      HttpEntity entity = response.entity();
      if (!entity.isChunked()) {
        // Every other entity this server sends is strict: handed over whole with the response.
        answered();
        return response;
      }
      // A stream (server-sent events): in flight until its last chunk is handed over. To an HTTP/1.0 request it is written to
      // the connection's close, so a request pipelined behind it is not served either (tester54g: it ran, unanswered).
      if (http10) closeAfterResponse();
      return response.withEntity(HttpEntities.createChunked(entity.getContentType(), entity.getDataBytes()
          .watchTermination((m, done) -> {
            done.whenComplete((d, t) -> answered());
            return m;
          })));
    }
  }

  /**
   * A connection's requests as they come: each counted in flight before it is passed on, and the
   * stream completed (akka-http then closes the connection after what it is still writing) when
   * asked and nothing is in flight. Both happen on the stream's own thread, never at once.
   */
  /**
   * Marks a request pipelined behind an answer that closed its connection: not to be run, its answer
   * never written ({@link Gate}).
   */
  static final akka.http.javadsl.model.AttributeKey<Boolean> NOT_SERVED =
      akka.http.javadsl.model.AttributeKey.create("tandem-not-served", Boolean.class);

  /**
   * Whether {@code r} says its answer closes the connection, as akka-http reads it (and so closes it): HTTP/1.1 with
   * {@code Connection: close}, HTTP/1.0 without {@code keep-alive} (which wins there over a {@code close} beside it;
   * tester54g: {@code Keep-Alive, close} was kept alive by akka-http and its next request refused here).
   */
  static boolean lastOnConnection(HttpRequest r) {
    java.util.Set<String> tokens = new java.util.HashSet<>();
    for (akka.http.javadsl.model.HttpHeader h : r.getHeaders())
      if (h.is("connection"))
        for (String t : h.value().split(",")) tokens.add(t.trim().toLowerCase(java.util.Locale.ROOT));
    if (r.protocol().equals(akka.http.javadsl.model.HttpProtocols.HTTP_1_0)) return !tokens.contains("keep-alive");
    return tokens.contains("close");
  }

  private static final class Gate extends GraphStage<FlowShape<HttpRequest, HttpRequest>> {
    private final Inlet<HttpRequest> in = Inlet.create("Gate.in");
    private final Outlet<HttpRequest> out = Outlet.create("Gate.out");
    private final FlowShape<HttpRequest, HttpRequest> shape = FlowShape.of(in, out);
    private final Open connection;
    private final OpenConnections all;

    Gate(Open connection, OpenConnections all) {
      this.connection = connection;
      this.all = all;
    }

    @Override
    public FlowShape<HttpRequest, HttpRequest> shape() {
      return shape;
    }

    @Override
    public GraphStageLogic createLogic(Attributes attributes) {
      return new GraphStageLogic(shape) {
        {
          setHandler(in, new AbstractInHandler() {
            @Override
            public void onPush() {
              HttpRequest r = grab(in);
              if (connection.closesAfterResponse()) {
                // Pipelined behind an answer that said Connection: close (the server draining, or a 413):
                // akka-http writes nothing after that answer, so this one is neither run nor logged as
                // answered; its client reads the close and sends it again (RFC 9112, section 9.3.2).
                LOG.info("a request pipelined behind an answer that closed its connection was not served: {} {}{}",
                    r.method().value(), r.getUri().path(), r.getHeader("X-Request-Id").map(h -> " (X-Request-Id "
                        + io.tandem.protocol.text.Clipped.of(h.value()) + ")").orElse(""));
                r.discardEntityBytes(materializer());
                // Still passed on, for an answer the routes give at once and akka-http never writes: akka-http wants one
                // answer per request, and a request swallowed here was its ERROR, "Internal server error, sending 500
                // response", with a stack trace, for a 500 that never went out either (tester54c).
                connection.received();
                push(out, r.addAttribute(NOT_SERVED, true));
                return;
              }
              // Whether the server drained when the request came, read before it is counted as in flight:
              // a shutdown that counts it has not refused it (ApiRoutes.RECEIVED_DRAINING).
              boolean receivedDraining = all.draining.getAsBoolean();
              connection.received();
              // The client's last request on the connection (Connection: close, or HTTP/1.0 without keep-alive): its answer
              // closes it, and a request pipelined behind it is not served either (RFC 9112, section 9.6; tester54c: one was
              // run, then cancelled as the connection closed, and logged as a client gone).
              connection.http10 = r.protocol().equals(akka.http.javadsl.model.HttpProtocols.HTTP_1_0);
              if (lastOnConnection(r)) connection.closeAfterResponse();
              push(out, r.addAttribute(ApiRoutes.RECEIVED_DRAINING, receivedDraining));
            }
          });
          setHandler(out, new AbstractOutHandler() {
            @Override
            public void onPull() {
              pull(in);
            }
          });
        }

        @Override
        public void preStart() {
          AsyncCallback<NotUsed> close = createAsyncCallback(x -> {
            if (connection.closesNow()) completeStage();
          });
          synchronized (connection) {
            connection.close = close;
            connection.idle();
          }
        }
      };
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
    lookForRoom();
    return Flow.<HttpRequest>create()
        .via(new Gate(connection, this))
        .via(handler)
        .map(connection::responding)
        .watchTermination((m, done) -> {
          done.whenComplete((d, t) -> {
            open.remove(connection);
            connection.gone();
          });
          return NotUsed.getInstance();
        });
  }

  /** The open connections are within an eighth of the limit. */
  private boolean nearLimit() {
    return open.size() >= maxConnections - Math.max(1, maxConnections / 8);
  }

  /**
   * Near the limit, asks the connections idle for {@link #LEAST_IDLE} or more to close, longest idle
   * first, as many as bring the open ones (less those already asked) back under the near-limit
   * mark; when others are idle but not yet for that long, looks again once they are (past the limit
   * akka-http accepts no connection whose coming would look).
   */
  private void lookForRoom() {
    if (!nearLimit()) return;
    int headroom = Math.max(1, maxConnections / 8);
    int wanted = Math.min(headroom, open.size() - askedNearLimit.get() - (maxConnections - headroom) + 1);
    long now = System.nanoTime();
    long oldEnough = now - LEAST_IDLE.toNanos();
    List<Open> idle = new ArrayList<>();
    boolean younger = false;
    for (Open c : open) {
      long since = c.idleSince();
      if (since == Long.MAX_VALUE) continue;
      if (since <= oldEnough) idle.add(c);
      else younger = true;
    }
    idle.sort(Comparator.comparingLong(Open::idleSince));
    int asked = 0;
    for (Open c : idle) {
      if (asked >= wanted) break;
      if (c.askToClose(true)) asked++;
    }
    if (younger && asked < wanted) lookForRoomLater();
    // At the limit with nothing idle to close, not even soon: said, as its closes would be.
    if (asked == 0 && !younger && count() >= maxConnections) report();
  }

  /** A connection asked to close near the limit closed: said in the next report, a second from now at the soonest. */
  private void closedNearLimit() {
    closedNearLimit.incrementAndGet();
    if (reportScheduled.compareAndSet(false, true))
      timers.after(Duration.ofSeconds(1), () -> {
        reportScheduled.set(false);
        report();
      });
  }

  /**
   * Logs, at most once a minute, the connections open and those closed near the limit since the
   * last such line (the closes of a minute without a line are in the next one).
   */
  private void report() {
    long now = System.nanoTime();
    long last = limitLogged.get();
    if (now - last < LIMIT_LOG_NANOS || !limitLogged.compareAndSet(last, now)) return;
    int closed = closedNearLimit.getAndSet(0);
    LOG.warn("tandem serve: closed {} idle for {} s or more since the last such line, to keep the open connections ({}"
        + " now) under akka.http.server.max-connections ({}): at the limit new connections wait unanswered until one"
        + " closes; raise the limit if clients need more connections at once", Plural.count(closed, "connection"),
        LEAST_IDLE.toSeconds(), count(), maxConnections);
  }

  /** Near the limit, looks for room once the connections idle now have been idle for {@link #LEAST_IDLE}. */
  private void lookForRoomLater() {
    if (nearLimit() && lookScheduled.compareAndSet(false, true))
      timers.after(LEAST_IDLE, () -> {
        lookScheduled.set(false);
        lookForRoom();
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
