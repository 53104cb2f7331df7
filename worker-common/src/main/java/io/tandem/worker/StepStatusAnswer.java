package io.tandem.worker;

import io.tandem.protocol.worker.WorkerProtocol.Done;
import io.tandem.protocol.worker.WorkerProtocol.GetStepStatus;
import io.tandem.protocol.worker.WorkerProtocol.StepStatus;

/** A worker's answer to {@link GetStepStatus}, either worker's: what it holds, or its last answer sent again. */
final class StepStatusAnswer {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(StepStatusAnswer.class);

  private StepStatusAnswer() {}

  /**
   * The {@link StepStatus} for {@code asked}, whose request the worker {@code held}; a request it
   * finished has its {@link Done} sent again first, from {@code sessions}, so that the step's output
   * is the one the worker wrote (sent again, a step that had streamed up to its reflection point
   * would have drafted on past it: tester52d).
   */
  static StepStatus of(GetStepStatus asked, boolean held, SessionWatch sessions) {
    Done again = held ? null : sessions.lastDone(asked.sessionId(), asked.requestId());
    if (again != null) {
      // Said, so that an operator sees what was lost and recovered (tester52g: only a step sent again was logged); the
      // first may only be late, behind a pause (tester52h), and the session drops the second copy.
      LOG.info("session {}: sending its answer to request {} again: the session had not got it when it asked (lost"
          + " between the nodes, or delayed by a paused node or a backed-up link)", asked.sessionId(), asked.requestId());
      asked.replyTo().tell(again);
    }
    return new StepStatus(asked.requestId(), held, again != null);
  }
}
