package io.tandem.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

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

    @Override
    public int contextLength() {
      return 4;
    }
  });

  @Test
  void theCountCarriesTheVocabularySize() {
    WorkerProtocol.TokenCount text = StepSync.count(new WorkerProtocol.CountTokens(Prompt.raw("hi"), null, null, null, 0), model);
    assertEquals(100, text.vocabSize());
    assertNull(text.problem());
  }

  @Test
  void aPromptTokenIdOutsideTheVocabularyIsAProblemNamingItAndTheSize() {
    WorkerProtocol.TokenCount ids = StepSync.count(new WorkerProtocol.CountTokens(null, List.of(5, 100), "prompt", null, 0), model);
    assertEquals("prompt[1] is token id 100, outside m's vocabulary of 100 tokens (ids 0 to 99)", ids.problem());
    assertEquals(100, ids.vocabSize());
  }

  /**
   * A prompt of token ids as long as the context is refused on its length, so its text is not
   * decoded (nor sent back across nodes); the ids of {@code /detokenize} are decoded however many.
   */
  @Test
  void aPromptOfTokenIdsOverTheContextIsNotDecodedButDetokenizeIs() {
    int a = model.tokenizer().encode("a")[0];
    List<Integer> five = List.of(a, a, a, a, a);
    WorkerProtocol.TokenCount prompt = StepSync.count(new WorkerProtocol.CountTokens(null, five, "prompt", null, 0), model);
    assertEquals(5, prompt.tokens());
    assertNull(prompt.text());
    WorkerProtocol.TokenCount detokenized = StepSync.count(new WorkerProtocol.CountTokens(null, five, "tokens", null, 0), model);
    assertEquals(5, detokenized.tokens());
    assertNotNull(detokenized.text());
    assertEquals("aaa", StepSync.count(new WorkerProtocol.CountTokens(null, List.of(a, a, a), "prompt", null, 0), model).text());
  }

  /**
   * The text of token ids too long for one Artery frame (long tokens: Qwen has one of 128 spaces)
   * is a problem naming its size, which the asker answers with a 400, where Akka dropped the
   * answer and the asker waited for it in vain.
   */
  @Test
  void textTooLongForOneFrameIsAProblemSayingSo() {
    WorkerProtocol.TokenCount fits = new WorkerProtocol.TokenCount(2, "ab", "k", 4, 100, null, null);
    assertSame(fits, StepSync.withinFrame(fits, 1 << 20));
    String spaces = " ".repeat(2 << 20);
    WorkerProtocol.TokenCount tooLong = StepSync.withinFrame(new WorkerProtocol.TokenCount(16384, spaces, "k", 4, 100, null, null),
        1 << 20);
    assertNull(tooLong.text());
    assertEquals("the text of these 16384 token ids is 2097152 bytes, more than one message between the cluster's nodes"
        + " carries (983040 bytes, after akka.remote.artery.advanced.maximum-frame-size); send fewer token ids", tooLong.problem());
  }
}
