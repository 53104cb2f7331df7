package io.tandem.orchestrator.machine;

import io.tandem.protocol.Token;
import io.tandem.protocol.Trace;
import java.util.List;

/**
 * What a session drives: the speculative-thinking machine ({@link SpeculativeThinking}), or one
 * model writing alone. The session asks for the {@link #next()} step, has a worker run it, and
 * hands back the result; the plan alone decides what is kept.
 */
public interface GenerationPlan {

  /** The step to run now: the same one until {@link #accept} or {@link #skip}; a {@link Step.Finish} once finished. */
  Step next();

  /** The result of the current {@link Step.Generate}; ignored once finished. */
  void accept(StepResult result);

  /**
   * Go on without the current step, which must be {@link Step.Generate#optional() optional}, as
   * if it had not been planned; counted in {@code takeovers_skipped}.
   *
   * @throws IllegalStateException when the current step is not optional
   */
  default void skip() {
    throw new IllegalStateException(getClass().getSimpleName() + " plans no optional steps");
  }

  /** The generation's time-out passed: finish with {@code timeout} and what is committed. */
  void timeOut();

  /** Something failed outside the plan (a worker, the transport): finish with {@code error}. */
  void fail(String message);

  /**
   * Why the plan failed by itself, or null: a step that made no progress (no token, no end of
   * sequence), which asked again would ask the same question forever. Its trace then finishes with
   * {@code error}, and the session fails the request with this message.
   */
  default String errorMessage() {
    return null;
  }

  /** Whether {@link #next()} returns a {@link Step.Finish}. */
  boolean finished();

  /** The output so far (tokens after the prompt), in order. */
  List<Token> committed();

  /** The output's text, spans and counters; the finish reason is null until finished. */
  Trace trace();
}
