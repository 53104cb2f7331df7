package io.tandem.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.DispatcherSelector;
import io.tandem.inference.TextTokenizer;
import io.tandem.inference.scripted.ScriptedModel;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.worker.WorkerProtocol;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * An asker on another node that heard nothing of a count asks again on the same reply path (the
 * count or its answer may have been lost between the nodes: the orchestrator's {@code WorkerView}).
 * A worker still counting the prompt answers once, without counting it twice; one that had answered
 * counts it again and answers again.
 */
class CountAskedAgainTest {
  private static final ActorTestKit KIT = ActorTestKit.create();

  @AfterAll
  static void stop() {
    KIT.shutdownTestKit();
  }

  /** A scripted model whose tokenizer counts its encodes and holds each until {@code go} opens. */
  private static final class HeldModel extends ScriptedModel {
    final AtomicInteger encodes = new AtomicInteger();
    final CountDownLatch begun = new CountDownLatch(1);
    final CountDownLatch go = new CountDownLatch(1);

    HeldModel() {
      super("held", List.of("a"));
    }

    @Override
    public TextTokenizer tokenizer() {
      TextTokenizer scripted = super.tokenizer();
      return new TextTokenizer() {
        @Override
        public String key() {
          return scripted.key();
        }

        @Override
        public int[] encode(String text) {
          encodes.incrementAndGet();
          begun.countDown();
          try {
            if (!go.await(30, TimeUnit.SECONDS)) throw new IllegalStateException("never let go");
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return scripted.encode(text);
        }

        @Override
        public String decode(int[] ids) {
          return scripted.decode(ids);
        }

        @Override
        public boolean isSpecial(int id) {
          return scripted.isSpecial(id);
        }
      };
    }
  }

  @Test
  void aCountAskedAgainWhileItIsCountedIsAnsweredOnceAndAskedAfterItsAnswerIsCountedAgain() throws Exception {
    HeldModel model = new HeldModel();
    ActorRef<WorkerProtocol.Command> worker = KIT.spawn(ModelWorker.create(Role.large, () -> model, WorkerSettings.defaults(),
        () -> new SchedulerTest.ArrivalOrder(16)), "held-worker",
        DispatcherSelector.fromConfig(ModelWorker.DISPATCHER));
    TestProbe<WorkerProtocol.TokenCount> asker = KIT.createTestProbe();
    WorkerProtocol.CountTokens count = new WorkerProtocol.CountTokens(Prompt.raw("a a"), null, null, asker.getRef(), 30_000);
    worker.tell(count);
    assertEquals(true, model.begun.await(30, TimeUnit.SECONDS), "the count began");
    worker.tell(count);
    // The worker takes messages in order: its stats answered, it has taken the second ask too, while
    // the first count still holds (else the count could end first and the ask be a new one).
    TestProbe<WorkerProtocol.WorkerStats> stats = KIT.createTestProbe();
    worker.tell(new WorkerProtocol.GetStats(stats.getRef()));
    stats.receiveMessage(Duration.ofSeconds(30));
    model.go.countDown();
    assertEquals(null, asker.receiveMessage(Duration.ofSeconds(30)).problem());
    asker.expectNoMessage(Duration.ofMillis(500));
    assertEquals(1, model.encodes.get(), "counted once");

    // Its answer lost on the way, the asker asks again: counted again, and answered.
    worker.tell(count);
    assertEquals(null, asker.receiveMessage(Duration.ofSeconds(30)).problem());
    assertEquals(2, model.encodes.get());
  }
}
