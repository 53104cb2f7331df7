package io.tandem.orchestrator.http;

import akka.http.javadsl.model.AttributeKey;
import java.util.ArrayList;
import java.util.List;

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

  /** The client is gone: runs every hook once. */
  void closed() {
    runHooks(true);
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
