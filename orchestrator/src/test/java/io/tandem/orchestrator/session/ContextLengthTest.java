package io.tandem.orchestrator.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.tandem.inference.scripted.ScriptedModel;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.FinishReason;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.SamplingParams;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A session that reaches a model's context mid-way ends there with what it has and finish reason
 * {@code length}, never as a failure; a prompt that does not fit at all is still a failure with
 * {@link FailureCode#CONTEXT_LENGTH_EXCEEDED} (the HTTP layer's 400).
 */
class ContextLengthTest {
  private static final ScriptedCase CASE = ScriptedCase.example();

  /** A scripted model that takes at most {@code context} tokens (its prompt is one token). */
  private static ScriptedModel within(String name, List<String> script, int context) {
    return new ScriptedModel(name, script) {
      @Override
      public int contextLength() {
        return context;
      }
    };
  }

  private static SessionRequest request(Mode mode, int maxTokens) {
    return new SessionRequest("ctx-" + mode + "-" + maxTokens, "t", Prompt.chat(List.of(new ChatMessage("user", "Compute."))),
        SamplingParams.GREEDY, maxTokens, CASE.config(), mode, true);
  }

  @Test
  void aSessionThatFillsTheContextEndsWithLengthAndItsText() throws Exception {
    try (World w = new World(ConfigFactory.empty(), new SessionSettings(Duration.ofSeconds(1), Duration.ofMinutes(1), false, 4))) {
      w.worker(Role.small, "small", within("small", CASE.small(), 1 << 20));
      w.worker(Role.large, "large", within("large", CASE.large(), 30));
      StringBuilder streamed = new StringBuilder();
      SessionEvent end = w.run(request(Mode.speculative, 200), d -> streamed.append(d.text())).get(30, TimeUnit.SECONDS);
      SessionEvent.Finished f = assertInstanceOf(SessionEvent.Finished.class, end, end.toString());
      assertEquals(FinishReason.length, f.trace().finishReason());
      // The large model's 30 tokens end it long before max_tokens (the small one may have drafted past them).
      assertTrue(f.usage().completionTokens() >= 29 && f.usage().completionTokens() < 60, f.usage().toString());
      assertEquals(f.trace().text(), streamed.toString(), "what was streamed is the answer");
    }
  }

  @Test
  void aPromptThatDoesNotFitIsStillAFailureWithItsCode() throws Exception {
    try (World w = new World()) {
      w.worker(Role.small, "small", within("small", CASE.small(), 1));
      SessionEvent end = w.run(request(Mode.small, 5), d -> {}).get(30, TimeUnit.SECONDS);
      assertEquals(FailureCode.CONTEXT_LENGTH_EXCEEDED, assertInstanceOf(SessionEvent.Failed.class, end).code());
    }
  }
}
