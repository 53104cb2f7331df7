package io.tandem.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.DispatcherSelector;
import io.tandem.inference.Sequence;
import io.tandem.inference.scripted.ScriptedModel;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.worker.WorkerProtocol;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * A worker stopped during a long forward pass is not done stopping until the pass has ended and its
 * model is closed: the actor system's termination, after which the JVM exits, waits for it, since an
 * exit beside a pass still in libtorch crashed (tester59d: SIGSEGV in oneDNN after SIGTERM, the
 * worker having waited 8 s for a pass of long prefills that took longer).
 */
class StopAfterPassTest {
  private static final ActorTestKit KIT = ActorTestKit.create();

  @AfterAll
  static void stop() {
    KIT.shutdownTestKit();
  }

  /** A scripted model whose first pass takes {@code PASS} (longer than the worker's wait once was). */
  private static final class SlowModel extends ScriptedModel {
    static final Duration PASS = Duration.ofMillis(9_500);
    final CountDownLatch begun = new CountDownLatch(1);
    final AtomicBoolean passing = new AtomicBoolean();
    final AtomicBoolean closedDuringPass = new AtomicBoolean();
    final CountDownLatch closed = new CountDownLatch(1);

    SlowModel() {
      super("slow", List.of("a", "b", "c"));
    }

    @Override
    public int[] forward(List<Sequence> batch, int maxPrefillTokens) {
      passing.set(true);
      begun.countDown();
      try {
        Thread.sleep(PASS.toMillis()); // the pass itself: a stand-in for one in native code, which nothing interrupts
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      try {
        return super.forward(batch, maxPrefillTokens);
      } finally {
        passing.set(false);
      }
    }

    @Override
    public void close() {
      closedDuringPass.set(passing.get());
      closed.countDown();
    }
  }

  @Test
  void theWorkerStopsOnlyOnceItsPassHasEndedAndItsModelIsClosed() throws Exception {
    SlowModel model = new SlowModel();
    ActorRef<WorkerProtocol.Command> worker = KIT.spawn(ModelWorker.create(Role.large, () -> model, WorkerSettings.defaults(),
        () -> new SchedulerTest.ArrivalOrder(16)), "slow-worker", DispatcherSelector.fromConfig(ModelWorker.DISPATCHER));
    TestProbe<WorkerProtocol.Reply> probe = KIT.createTestProbe();
    worker.tell(new WorkerProtocol.Generate("s", "t", 1, -1, Prompt.raw("a b"), List.of(),
        new WorkerProtocol.Limits(null, 2, 8, false, List.of()), SamplingParams.GREEDY, false, probe.getRef(), null));
    assertTrue(model.begun.await(30, TimeUnit.SECONDS), "the pass began");
    long t0 = System.nanoTime();
    KIT.stop(worker, Duration.ofSeconds(ModelWorker.STOP_WAIT_SECONDS + 10));
    Duration stopping = Duration.ofNanos(System.nanoTime() - t0);
    assertEquals(0, model.closed.getCount(), "the model was closed before the worker was stopped (" + stopping.toMillis() + " ms)");
    assertEquals(false, model.closedDuringPass.get(), "the model was closed after its pass, not beside it");
  }

  /** Akka's last phase, after which the JVM exits whatever still runs, lasts longer than a worker waits for its pass. */
  @Test
  void theActorSystemsLastPhaseOutlastsTheWorkersWait() {
    Duration phase = com.typesafe.config.ConfigFactory.load().getDuration("akka.coordinated-shutdown.phases.actor-system-terminate.timeout");
    assertTrue(phase.compareTo(Duration.ofSeconds(ModelWorker.STOP_WAIT_SECONDS)) > 0, phase.toString());
  }
}
