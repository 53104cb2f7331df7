package io.tandem.orchestrator.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.tandem.inference.scripted.ScriptedModel;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.ChatTemplateArgs;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.Role;
import io.tandem.worker.WorkerSettings;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A large model that cannot render a chat request (a checkpoint without a chat template) fails a
 * speculative chat session as the client's mistake (a 400 that says so), as soon as its first
 * prefill ahead is refused: before the small model has written anything, not at the first takeover.
 */
class LargeModelWithoutChatTemplateTest {
  private static final ScriptedCase CASE = ScriptedCase.example();

  /** A scripted model without a chat template, refusing chat as a Hugging Face checkpoint without one does. */
  private static final class BaseModel extends ScriptedModel {
    BaseModel(List<String> tokens) {
      super("base-large", tokens);
    }

    @Override
    public boolean hasChatTemplate() {
      return false;
    }

    @Override
    public int[] renderChat(List<ChatMessage> messages, ChatTemplateArgs args) {
      throw new IllegalArgumentException("base-large has no chat template; send a raw prompt instead");
    }
  }

  @Test
  void theSessionFailsWithTheModelsOwnWordsBeforeTheSmallModelWrites() throws Exception {
    SessionSettings settings = new SessionSettings(Duration.ofSeconds(1), Duration.ofMinutes(1), false, 4).withPrefillAhead(true);
    try (World w = new World(ConfigFactory.empty(), settings)) {
      // The small model holds its first pass until the test opens it: nothing is written before the refusal.
      GatedModel small = new GatedModel("small", CASE.small(), 0);
      w.worker(Role.small, "small", small, WorkerSettings.defaults());
      w.worker(Role.large, "large", new BaseModel(CASE.large()), WorkerSettings.defaults());
      // Listed before the session starts: its first prefill ahead then goes out before the small model writes.
      w.awaitListed(Role.large, 1);
      AtomicInteger streamed = new AtomicInteger();
      CompletableFuture<SessionEvent> end = w.run(w.request(CASE.config(), true), d -> streamed.addAndGet(d.tokens().size()));
      SessionEvent e = end.get(30, TimeUnit.SECONDS);
      small.open.countDown();
      SessionEvent.Failed failed = assertInstanceOf(SessionEvent.Failed.class, e, e.toString());
      assertEquals(FailureCode.INVALID_REQUEST, failed.code(), failed.toString());
      assertEquals("the large model cannot take this request: base-large has no chat template; send a raw prompt instead",
          failed.message());
      assertEquals(0, streamed.get(), "nothing written before it");
      assertTrue(!failed.code().retryable());
    }
  }
}
