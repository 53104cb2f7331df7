package io.tandem.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.tandem.inference.scripted.ScriptedModel;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.worker.WorkerProtocol;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A worker's count of a prompt ({@link StepSync#count}) carries its model's vocabulary size, which
 * the HTTP layer checks a request's other token ids ({@code stop_token_ids}) against, and refuses a
 * prompt's token id outside that vocabulary naming the field, the id and the size.
 */
class TokenCountTest {
  /** A model whose token ids are 0 to 99. */
  private final ServedModel model = ServedModel.of(new ScriptedModel("m", List.of("a")) {
    @Override
    public int vocabSize() {
      return 100;
    }
  });

  @Test
  void theCountCarriesTheVocabularySize() {
    WorkerProtocol.TokenCount text = StepSync.count(new WorkerProtocol.CountTokens(Prompt.raw("hi"), null, null, null), model);
    assertEquals(100, text.vocabSize());
    assertNull(text.problem());
  }

  @Test
  void aPromptTokenIdOutsideTheVocabularyIsAProblemNamingItAndTheSize() {
    WorkerProtocol.TokenCount ids = StepSync.count(new WorkerProtocol.CountTokens(null, List.of(5, 100), "prompt", null), model);
    assertEquals("prompt[1] is token id 100, outside m's vocabulary of 100 tokens", ids.problem());
    assertEquals(100, ids.vocabSize());
  }
}
