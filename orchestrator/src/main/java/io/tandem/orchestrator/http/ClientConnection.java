package io.tandem.orchestrator.http;

import akka.http.javadsl.model.AttributeKey;
import akka.http.javadsl.model.HttpProtocols;
import akka.http.javadsl.TimeoutAccess;
import akka.http.javadsl.model.HttpRequest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One client's HTTP connection, as the requests on it see it: what to do when it closes. The
 * server tags each request with its connection (an attribute), and runs the hooks when the client
 * stops sending (it closed the socket, or the connection failed), so that a non-streaming request,
 * which writes nothing until its end, still notices its client left. Thread-safe.
 */
final class ClientConnection {
  /** The request attribute that carries it. */
  static final AttributeKey<ClientConnection> KEY = AttributeKey.create("tandem-client-connection", ClientConnection.class);

  /** For requests that came without one (never on the server's own connections). */
  static final ClientConnection NONE = new ClientConnection();

  private final List<Runnable> hooks = new ArrayList<>();
  private boolean closed;
  /** Whether the latest request asked the server to close the connection after its answer. */
  private volatile boolean lastRequestCloses;
  /** The request timeouts of the requests on the connection not yet answered, oldest first (answers go out in order). */
  private final ArrayDeque<TimeoutAccess> unanswered = new ArrayDeque<>();

  /**
   * Runs {@code hook} when the connection closes (at once if it has); the returned action forgets
   * the hook again (a request that ended normally, on a connection kept alive for more).
   */
  Runnable onClose(Runnable hook) {
    synchronized (this) {
      if (!closed) {
        hooks.add(hook);
        return () -> forget(hook);
      }
    }
    hook.run();
    return () -> {};
  }

  private synchronized void forget(Runnable hook) {
    hooks.remove(hook);
  }

  /** Set once a request on the connection was refused for headers that ran together, its answer closing the connection. */
  private volatile boolean refusingTheRest;

  /** The connection closes after the current answer: any request read behind it is not to be run. */
  void refuseTheRest() {
    // NONE stands for no connection at all and is shared: never marked (every served request carries its own).
    if (this != NONE) refusingTheRest = true;
  }

  /** Whether an earlier request on the connection was refused so ({@link #refuseTheRest}). */
  boolean refusingTheRest() {
    return refusingTheRest;
  }

  /** Whether the client is gone (its connection closed, or it stopped sending after a keep-alive request). */
  synchronized boolean isClosed() {
    return closed;
  }

  /** The client is gone: runs every hook once. */
  void closed() {
    runHooks(true);
  }

  /**
   * A request came on the connection: whether it asks the server to close the connection after the
   * answer ({@code Connection: close}, or HTTP/1.0 without {@code Connection: keep-alive}: RFC 9112,
   * section 9.3).
   */
  void requested(HttpRequest request) {
    String connection = request.getHeader("Connection").map(h -> h.value().toLowerCase(Locale.ROOT)).orElse("");
    boolean close = tokens(connection).contains("close")
        || request.protocol().equals(HttpProtocols.HTTP_1_0) && !tokens(connection).contains("keep-alive");
    lastRequestCloses = close;
    request.getHeader(akka.http.javadsl.model.headers.TimeoutAccess.class).ifPresent(h -> {
      synchronized (this) {
        unanswered.addLast(h.timeoutAccess());
      }
    });
  }

  /** The oldest request not yet answered was answered (its response left the routes). */
  synchronized void answered() {
    unanswered.pollFirst();
  }

  /**
   * The connection's stream of answers ended: cancels the request timeout of every request it
   * never answered (its client reset the connection while the request ran). akka-http 10.5's
   * {@code RequestTimeoutSupport} cancels a request's timeout only when its answer passes, and has
   * no {@code postStop} (pekko-http fixed it, apache/pekko-http#1284): each such request's
   * scheduled timeout kept the connection's whole stream, its request and this connection in memory
   * for {@code tandem.http.request-timeout}, an hour (tester43a: some 30 KB per reset, 75 resets a
   * second filled the heap).
   */
  void answersEnded() {
    List<TimeoutAccess> left;
    synchronized (this) {
      left = new ArrayList<>(unanswered);
      unanswered.clear();
    }
    for (TimeoutAccess t : left) t.updateTimeout(scala.concurrent.duration.Duration.Inf());
  }

  private static List<String> tokens(String header) {
    List<String> out = new ArrayList<>();
    for (String t : header.split(",")) out.add(t.trim());
    return out;
  }

  /**
   * The stream of requests on the connection ended ({@code failure} null: normally). That is the
   * client leaving, except where its last request asked for the connection to close after the
   * answer: akka-http then ends the requests once it has read that one, while the client still
   * reads the answer (a stream's client that leaves is noticed when its answer's stream is cancelled).
   */
  void requestsEnded(Throwable failure) {
    if (failure == null && lastRequestCloses) return;
    closed();
  }

  /**
   * The request in flight was given up on (akka-http answered it with its request timeout) while the
   * connection stays open: runs the hooks of what is in flight, as if its client had left.
   */
  void abandoned() {
    runHooks(false);
  }

  private void runHooks(boolean close) {
    List<Runnable> run;
    synchronized (this) {
      if (closed) return;
      closed = close;
      run = new ArrayList<>(hooks);
      hooks.clear();
    }
    run.forEach(Runnable::run);
  }
}
