package io.tandem.orchestrator.session;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tandem.protocol.Token;
import io.tandem.protocol.worker.WorkerProtocol;
import java.util.List;
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
      World.ProbedSession session = w.probedSmallSession("queued-1");
      WorkerProtocol.Generate step = session.firstStep();
      long waited = 1_500_000_000L;
      step.replyTo().tell(new WorkerProtocol.Done(step.requestId(), "k", List.of(), List.of(new Token(1, "Hello.")), true,
          3, 3, waited, 2_000_000L, 0));
      SessionEvent end = session.end();
      assertEquals(waited, ((SessionEvent.Finished) end).queueNanos(), "the step's wait in its worker's queue: " + end);
    }
  }
}
