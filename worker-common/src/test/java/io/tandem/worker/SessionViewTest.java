package io.tandem.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tandem.inference.scripted.ScriptedModel;
import io.tandem.inference.scripted.ScriptedTokenizer;
import io.tandem.protocol.Chunk;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.Token;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The worker half of the delta/position sync: positions, cuts and rollbacks. */
class SessionViewTest {
  private final ScriptedModel model = new ScriptedModel("s", List.of("a"));

  private SessionView view() {
    return new SessionView("s1", model.newSequence(SamplingParams.GREEDY), new int[] {1, 2});
  }

  private static Chunk chunk(String key, String... texts) {
    return new Chunk(key, java.util.Arrays.stream(texts).map(t -> new Token(ScriptedTokenizer.idOf(t), t)).toList());
  }

  @Test
  void tokensOfTheSameVocabularyAreEachACutPointToRollBackTo() {
    SessionView v = view();
    v.append(chunk(ScriptedTokenizer.KEY, "So", " x", ".\n\n"), model.tokenizer());
    assertEquals(3, v.sessionLength());
    assertEquals(5, v.sequence.length(), "prompt of 2, then one token per session position");

    assertEquals(1, v.truncateTo(1), "rolling back a look-ahead keeps what came before it");
    assertEquals(3, v.sequence.length());
  }

  @Test
  void aReEncodedChunkRollsBackToItsStartBecauseItsInsideIsNoCut() {
    SessionView v = view();
    v.append(chunk(ScriptedTokenizer.KEY, "So"), model.tokenizer());
    v.append(chunk("another-vocabulary", "Wait", ",", " no"), model.tokenizer()); // one scripted token for three positions
    assertEquals(4, v.sessionLength());
    assertEquals(4, v.sequence.length());

    assertEquals(1, v.truncateTo(3), "position 3 lies inside the re-encoded chunk: back to its start");
    assertEquals(3, v.sequence.length());
    assertEquals(1, v.truncateTo(7), "asking for more than is held answers what is held");
  }

  @Test
  void ownTokensAdvanceOnePositionEach() {
    SessionView v = view();
    v.appendOwn(new int[] {ScriptedTokenizer.idOf("x"), ScriptedTokenizer.idOf("y")});
    v.sequence.append(new int[] {ScriptedTokenizer.idOf("z")}); // the model's sampled token
    v.recordOwn(1);
    assertEquals(3, v.sessionLength());
    assertEquals(2, v.truncateTo(2));
    assertEquals(4, v.sequence.length());
  }
}
