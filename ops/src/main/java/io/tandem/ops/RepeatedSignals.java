package io.tandem.ops;

import io.tandem.protocol.text.Seconds;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * What a node says to a second SIGTERM (or Ctrl-C) while it drains. The JVM's own handler runs the
 * shutdown hooks (Akka's CoordinatedShutdown, which drains the node) on the first signal; a later one
 * calls {@code System.exit} again, which blocks behind the first without a word, so an operator who
 * signals again sees nothing happen. This handler hands every signal to the JVM's handler as it came
 * until the node is shutting down (the exit status stays 143 for SIGTERM, 130 for Ctrl-C), and
 * answers each signal after that with one line: the node is already shutting down, how long its
 * drain may still take (its deadlines, or the {@code service-requests-done} phase's timeout, which Akka enforces), and
 * that SIGKILL stops it at once. Installed with {@code sun.misc.Signal} (module {@code
 * jdk.unsupported}), and only over the JVM's own handler: under {@code -Xrs}, or where the JVM does
 * not let the signal be handled, the node keeps the JVM's behaviour.
 */
final class RepeatedSignals implements SignalHandler {
  private static final Logger LOG = LoggerFactory.getLogger(RepeatedSignals.class);
  /** The signals that stop a node, as the JVM's handler exits for them (status 128 + the signal's number). */
  private static final String[] STOPPING = {"TERM", "INT"};

  /** The JVM's handler, set as soon as installing this one returns it. */
  private volatile SignalHandler jvm;
  private final BooleanSupplier stopping;
  private final Duration drain;
  /** What sets {@link #drain}, as the line names it: a setting's key. */
  private final String drainSetBy;
  /** Whether model workers wait for their pass in flight after the drain. */
  private final boolean workers;
  private final LongSupplier nanos;
  /** When the first signal (of any of {@link #STOPPING}: they share it) was passed on; 0 before. */
  private final AtomicLong firstAt;
  /** The name of that first signal ({@code TERM}, {@code INT}), shared as {@link #firstAt} is. */
  private final java.util.concurrent.atomic.AtomicReference<String> firstName;

  /**
   * @param jvm the JVM's handler of the signal, which starts the shutdown
   * @param stopping whether the node is shutting down already (CoordinatedShutdown has begun, for
   *     whatever reason)
   * @param drain how long the drain may take from the first signal at most, and what sets that
   * @param nanos the clock, as {@link System#nanoTime}
   * @param firstAt when the first stopping signal was passed on (0: none yet), shared by the handlers of
   *     SIGTERM and SIGINT, so that a Ctrl-C after a SIGTERM says how long the drain has run too
   * @param firstName which signal that was, shared likewise ("SIGINT after SIGTERM", not "again")
   */
  RepeatedSignals(SignalHandler jvm, BooleanSupplier stopping, TandemNode.DrainLimit drain, LongSupplier nanos,
      AtomicLong firstAt, java.util.concurrent.atomic.AtomicReference<String> firstName) {
    this.jvm = jvm;
    this.stopping = stopping;
    this.drain = drain.duration();
    this.drainSetBy = drain.setBy();
    this.workers = drain.workers();
    this.nanos = nanos;
    this.firstAt = firstAt;
    this.firstName = firstName;
  }

  /**
   * Handles SIGTERM and SIGINT in this process as the class says; a signal the JVM does not handle
   * itself is left as it is. Returns whether any was installed.
   */
  static boolean install(BooleanSupplier stopping, TandemNode.DrainLimit drain) {
    boolean any = false;
    AtomicLong firstAt = new AtomicLong();
    java.util.concurrent.atomic.AtomicReference<String> firstName = new java.util.concurrent.atomic.AtomicReference<>();
    for (String name : STOPPING) {
      try {
        Signal signal = new Signal(name);
        RepeatedSignals handler = new RepeatedSignals(null, stopping, drain, System::nanoTime, firstAt, firstName);
        SignalHandler previous = Signal.handle(signal, handler);
        if (previous == SignalHandler.SIG_DFL || previous == SignalHandler.SIG_IGN) {
          // No handler of the JVM's to pass signals to (-Xrs): the signal's own action, as before.
          handler.jvm = previous == SignalHandler.SIG_IGN ? s -> {} : s -> Runtime.getRuntime().halt(128 + s.getNumber());
          Signal.handle(signal, previous);
          continue;
        }
        handler.jvm = previous;
        any = true;
      } catch (IllegalArgumentException | UnsupportedOperationException notHere) {
        LOG.debug("SIG{} keeps the JVM's handler: {}", name, notHere.getMessage());
      }
    }
    return any;
  }

  @Override
  public void handle(Signal signal) {
    long now = nanos.getAsLong();
    if (!stopping.getAsBoolean() && firstAt.compareAndSet(0, now == 0 ? 1 : now)) {
      firstName.set(signal.getName());
      SignalHandler to;
      // Only a signal in the instant between installing this handler and its return can see none yet.
      while ((to = jvm) == null) Thread.onSpinWait();
      to.handle(signal);
      return;
    }
    long first = firstAt.get();
    String left = "";
    if (first != 0) {
      Duration since = Duration.ofMillis((now - first) / 1_000_000);
      Duration rest = drain.minus(since);
      left = " for " + Seconds.of(Duration.ofMillis(since.toMillis() / 100 * 100)) + " s; its drain ends within "
          + Seconds.of(Duration.ofSeconds(Math.max(0, (rest.toMillis() + 999) / 1000))) + " s at the latest"
          + " (" + drainSetBy + ")"
          // The wait after it (tester59e: "within 0 s" while a worker still waited half a minute for its pass).
          + (workers ? ", and a model's forward pass still running then holds the exit up to "
              + io.tandem.worker.ModelWorker.STOP_WAIT_SECONDS + " s more (a pass cannot be stopped midway)" : "");
    }
    // Without a first signal of its own, the node was stopping for another reason (removed from the cluster).
    LOG.warn("SIG{}{}: the node is already shutting down{}; send SIGKILL (kill -9 {}) to stop it at once",
        signal.getName(), first == 0 ? "" : firstName.get() == null || signal.getName().equals(firstName.get()) ? " again"
            : " after SIG" + firstName.get(), left, ProcessHandle.current().pid());
  }
}
