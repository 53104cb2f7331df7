package io.tandem.orchestrator.machine;

import io.tandem.protocol.Author;
import io.tandem.protocol.Span;
import io.tandem.protocol.SpanReason;
import io.tandem.protocol.config.SpeculativeConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/** Small helpers for hand-written traces. */
final class Scripts {
  static final int MAX_TOKENS = 100;

  private Scripts() {}

  /** A script: the model's token at each position. */
  static List<String> tokens(String... tokens) {
    return Arrays.asList(tokens);
  }

  /** A script of {@code length} filler tokens "-", with the given position/text pairs set. */
  static List<String> at(int length, Object... positionsAndTexts) {
    List<String> script = new ArrayList<>();
    for (int i = 0; i < length; i++) script.add("-");
    for (int i = 0; i < positionsAndTexts.length; i += 2) {
      script.set((Integer) positionsAndTexts[i], (String) positionsAndTexts[i + 1]);
    }
    return script;
  }

  /** The paper's defaults with max_target_tokens 3 (short enough to follow by hand), then {@code edit}. */
  static SpeculativeConfig config(Consumer<SpeculativeConfig.Builder> edit) {
    SpeculativeConfig.Builder b = SpeculativeConfig.paperDefaults().toBuilder();
    b.maxTargetTokens = 3;
    edit.accept(b);
    return b.build();
  }

  static SpeculativeThinking machine(SpeculativeConfig config) {
    return new SpeculativeThinking(config, MAX_TOKENS, () -> 0L);
  }

  static Span span(Author author, SpanReason reason, int start, int end, String text) {
    return new Span(author, reason, start, end, text);
  }
}
