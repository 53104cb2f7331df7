package io.tandem.orchestrator.machine;

import io.tandem.protocol.Token;
import java.util.List;

/**
 * What a model did for a {@link Step.Generate}: the tokens of the injected text, the generated
 * tokens (an eos token last, with {@code eos} true, when the model ended).
 */
public record StepResult(List<Token> injected, List<Token> generated, boolean eos) {
  /** Null lists count as empty. */
  public StepResult {
    injected = injected == null ? List.of() : List.copyOf(injected);
    generated = generated == null ? List.of() : List.copyOf(generated);
  }
}
