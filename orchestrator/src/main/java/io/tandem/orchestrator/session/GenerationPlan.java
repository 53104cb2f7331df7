package io.tandem.orchestrator.session;

import io.tandem.orchestrator.machine.SpeculativeThinking;
import io.tandem.orchestrator.machine.Step;
import io.tandem.orchestrator.machine.StepResult;
import io.tandem.protocol.Token;
import io.tandem.protocol.Trace;
import java.util.List;

/** What a session drives: the speculative-thinking machine, or one model writing alone. */
public interface GenerationPlan {
  Step next();

  void accept(StepResult result);

  void timeOut();

  void fail(String message);

  boolean finished();

  List<Token> committed();

  Trace trace();

  /** The state machine of the paper as a plan. */
  static GenerationPlan of(SpeculativeThinking m) {
    return new GenerationPlan() {
      @Override public Step next() { return m.next(); }
      @Override public void accept(StepResult r) { m.accept(r); }
      @Override public void timeOut() { m.timeOut(); }
      @Override public void fail(String message) { m.fail(message); }
      @Override public boolean finished() { return m.finished(); }
      @Override public List<Token> committed() { return m.committed(); }
      @Override public Trace trace() { return m.trace(); }
    };
  }
}
