package io.tandem.orchestrator.machine;

import io.tandem.protocol.Role;
import io.tandem.protocol.Token;
import io.tandem.protocol.Trace;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs {@link SpeculativeThinking} synchronously against two scripted models. A model's output at
 * position p (counting every committed token after the prompt, injected ones included) is {@code
 * script[p]}, and eos past the script's end. Injected text counts as one token here.
 */
final class ScriptedDriver {
  /** The eos token as a worker reports it; the machine drops its text from the output. */
  static final Token EOS = new Token(-1, "<|im_end|>");
  static final int INJECTED_ID = -2;

  private final List<String> small;
  private final List<String> large;
  private final List<Step.Generate> steps = new ArrayList<>();

  ScriptedDriver(List<String> small, List<String> large) {
    this.small = small;
    this.large = large;
  }

  /** Drives the machine to its end and returns its trace. */
  Trace run(SpeculativeThinking machine) {
    for (int i = 0; i < 100_000; i++) {
      Step step = machine.next();
      if (step instanceof Step.Finish) return machine.trace();
      Step.Generate g = (Step.Generate) step;
      if (g.basePosition() != machine.committed().size()) {
        throw new AssertionError(
            "step at position " + g.basePosition() + " but " + machine.committed().size() + " committed");
      }
      steps.add(g);
      machine.accept(execute(g));
    }
    throw new AssertionError("the machine did not finish in 100000 steps");
  }

  /** Every Generate the machine asked for, in order. */
  List<Step.Generate> steps() {
    return steps;
  }

  /** What a well-behaved worker returns for {@code g}. */
  StepResult execute(Step.Generate g) {
    List<String> script = g.role() == Role.small ? small : large;
    int position = g.basePosition();
    List<Token> injected = new ArrayList<>();
    if (g.inject() != null && g.maxTotalTokens() > 0) {
      injected.add(new Token(INJECTED_ID, g.inject()));
      position++;
    }
    List<Token> generated = new ArrayList<>();
    StringBuilder text = new StringBuilder();
    while (generated.size() < g.maxNewTokens()
        && injected.size() + generated.size() < g.maxTotalTokens()) {
      if (position >= script.size()) {
        generated.add(EOS);
        return new StepResult(injected, generated, true);
      }
      String t = script.get(position);
      generated.add(new Token(position, t));
      text.append(t);
      position++;
      if (g.stopAtTrigger() && g.triggers().stream().anyMatch(tr -> text.indexOf(tr) >= 0)) break;
    }
    return new StepResult(injected, generated, false);
  }
}
