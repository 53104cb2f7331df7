package io.tandem.worker.large;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.DispatcherSelector;
import com.typesafe.config.ConfigFactory;
import io.tandem.inference.Sequence;
import io.tandem.inference.scripted.ScriptedModel;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.protocol.worker.WorkerProtocol.Done;
import io.tandem.protocol.worker.WorkerProtocol.Reply;
import io.tandem.worker.ModelWorker;
import io.tandem.worker.WorkerSettings;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The large worker serves tenants in turn: its queue is the takeover order. */
class LargeWorkerTest {
  static final ActorTestKit kit = ActorTestKit.create(
      ConfigFactory.parseString("akka.actor.provider = local").withFallback(ConfigFactory.load()));
  static final Prompt PROMPT = Prompt.chat(List.of(new ChatMessage("user", "hi")));
  static int workers;

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  /** Holds its first forward pass until released, so that requests pile up behind it. */
  static final class Held extends ScriptedModel {
    final CountDownLatch inPass = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);

    Held() {
      super("held", List.of("Wait", ",", " no"));
    }

    @Override
    public int[] forward(List<Sequence> batch, int maxPrefillTokens) {
      inPass.countDown();
      try {
        release.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return super.forward(batch, maxPrefillTokens);
    }
  }

  /** One sequence a pass, so that replies come in admission order. */
  static ActorRef<WorkerProtocol.Command> worker(Held model, int perTenantQueueLimit) {
    WorkerSettings oneAtATime = new WorkerSettings(1, 100, 1L << 20, true);
    return kit.spawn(LargeWorker.create(() -> model, oneAtATime, perTenantQueueLimit, new CompletableFuture<>()),
        "large" + (++workers), DispatcherSelector.fromConfig(ModelWorker.DISPATCHER));
  }

  static WorkerProtocol.Generate takeover(String tenant, String session, long id, TestProbe<Reply> probe) {
    return new WorkerProtocol.Generate(session, tenant, id, -1, PROMPT, List.of(),
        new WorkerProtocol.Limits(null, 1, 1, false, List.of()), SamplingParams.GREEDY, false, probe.getRef());
  }

  /**
   * Busy tenant's request 0 runs (held) while its requests 1-3 and the quiet tenant's request 9
   * arrive, in that order; then everything runs. The replies, described, in the order they came.
   */
  static List<String> burstThenQuiet(int perTenantQueueLimit) throws Exception {
    Held model = new Held();
    ActorRef<WorkerProtocol.Command> w = worker(model, perTenantQueueLimit);
    TestProbe<Reply> probe = kit.createTestProbe();
    w.tell(takeover("busy", "b0", 0, probe));
    assertTrue(model.inPass.await(10, TimeUnit.SECONDS));
    for (int i = 1; i <= 3; i++) w.tell(takeover("busy", "b" + i, i, probe));
    w.tell(takeover("quiet", "q", 9, probe));
    model.release.countDown();
    return probe.receiveSeveralMessages(5).stream().map(LargeWorkerTest::describe).toList();
  }

  @Test
  void aQuietTenantsTakeoverGoesBeforeTheRestOfABusyTenantsBurst() throws Exception {
    assertEquals(List.of("done 0", "done 1", "done 9", "done 2", "done 3"), burstThenQuiet(100),
        "the quiet tenant waits for one of the busy tenant's, not three");
  }

  @Test
  void aTenantOverItsQueueLimitIsRefusedWhileOthersAreStillTaken() throws Exception {
    assertEquals(List.of("done 0", "rejected 3 TENANT_QUEUE_FULL", "done 1", "done 9", "done 2"), burstThenQuiet(2),
        "two of the busy tenant's may wait; the third is refused, the quiet tenant's is taken");
  }

  private static String describe(Reply r) {
    if (r instanceof WorkerProtocol.Rejected rej) return "rejected " + rej.requestId() + " " + rej.code();
    return (r instanceof Done ? "done " : r.getClass().getSimpleName() + " ") + r.requestId();
  }
}
