package io.tandem.orchestrator.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import io.tandem.protocol.FailureCode;
import io.tandem.protocol.worker.WorkerProtocol;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A step answered with no token and no end of sequence made no progress: the session fails with
 * the model's error, once, rather than asking the same step again without end (tester54b: a
 * remote engine answering "length" and nothing else was asked 11,274 times in 340 s) or finishing
 * as if the answer had ended (a speculative session's 200, finish_reason "stop", no text).
 */
class SessionNoProgressTest {

  @Test
  void aStepWithNoTokenAndNoEndFailsTheSessionOnce() {
    try (World w = new World()) {
      World.ProbedSession session = w.probedSmallSession("stuck-1");
      WorkerProtocol.Generate step = session.firstStep();
      step.replyTo().tell(new WorkerProtocol.Done(step.requestId(), "k", List.of(), List.of(), false, 3, 3, 0, 2_000_000L, 0));
      SessionEvent end = session.end();
      SessionEvent.Failed failed = assertInstanceOf(SessionEvent.Failed.class, end, end.toString());
      assertEquals(FailureCode.MODEL_ERROR, failed.code());
      assertEquals("the small model returned no tokens for a step at position 0", failed.message());
      // Not asked again: anything the worker gets now is the session letting go of it.
      while (true) {
        WorkerProtocol.Command c;
        try {
          c = session.worker().receiveMessage(Duration.ofMillis(500));
        } catch (AssertionError none) {
          break; // nothing more within half a second
        }
        assertEquals(false, c instanceof WorkerProtocol.Generate, "asked again: " + c);
      }
    }
  }
}
