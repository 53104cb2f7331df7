package io.tandem.orchestrator.session;

import static org.junit.jupiter.api.Assertions.assertEquals;

import akka.actor.testkit.typed.javadsl.TestProbe;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.Token;
import io.tandem.protocol.worker.WorkerProtocol;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A session's end says how long its steps waited in workers' queues (each worker's {@code
 * Done.queueNanos}), which the HTTP layer gives {@code tandem:request_queue_time_seconds}, as vLLM's
 * {@code request_queue_time_seconds}.
 */
class SessionQueueTimeTest {

  @Test
  void theFinishedSessionSaysHowLongItsStepWaitedInItsWorkersQueue() {
    try (World w = new World()) {
      TestProbe<WorkerProtocol.Command> worker = w.kit.createTestProbe();
      TestProbe<WorkerDirectory.Command> directory = w.kit.createTestProbe();
      TestProbe<SessionEvent> client = w.kit.createTestProbe();
      SessionRequest request = new SessionRequest("queued-1", "t", Prompt.chat(List.of(new ChatMessage("user", "Hi."))),
          SamplingParams.GREEDY, 100, ScriptedCase.example().config(), Mode.small, false);
      SessionSettings settings = new SessionSettings(Duration.ofSeconds(1), Duration.ofMinutes(1), false, 4, 2, false,
          Duration.ofMillis(100), null, false);
      w.kit.spawn(SessionActor.create(request, client.getRef(), directory.getRef(), settings));
      directory.expectMessageClass(WorkerDirectory.WatchNodes.class);
      WorkerDirectory.GetWorkers asked = directory.expectMessageClass(WorkerDirectory.GetWorkers.class);
      asked.replyTo().tell(new WorkerDirectory.Workers(asked.role(), Set.of(worker.getRef())));
      WorkerProtocol.Generate step = worker.expectMessageClass(WorkerProtocol.Generate.class);
      long waited = 1_500_000_000L;
      step.replyTo().tell(new WorkerProtocol.Done(step.requestId(), "k", List.of(), List.of(new Token(1, "Hello.")), true,
          3, 3, waited, 2_000_000L, 0));
      SessionEvent end;
      do {
        end = client.receiveMessage(Duration.ofSeconds(10));
      } while (end instanceof SessionEvent.Delta);
      assertEquals(waited, ((SessionEvent.Finished) end).queueNanos(), "the step's wait in its worker's queue: " + end);
    }
  }
}
