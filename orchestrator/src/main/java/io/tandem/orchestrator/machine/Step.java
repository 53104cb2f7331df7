package io.tandem.orchestrator.machine;

import io.tandem.protocol.FinishReason;
import io.tandem.protocol.Role;
import io.tandem.protocol.SpanReason;
import java.util.List;

/** What {@link SpeculativeThinking} wants done next: run one model step, or nothing more. */
public sealed interface Step {

  /**
   * Let {@code role}'s model continue from the first {@code basePosition} committed tokens (always
   * the number committed so far); append {@code inject} first when it is not null; then generate
   * at most {@code maxNewTokens} tokens, with injected plus generated tokens never more than
   * {@code maxTotalTokens} (what is left under max_tokens). With {@code stopAtTrigger}, stop after
   * the token that makes this step's generated text contain one of {@code triggers}. Always stop
   * after an eos token. {@code alwaysKept}: the generated output will be kept whatever it is, so
   * it may be streamed as it arrives; injected text is always kept (help_think_word stays even
   * when the look-ahead after it is dropped).
   */
  record Generate(
      Role role,
      SpanReason reason,
      int basePosition,
      String inject,
      int maxNewTokens,
      int maxTotalTokens,
      boolean stopAtTrigger,
      List<String> triggers,
      boolean alwaysKept)
      implements Step {
    public Generate {
      triggers = List.copyOf(triggers);
    }

    /**
     * Whether the plan can go on without this step ({@link GenerationPlan#skip()}): a takeover
     * (the small model's look-ahead it would replace is there to take instead) and the
     * verification that follows a taken step with a verify keyword (the small model drafts on);
     * not a recap, which the paper's loop schedules by the count of negative steps, nor the
     * large model's begin.
     */
    public boolean optional() {
      return reason == SpanReason.takeover || reason == SpanReason.verify;
    }
  }

  /** The generation is over. */
  record Finish(FinishReason reason) implements Step {}
}
