package io.tandem.inference.scripted;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.inference.Sequence;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.SamplingParams;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ScriptedModelTest {
  private final ScriptedModel model = new ScriptedModel("s", List.of("So", " x", ".\n\n", "Wait"));

  private int next(Sequence s) {
    return model.forward(List.of(s), Integer.MAX_VALUE)[0];
  }

  private String text(int id) {
    return model.tokenizer().decode(new int[] {id});
  }

  @Test
  void writesTheScriptedTokenAtEachPositionAfterThePromptAndEosPastTheEnd() {
    Sequence s = model.newSequence(SamplingParams.GREEDY);
    s.append(model.renderChat(List.of(new ChatMessage("user", "anything at all"))));
    assertEquals("So", text(next(s)));
    assertEquals(" x", text(next(s)));
    assertEquals(".\n\n", text(next(s)));
    assertEquals("Wait", text(next(s)));
    int eos = next(s);
    assertTrue(model.eosTokenIds().contains(eos));
    assertEquals("", text(eos));
  }

  @Test
  void injectedTextIsOneTokenAndShiftsTheScriptByOne() {
    Sequence s = model.newSequence(SamplingParams.GREEDY);
    s.append(model.tokenizer().encode("a long prompt"));
    next(s); // "So" at 0
    int[] recap = model.tokenizer().encode("Let me check whether there are some wrong steps:");
    assertEquals(1, recap.length);
    s.append(recap); // position 1
    assertEquals(".\n\n", text(next(s))); // position 2
  }

  @Test
  void truncatingRollsThePositionBack() {
    Sequence s = model.newSequence(SamplingParams.GREEDY);
    s.append(new int[] {ScriptedTokenizer.idOf("prompt")});
    next(s);
    next(s);
    next(s);
    s.truncate(2);
    assertEquals(" x", text(next(s)));
  }

  @Test
  void idsAreTheSameForTheSameTextInEveryModel() {
    ScriptedModel other = new ScriptedModel("o", List.of("Wait", "So"));
    assertArrayEquals(model.tokenizer().encode("Wait"), other.tokenizer().encode("Wait"));
    assertEquals(model.tokenizer().key(), other.tokenizer().key());
  }

  @Test
  void aScriptFileWithoutTokensIsAClearError(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("s.json");
    Files.writeString(f, "{\"toks\": []}");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ScriptedModel.load(f));
    assertTrue(e.getMessage().contains("no \"tokens\" array"), e.getMessage());
    Files.writeString(f, "{\"tokens\": [\"a\", \"\"]}");
    e = assertThrows(IllegalArgumentException.class, () -> ScriptedModel.load(f));
    assertTrue(e.getMessage().contains("tokens[1] is empty"), e.getMessage());
    // Half an emoji is no text (tester53e: it went out as "?").
    Files.writeString(f, "{\"tokens\": [\"a\", \"\\ud83d\"]}");
    e = assertThrows(IllegalArgumentException.class, () -> ScriptedModel.load(f));
    assertTrue(e.getMessage().endsWith(": tokens[1] holds a lone UTF-16 surrogate, which no text can hold; give a character"
        + " whole in one token"), e.getMessage());
    Files.writeString(f, "{\"tokens\": [\"a\", \"\\ud83d\\ude42\"]}");
    assertEquals(2, ScriptedModel.load(f).scriptLength(), "a pair is one character");
  }

  @Test
  void theLatencyModelChargesDecodeStepsPrefillTokensAndBatchGrowth() {
    LatencyModel l = new LatencyModel(30, 0.5, 0.1);
    assertEquals(30_000_000L, l.forwardNanos(1, 0));
    assertEquals(30_000_000L * 17 / 10 + 50_000_000L, l.forwardNanos(8, 100));
    assertEquals(0, l.forwardNanos(0, 0));
    assertThrows(IllegalArgumentException.class, () -> new LatencyModel(-1, 0, 0));
  }
}
