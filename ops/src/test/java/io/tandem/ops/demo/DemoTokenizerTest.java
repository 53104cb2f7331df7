package io.tandem.ops.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.inference.text.ChatTemplate;
import io.tandem.inference.text.HfTokenizer;
import io.tandem.protocol.ChatMessage;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo tokenizer loads in DJL's Hugging Face tokenizer and round-trips every trace exactly. */
class DemoTokenizerTest {

  @Test
  void tracesAndPromptsRoundTripThroughTheHuggingFaceTokenizer(@TempDir Path dir) throws Exception {
    DemoTokenizer built = DemoTokenizer.build();
    built.write(dir);
    try (HfTokenizer tok = HfTokenizer.load(dir)) {
      SplittableRandom rng = new SplittableRandom(5);
      for (int i = 0; i < 200; i++) {
        SumTask.Problem p = SumTask.problem(99, i);
        for (String text : List.of(SumTask.prompt(p), SumTask.overReflecting(p), SumTask.decisive(p, rng, 0.3, 0.1))) {
          int[] ids = tok.encode(text);
          assertEquals(text, tok.decode(ids));
          assertEquals(DemoTokenizer.pieces(text).size(), ids.length, "one token per piece: " + text);
          for (int id : ids) assertTrue(id != built.id(DemoTokenizer.UNK), "no unknown token in " + text);
        }
      }
    }
  }

  /**
   * The committed pair was trained from the first demo pair's weights, whose embedding rows are
   * indexed by this vocabulary: the task's traces must keep producing exactly its tokens.
   */
  @Test
  void theVocabularyIsTheOneTheCommittedModelsWereTrainedOn(@TempDir Path dir) throws Exception {
    DemoTokenizer.build().write(dir);
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    for (String model : List.of("small", "large")) {
      assertEquals(json.readTree(DemoModels.dir().resolve(model).resolve("tokenizer.json").toFile()).path("model").path("vocab"),
          json.readTree(dir.resolve("tokenizer.json").toFile()).path("model").path("vocab"), model);
    }
  }

  @Test
  void theTriggerIsOneTokenAndWordsKeepTheirLeadingSpace(@TempDir Path dir) throws Exception {
    DemoTokenizer built = DemoTokenizer.build();
    built.write(dir);
    try (HfTokenizer tok = HfTokenizer.load(dir)) {
      int[] ids = tok.encode("= 204.\n\nWait, 1");
      assertArrayEquals(new int[] {built.id("="), built.id(" 2"), built.id("0"), built.id("4"), built.id("."),
          built.id("\n\n"), built.id("Wait"), built.id(","), built.id(" 1")}, ids);
      assertEquals("<unk>", tok.decode(tok.encode("§"), false));
    }
  }

  @Test
  void theChatTemplateWrapsTheUserMessageInRoleTokens(@TempDir Path dir) throws Exception {
    DemoTokenizer.build().write(dir);
    ChatTemplate template = ChatTemplate.load(dir);
    String rendered = template.render(List.of(new ChatMessage("user", "Compute 1 + 2.")), true);
    assertEquals("<|user|>Compute 1 + 2.<|assistant|>", rendered);
    try (HfTokenizer tok = HfTokenizer.load(dir)) {
      assertTrue(tok.eosTokenId().isPresent());
      assertTrue(tok.isSpecial(tok.encode("<|user|>")[0]));
    }
  }

  @Test
  void problemsAndTracesAreDeterministicPerSeedAndEndInTheTrueSum() {
    for (int i = 0; i < 300; i++) {
      SumTask.Problem p = SumTask.problem(3, i);
      assertEquals(p.question(), SumTask.problem(3, i).question());
      String trace = SumTask.decisive(p, new SplittableRandom(i), SumTask.SLIP, SumTask.MISREAD);
      assertEquals(trace, SumTask.decisive(p, new SplittableRandom(i), SumTask.SLIP, SumTask.MISREAD));
      assertTrue(trace.endsWith("The final answer is \\boxed{" + p.answer() + "}."), trace);
      assertTrue(trace.contains("\n\nLet me verify in reverse order: "));
      assertTrue(SumTask.overReflecting(p).endsWith("The final answer is \\boxed{" + p.answer() + "}."));
    }
    assertFalse(SumTask.problem(3, 0).question().equals(SumTask.problem(4, 0).question()));
  }
}
